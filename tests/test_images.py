"""The image pipeline against hostile and ordinary uploads. Every file is generated here."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
import zlib
from collections.abc import Callable
from io import BytesIO

import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw, PngImagePlugin

from assistant.errors import ImageError, InputError
from assistant.images import (
    ACCEPTED_FORMATS,
    DECODE_CONCURRENCY,
    DECODE_SLOTS,
    LONG_EDGE,
    MAX_PIXELS,
    PreparedImage,
    prepare_image,
)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
SECRETS = (b"SecretCam", b"SN-0042-SECRET", b"SECRET-DATUM", b"secret-comment", b"secret-xmp")
NOT_ACCEPTED = "This file is not a PNG, JPEG, WebP or GIF image."
DAMAGED = "This image file is damaged or incomplete."


# --- making files ---------------------------------------------------------------------------


def encode(image: Image.Image, format_name: str, **options: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def halves(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    image = Image.new("RGB", size, left)
    ImageDraw.Draw(image).rectangle((size[0] // 2, 0, size[0], size[1]), fill=right)
    return image


def noisy(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    bands = [Image.effect_noise(size, 60 + 10 * i) for i in range(len(mode))]
    return Image.merge(mode, bands)


def screenshot_like(size: tuple[int, int] = (300, 120)) -> Image.Image:
    image = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    for row in range(0, size[1], 14):
        draw.text((4, row), "Traceback (most recent call last): KeyError 'x'", fill=(200, 30, 30))
    return image


def exif_with_secrets(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.BodySerialNumber] = "SN-0042-SECRET"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSMapDatum] = "SECRET-DATUM"
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def with_metadata(format_name: str) -> bytes:
    """An image carrying EXIF (camera, serial, GPS), a comment, XMP and an ICC profile."""
    image = screenshot_like((64, 48)) if format_name != "JPEG" else noisy((64, 48))
    exif = exif_with_secrets().tobytes()
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret-xmp</x:xmpmeta>"
    if format_name == "JPEG":
        return encode(
            image, "JPEG", exif=exif, comment=b"secret-comment", xmp=xmp, icc_profile=srgb_icc()
        )
    if format_name == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "secret-comment")
        text.add_itxt("XML:com.adobe.xmp", xmp.decode())
        return encode(image, "PNG", exif=exif, pnginfo=text, icc_profile=srgb_icc())
    if format_name == "WEBP":
        return encode(image, "WEBP", exif=exif, xmp=xmp, icc_profile=srgb_icc(), lossless=True)
    return encode(image.convert("P"), "GIF", comment=b"secret-comment SecretCam")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header declaring a huge RGB image, with a token of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def gif_declaring(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A GIF whose logical screen and first frame declare the given sizes."""
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", *screen, 0x80, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff"
        + b","
        + struct.pack("<HHHHB", 0, 0, *frame, 0)
        + b"\x02\x02\x4c\x01\x00;"
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is patched to declare a huge size."""
    data = bytearray(encode(Image.new("RGB", (16, 16), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    vp8x = (
        b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def swapped_primaries_icc() -> bytes:
    """A minimal ICC v2 RGB profile whose red and green primaries are sRGB's green and red.

    Converting through it turns pure red into pure green, so a test can see that it was used.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + s15(x) + s15(y) + s15(z)

    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, 0x0233) + b"\x00\x00"
    name = b"Swapped primaries\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(name)) + name
    desc += struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\x00" * 67
    desc += b"\x00" * (-len(desc) % 4)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.3851, 0.7169, 0.0971)),  # sRGB's green
        (b"gXYZ", xyz(0.4361, 0.2225, 0.0139)),  # sRGB's red
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I", size) + b"\x00" * 4 + struct.pack(">I", 0x02100000)
    header += b"mntrRGB XYZ " + b"\x00" * 12 + b"acsp" + b"\x00" * 24
    header += struct.pack(">I", 0) + xyz(0.9642, 1.0, 0.8249)[8:]
    header += b"\x00" * (128 - len(header))
    return header + table + body


# --- reading results ------------------------------------------------------------------------


def opened(prepared: PreparedImage) -> Image.Image:
    image = Image.open(BytesIO(prepared.data))
    image.load()
    return image


