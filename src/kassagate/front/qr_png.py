"""The QR code of a receipt as a PNG ``data:`` URI (``check_qr_code_img_b64``, front.md §6).

The symbol comes from zxing-cpp (C++; error correction level M, the mask chosen by the
standard's penalty rules, a 4-module quiet zone), 4 pixels per module. zxing-cpp rather
than segno: segno chooses the mask in pure Python, about 6 ms of CPU per code on the
development machine, against 0.3 ms here, and every fiscalized receipt whose status is
read needs one. The PNG itself is written with the standard library: an 8-bit greyscale
image, filter 0 on every row, one zlib stream at level 6 (PNG spec, chapters 11–12;
level 9 takes ten times as long on these images and comes out larger). Pillow would be a
large dependency for those few lines; the tests read the PNG back with Pillow.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib

import zxingcpp

#: Pixels per QR module.
SCALE = 4
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_gray8(width: int, height: int, pixels: bytes) -> bytes:
    """A PNG of an 8-bit greyscale image given row by row (``width * height`` bytes)."""
    if len(pixels) != width * height:
        raise ValueError(f"{len(pixels)} pixel bytes for a {width}x{height} image")
    raw = b"".join(b"\x00" + pixels[y * width : (y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


@functools.lru_cache(maxsize=4096)
def qr_png_data_uri(text: str) -> str:
    """A PNG of the QR code of ``text`` as ``data:image/png;base64,…``."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=SCALE, add_quiet_zones=True)
    height, width = image.shape[0], image.shape[1]
    png = png_gray8(width, height, bytes(memoryview(image)))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
