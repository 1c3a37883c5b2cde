"""The QR code of a receipt as a PNG: its bytes (``check_qr_code_img_url``) and as a ``data:``
URI (``check_qr_code_img_b64`` of the status answer).

The symbol comes from zxing-cpp (C++; error correction level M, the mask chosen by the
standard's penalty rules, a 4-module quiet zone), 4 pixels per module. zxing-cpp rather
than segno: segno chooses the mask in pure Python, about 6 ms of CPU per code on the
development machine, against 0.1 ms here, and every fiscalized receipt whose status is
read needs one. The PNG itself is written with the standard library: a bilevel image (1
bit per pixel, greyscale: 0 dark, 1 light), one zlib stream (PNG spec, chapters 11–12).
Each row of modules is written once (filter 0) and repeated with the Up filter (zeros),
the stream has a small window: about 60 µs per image (0.25 ms with a row at a time and
``zlib.compress``; 0.35 ms with a byte per pixel), and about 360 bytes of PNG. Pillow
would be a large dependency for those few lines; the tests read the PNG back with Pillow.
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
#: A pixel byte as the digit of its bit: ``0`` (dark) stays 0, anything else is light.
_BIT_DIGITS = bytes(0x31 if i else 0x30 for i in range(256))
#: A pixel byte as the hex digit of four pixels: ``0`` (dark) is ``0``, light is ``f``.
_NIBBLE_DIGITS = bytes(0x66 if i else 0x30 for i in range(256))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bilevel(width: int, height: int, pixels: bytes, scale: int = 1) -> bytes:
    """A 1-bit greyscale PNG of an image given row by row (``width * height`` bytes, 0 for
    dark, anything else light), each pixel drawn as a ``scale`` × ``scale`` square."""
    if len(pixels) != width * height:
        raise ValueError(f"{len(pixels)} pixel bytes for a {width}x{height} image")
    if scale < 1:
        raise ValueError("scale must be at least 1")
    out_width = width * scale
    row_bytes = (out_width + 7) // 8
    # A row is written once with filter 0 (None) and repeated ``scale - 1`` times with
    # filter 2 (Up: each byte minus the one above), i.e. as zeros (PNG spec, 9.2).
    repeat = (b"\x02" + bytes(row_bytes)) * (scale - 1)
    if scale == 4:
        # Four pixels are one hex digit: the whole image in one C call, a row per fromhex.
        digits = pixels.translate(_NIBBLE_DIGITS).decode("ascii")
        pad = "f" * (row_bytes * 2 - width)
        rows = [b"\x00" + bytes.fromhex(digits[i : i + width] + pad) + repeat for i in range(0, width * height, width)]
    else:
        # The whole image as binary digits, widened to ``scale`` digits per pixel; each
        # row's digits as one big-endian integer.
        bits = pixels.translate(_BIT_DIGITS).decode("ascii")
        if scale > 1:
            bits = bits.replace("0", "d").replace("1", "1" * scale).replace("d", "0" * scale)
        padding = "1" * (row_bytes * 8 - out_width)  # the bits after the last pixel of a row
        rows = [
            b"\x00" + int(bits[i : i + out_width] + padding, 2).to_bytes(row_bytes, "big") + repeat
            for i in range(0, len(bits), out_width)
        ]
    header = struct.pack(">IIBBBBB", out_width, height * scale, 1, 0, 0, 0, 0)  # 1-bit greyscale, no interlace
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", _deflate(b"".join(rows))) + _chunk(b"IEND", b"")


def _deflate(data: bytes) -> bytes:
    """One zlib stream. A 512-byte window and the smallest state (``memLevel`` 2): for an
    image of a few kilobytes of short, repeating rows it compresses as well as the default
    (often better), and ``zlib.compress`` spends most of its time setting up its 256 KiB
    of state (measured: about 30 µs per QR image instead of 85)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 9, 2)
    return z.compress(data) + z.flush()


@functools.lru_cache(maxsize=1024)
def qr_png(text: str) -> bytes:
    """A PNG of the QR code of ``text`` (``check_qr_code_img_url`` serves it)."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=True)  # a pixel per module: 0 dark, 255 light
    return png_bilevel(image.shape[1], image.shape[0], bytes(memoryview(image)), SCALE)


@functools.lru_cache(maxsize=4096)
def qr_png_data_uri(text: str) -> str:
    """A PNG of the QR code of ``text`` as ``data:image/png;base64,…``."""
    return "data:image/png;base64," + base64.b64encode(qr_png(text)).decode("ascii")