def pixel(prepared: PreparedImage, xy: tuple[int, int]) -> tuple[int, ...]:
    value = opened(prepared).convert("RGBA").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def container_sections(data: bytes) -> list[bytes]:
    """JPEG marker segments before the scan, PNG chunk types, or WebP chunk ids."""
    if data.startswith(b"\xff\xd8"):
        sections, position = [], 2
        while data[position + 1] != 0xDA:
            marker = data[position : position + 2]
            sections.append(marker)
            position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
        return sections
    if data.startswith(b"\x89PNG"):
        sections, position = [], 8
        while position < len(data):
            length = struct.unpack(">I", data[position : position + 4])[0]
            sections.append(data[position + 4 : position + 8])
            position += 12 + length
        return sections
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    sections, position = [], 12
    while position < len(data):
        length = struct.unpack("<I", data[position + 4 : position + 8])[0]
        sections.append(data[position : position + 4])
        position += 8 + length + (length & 1)
    return sections


def assert_no_metadata(prepared: PreparedImage) -> None:
    image = opened(prepared)
    assert len(image.getexif()) == 0
    for key in ("exif", "comment", "icc_profile", "xmp", "XML:com.adobe.xmp", "Comment"):
        assert key not in image.info
    for secret in (*SECRETS, b"Exif\x00\x00", b"http://ns.adobe.com/xap"):
        assert secret not in prepared.data
    allowed = {
        "image/jpeg": {b"\xff\xe0", b"\xff\xdb", b"\xff\xc0", b"\xff\xc4"},  # JFIF, tables, frame
        "image/webp": {b"VP8L", b"VP8 ", b"VP8X", b"ALPH"},
    }[prepared.mime]
    assert set(container_sections(prepared.data)) <= allowed


# --- ordinary uploads -----------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ACCEPTED_FORMATS)
def test_each_accepted_format_round_trips(format_name: str) -> None:
    source = halves((80, 40), RED, BLUE)
    raw = encode(source.convert("P") if format_name == "GIF" else source, format_name)

    prepared = prepare_image(raw)

    assert (prepared.width, prepared.height) == (80, 40)
    assert opened(prepared).size == (80, 40)
    assert prepared.mime == ("image/jpeg" if format_name == "JPEG" else "image/webp")
    assert Image.MIME[opened(prepared).format or ""] == prepared.mime
    assert close_to(pixel(prepared, (10, 20)), (*RED, 255))
    assert close_to(pixel(prepared, (70, 20)), (*BLUE, 255))


def test_type_is_decided_by_content_so_a_png_named_jpg_is_read_as_png() -> None:
    # The API takes bytes only: a name or declared MIME type cannot even be passed.
    png = encode(screenshot_like(), "PNG")

    prepared = prepare_image(png)

    # A PNG takes the lossless path: every pixel survives exactly.
    assert opened(prepared).convert("RGB").tobytes() == screenshot_like().tobytes()


def test_photographic_png_becomes_a_jpeg_and_a_screenshot_stays_lossless() -> None:
    photo = prepare_image(encode(noisy((1200, 900)), "PNG"))
    screenshot = prepare_image(encode(screenshot_like((1200, 900)), "PNG"))

    assert photo.mime == "image/jpeg"
    assert screenshot.mime == "image/webp"
    assert opened(screenshot).convert("RGB").tobytes() == screenshot_like((1200, 900)).tobytes()


def test_large_image_is_downscaled_to_the_long_edge_keeping_its_aspect_ratio() -> None:
    wide = prepare_image(encode(Image.new("RGB", (4000, 1000), GREEN), "PNG"))
    photo = prepare_image(encode(halves((4000, 3000), RED, BLUE), "JPEG"))
    portrait = prepare_image(encode(halves((3000, 4000), RED, BLUE), "JPEG"))

    assert (wide.width, wide.height) == (LONG_EDGE, 392)
    assert (photo.width, photo.height) == (LONG_EDGE, 1176)
    assert (portrait.width, portrait.height) == (1176, LONG_EDGE)
    assert opened(photo).size == (LONG_EDGE, 1176)
    assert close_to(pixel(photo, (100, 600)), (*RED, 255))
    assert close_to(pixel(photo, (1468, 600)), (*BLUE, 255))


def test_long_edge_can_be_chosen_by_the_caller() -> None:
    prepared = prepare_image(encode(Image.new("RGB", (400, 200), GREEN), "PNG"), long_edge=100)
    assert (prepared.width, prepared.height) == (100, 50)


