"""``check_qr_code_img_b64``: a standard PNG (read back with Pillow) whose QR code (read
with zxing-cpp's reader) is exactly the receipt's QR string."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from kassagate.core.qr import build_qr
from kassagate.front.qr_png import SCALE, png_bilevel, qr_png_data_uri
from support.profiles import examples

PREFIX = "data:image/png;base64,"


def read_back(uri: str) -> tuple[Image.Image, str]:
    assert uri.startswith(PREFIX)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(PREFIX):], validate=True)))
    image.load()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} QR codes in the image"
    return image, found[0].text


@settings(max_examples=examples(60), deadline=None)
@given(
    when=st.datetimes(min_value=dt.datetime(2017, 1, 1), max_value=dt.datetime(2040, 12, 31)),
    total=st.integers(0, 10**12),
    fd=st.integers(1, 2**32 - 1),
    fp=st.integers(0, 2**32 - 1),
    sign=st.sampled_from([1, 2, 3, 4]),
)
def test_png_reads_back_as_the_qr_string(when: dt.datetime, total: int, fd: int, fp: int, sign: int) -> None:
    text = build_qr(when=when, total=total, fn_serial="9999078900006825", fd=fd, fp=fp, sign=sign)
    image, decoded = read_back(qr_png_data_uri(text))
    assert decoded == text
    assert image.format == "PNG" and image.mode == "1"
    # a square image: whole modules of SCALE pixels, a light quiet zone all round
    assert image.width == image.height and image.width % SCALE == 0
    assert image.getpixel((0, 0)) == 255 and image.getpixel((image.width - 1, image.height - 1)) == 255


@settings(max_examples=examples(100), deadline=None)
@given(
    width=st.integers(1, 23),
    height=st.integers(1, 9),
    scale=st.integers(1, 5),
    data=st.data(),
)
def test_png_bilevel_round_trip(width: int, height: int, scale: int, data: st.DataObject) -> None:
    pixels = data.draw(st.binary(min_size=width * height, max_size=width * height))
    image = Image.open(io.BytesIO(png_bilevel(width, height, pixels, scale)))
    image.load()
    assert image.size == (width * scale, height * scale) and image.mode == "1"
    for y in range(height * scale):
        for x in range(width * scale):
            light = pixels[(y // scale) * width + x // scale] != 0
            assert image.getpixel((x, y)) == (255 if light else 0), (x, y)


def test_png_bilevel_size_check() -> None:
    with pytest.raises(ValueError, match="pixel bytes"):
        png_bilevel(3, 5, bytes(14))
    with pytest.raises(ValueError, match="scale"):
        png_bilevel(3, 5, bytes(15), 0)