def test_small_image_is_not_upscaled() -> None:
    prepared = prepare_image(encode(Image.new("RGB", (100, 50), GREEN), "JPEG"))
    assert (prepared.width, prepared.height) == (100, 50)


def test_transparency_of_an_rgba_png_is_kept() -> None:
    source = Image.new("RGBA", (64, 32), (*RED, 255))
    ImageDraw.Draw(source).rectangle((32, 0, 64, 32), fill=(*BLUE, 0))
    source.putpixel((5, 5), (*GREEN, 128))

    prepared = prepare_image(encode(source, "PNG"))

    assert prepared.mime == "image/webp"
    result = opened(prepared)
    assert result.mode == "RGBA"
    assert result.getpixel((5, 5)) == (*GREEN, 128)
    assert result.getpixel((10, 10)) == (*RED, 255)
    assert result.getpixel((40, 10))[3] == 0  # type: ignore[index]


def test_transparent_gif_keeps_its_transparent_pixels() -> None:
    source = Image.new("P", (20, 20), 1)
    source.putpalette([0, 0, 0, *RED] + [0] * 762)
    ImageDraw.Draw(source).rectangle((0, 0, 9, 19), fill=0)

    prepared = prepare_image(encode(source, "GIF", transparency=0))

    assert pixel(prepared, (3, 3))[3] == 0
    assert pixel(prepared, (15, 3)) == (*RED, 255)


def test_photographic_image_with_transparency_goes_lossy_and_keeps_alpha_exactly() -> None:
    source = noisy((1000, 800), "RGBA")

    prepared = prepare_image(encode(source, "PNG"))

    assert prepared.mime == "image/webp"
    assert len(prepared.data) < len(encode(source, "WEBP", lossless=True))
    assert opened(prepared).getchannel("A").tobytes() == source.getchannel("A").tobytes()


def test_fully_opaque_alpha_is_dropped() -> None:
    prepared = prepare_image(encode(noisy((800, 600)).convert("RGBA"), "PNG"))
    assert prepared.mime == "image/jpeg"
    assert opened(prepared).mode == "RGB"


@pytest.mark.parametrize("mode", ["1", "L", "LA", "I;16", "CMYK", "P"])
def test_unusual_modes_are_converted(mode: str) -> None:
    source = halves((40, 20), (0, 0, 0), (255, 255, 255)).convert("L")
    if mode == "I;16":
        source = source.convert("I").point(lambda value: value * 256).convert("I;16")
    else:
        source = source.convert(mode)
    format_name = "JPEG" if mode == "CMYK" else "PNG"

    prepared = prepare_image(encode(source, format_name))

    assert close_to(pixel(prepared, (5, 10))[:3], (0, 0, 0))
    assert close_to(pixel(prepared, (35, 10))[:3], (255, 255, 255))


# --- metadata -------------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ACCEPTED_FORMATS)
def test_output_carries_no_metadata(format_name: str) -> None:
    raw = with_metadata(format_name)
    assert any(secret in raw for secret in SECRETS)  # the input really carries them

    assert_no_metadata(prepare_image(raw))


def test_gps_position_and_camera_serial_are_removed() -> None:
    raw = encode(noisy((64, 48)), "JPEG", exif=exif_with_secrets())
    assert Image.open(BytesIO(raw)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    prepared = prepare_image(raw)

    exif = opened(prepared).getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert b"SECRET-DATUM" not in prepared.data and b"SN-0042-SECRET" not in prepared.data


@pytest.mark.parametrize(("orientation", "top", "bottom"), [(6, RED, BLUE), (8, BLUE, RED)])
def test_exif_orientation_is_applied(
    orientation: int, top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> None:
    # Stored sideways: red left half, blue right half; the tag says how to turn it upright.
    raw = encode(halves((80, 40), RED, BLUE), "JPEG", exif=exif_with_secrets(orientation))

    prepared = prepare_image(raw)

    assert (prepared.width, prepared.height) == (40, 80)
    assert close_to(pixel(prepared, (20, 10)), (*top, 255))
    assert close_to(pixel(prepared, (20, 70)), (*bottom, 255))
    assert ExifTags.Base.Orientation not in opened(prepared).getexif()


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff",  # entry count, then nothing
        exif_with_secrets(99).tobytes(),  # no such orientation
    ],
    ids=["truncated-exif", "orientation-99"],
)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_does_not_refuse_the_photo(exif: bytes) -> None:
    raw = encode(halves((80, 40), RED, BLUE), "JPEG", exif=exif)

    prepared = prepare_image(raw)

    assert (prepared.width, prepared.height) == (80, 40)
    assert close_to(pixel(prepared, (10, 20)), (*RED, 255))
    assert_no_metadata(prepared)


def test_exif_orientation_is_applied_after_downscaling_a_big_photo() -> None:
    raw = encode(halves((4000, 3000), RED, BLUE), "JPEG", exif=exif_with_secrets(6))

    prepared = prepare_image(raw)

    assert (prepared.width, prepared.height) == (1176, LONG_EDGE)
    assert close_to(pixel(prepared, (588, 100)), (*RED, 255))


def test_colour_profile_is_converted_to_srgb_then_dropped() -> None:
    raw = encode(Image.new("RGB", (32, 32), RED), "JPEG", icc_profile=swapped_primaries_icc())

    prepared = prepare_image(raw)

    assert close_to(pixel(prepared, (16, 16)), (*GREEN, 255), tolerance=60)
    assert "icc_profile" not in opened(prepared).info


def test_unusable_colour_profile_keeps_the_picture() -> None:
    raw = encode(Image.new("RGB", (32, 32), RED), "JPEG", icc_profile=b"not a profile" * 20)

    prepared = prepare_image(raw)

    assert close_to(pixel(prepared, (16, 16)), (*RED, 255))
    assert_no_metadata(prepared)


@pytest.mark.parametrize("format_name", ACCEPTED_FORMATS)
def test_payload_appended_after_the_image_is_gone(format_name: str) -> None:
    source = halves((64, 32), RED, BLUE)
    payload = b"PK\x03\x04" + b"secret-zip-payload" * 20
    raw = encode(source.convert("P") if format_name == "GIF" else source, format_name) + payload

    prepared = prepare_image(raw)

    assert b"secret-zip-payload" not in prepared.data
    assert b"PK\x03\x04" not in prepared.data
    assert close_to(pixel(prepared, (10, 10)), (*RED, 255))


# --- animations -----------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ["GIF", "PNG", "WEBP"])
def test_only_the_first_frame_of_an_animation_is_used(format_name: str) -> None:
    frames = [Image.new("RGB", (30, 30), colour) for colour in (RED, GREEN, BLUE)]
    raw = encode(frames[0], format_name, save_all=True, append_images=frames[1:], duration=100)
    assert getattr(Image.open(BytesIO(raw)), "n_frames", 1) == 3

    prepared = prepare_image(raw)

    assert close_to(pixel(prepared, (15, 15)), (*RED, 255))
    assert getattr(opened(prepared), "n_frames", 1) == 1


# --- refused uploads ------------------------------------------------------------------------


def test_empty_file_is_refused() -> None:
    with pytest.raises(ImageError, match=r"^This file is empty\.$"):
        prepare_image(b"")


def test_file_over_the_byte_limit_is_refused_before_opening() -> None:
    raw = encode(noisy((200, 200)), "PNG")
    with pytest.raises(ImageError, match=r"too big \(0\.1 MB; the limit is"):
        prepare_image(raw, max_bytes=50_000)


def test_image_error_is_an_input_error() -> None:
    with pytest.raises(InputError):
        prepare_image(b"")


def _bmp() -> bytes:
    return encode(Image.new("RGB", (8, 8), RED), "BMP")


def _tiff() -> bytes:
    return encode(Image.new("RGB", (8, 8), RED), "TIFF")


def _pdf() -> bytes:
    return encode(Image.new("RGB", (8, 8), RED), "PDF")


def _ico() -> bytes:
    return encode(Image.new("RGB", (16, 16), RED), "ICO")


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"just some text, not an image\n",
        lambda: b"<!doctype html><html><script>alert(document.cookie)</script></html>",
        lambda: (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
        ),
        lambda: b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        _bmp,
        _tiff,
        _pdf,
        _ico,
        lambda: bytes(range(256)) * 4,
    ],
    ids=["text", "html", "svg", "pdf-text", "bmp", "tiff", "pdf", "ico", "random"],
)
def test_other_file_types_are_refused(make: Callable[[], bytes]) -> None:
    with pytest.raises(ImageError) as caught:
        prepare_image(make())
    assert str(caught.value) == NOT_ACCEPTED


def test_heic_photo_gets_a_specific_hint() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(ImageError, match="HEIC"):
        prepare_image(heic)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (png_declaring(100_000, 100_000), "10,000 megapixels"),
        (png_declaring(8000, 8000), "64 megapixels"),
        (jpeg_declaring(65_000, 65_000), "4,225 megapixels"),
        (jpeg_declaring(9000, 9000), "81 megapixels"),
        (webp_declaring(16_000, 16_000), "256 megapixels"),
    ],
    ids=["png-10-gigapixels", "png-64-mp", "jpeg-4-gigapixels", "jpeg-81-mp", "webp-256-mp"],
)
def test_decompression_bomb_is_refused_from_its_header(raw: bytes, shown: str) -> None:
    # Decoding any of these would need gigabytes: reaching this sentence proves it was not tried.
    with pytest.raises(ImageError) as caught:
        prepare_image(raw)
    assert str(caught.value) == f"This image is too large ({shown}; the limit is 60 megapixels)."


@pytest.mark.parametrize(
    ("screen", "frame"),
    [((65_535, 65_535), (1, 1)), ((10, 10), (9000, 9000))],
    ids=["huge-screen", "small-screen-huge-first-frame"],
)
def test_pixel_flood_gif_is_refused(screen: tuple[int, int], frame: tuple[int, int]) -> None:
    with pytest.raises(ImageError, match=r"^This image is too large \("):
        prepare_image(gif_declaring(screen, frame))


def test_pixel_limit_is_per_call_and_does_not_rely_on_pillow() -> None:
    raw = encode(Image.new("RGB", (100, 100), RED), "PNG")
    assert Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_PIXELS

    with pytest.raises(ImageError, match=r"\(0\.01 megapixels; the limit is 0\.005 megapixels\)"):
        prepare_image(raw, max_pixels=5_000)
    assert prepare_image(raw).width == 100


@pytest.mark.parametrize("format_name", ACCEPTED_FORMATS)
def test_truncated_file_is_refused_as_damaged(format_name: str) -> None:
    source = noisy((256, 256))
    raw = encode(source.convert("P") if format_name == "GIF" else source, format_name)

    with pytest.raises(ImageError) as caught:
        prepare_image(raw[: len(raw) // 2])
    assert str(caught.value) == DAMAGED


def test_garbage_after_a_png_signature_is_damaged() -> None:
    with pytest.raises(ImageError) as caught:
        prepare_image(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    assert str(caught.value) == DAMAGED


# --- result and concurrency -----------------------------------------------------------------


def test_result_is_content_addressed_and_deterministic() -> None:
    raw = encode(noisy((64, 64)), "JPEG")

    first, second = prepare_image(raw), prepare_image(raw)

    assert first.sha256 == hashlib.sha256(first.data).hexdigest()
    assert first == second
    assert "data=" not in repr(first)


def test_data_url_carries_the_encoded_bytes() -> None:
    prepared = prepare_image(encode(Image.new("RGB", (10, 10), RED), "JPEG"))

    prefix = "data:image/jpeg;base64,"
    assert prepared.data_url.startswith(prefix)
    assert base64.b64decode(prepared.data_url[len(prefix) :], validate=True) == prepared.data


def test_decoding_waits_for_a_free_slot() -> None:
    raw = encode(Image.new("RGB", (10, 10), RED), "PNG")
    results: list[PreparedImage] = []
    finished = threading.Event()

    def prepare() -> None:
        results.append(prepare_image(raw))
        finished.set()

    for _ in range(DECODE_CONCURRENCY):
        DECODE_SLOTS.acquire()
    worker = threading.Thread(target=prepare)
    try:
        worker.start()
        assert not finished.wait(0.3)
    finally:
        for _ in range(DECODE_CONCURRENCY):
            DECODE_SLOTS.release()
    worker.join(timeout=30)
    assert finished.is_set() and results[0].width == 10


def test_concurrent_uploads_each_get_their_own_image() -> None:
    colours = [(i * 30, 255 - i * 30, 100) for i in range(8)]
    raws = [encode(Image.new("RGB", (40 + i, 30), c), "PNG") for i, c in enumerate(colours)]
    results: dict[int, PreparedImage] = {}

    def prepare(index: int) -> None:
        results[index] = prepare_image(raws[index])

    threads = [threading.Thread(target=prepare, args=(i,)) for i in range(len(raws))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    for index, colour in enumerate(colours):
        assert results[index].width == 40 + index
        assert pixel(results[index], (5, 5)) == (*colour, 255)
