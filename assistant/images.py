"""Untrusted upload bytes in, a small metadata-free image out, for the model and for display.

Design choices that are not obvious from the code:

- **Content decides the type.** The API takes bytes only; names and declared MIME types never
  reach it. Pillow is restricted to `ACCEPTED_FORMATS`, so SVG, BMP, TIFF, PDF, HEIC and the
  rest are refused before any of their parsers run.
- **Size before pixels, pixels before decoding.** Byte length is checked first, then the
  declared width x height right after `Image.open` (which reads headers only). A decompression
  bomb or pixel flood therefore costs a header parse. Pillow's own `MAX_IMAGE_PIXELS` check
  (a warning, then an error at twice the value) is left untouched; our limit is lower and is
  enforced here, per call. For GIF, Pillow widens the size at open when the first frame's
  descriptor is larger than the logical screen, so that trick is caught by the same check.
  Only the first frame is ever decoded (`seek` and `n_frames` are never used), so the frame
  count of an animation does not drive the cost: a file of many frames is bounded by its bytes.
- **Truncated data stays an error.** `ImageFile.LOAD_TRUNCATED_IMAGES` is not set.
- **Less work for big JPEGs.** `draft()` lets libjpeg scale by 1/2, 1/4 or 1/8 during the DCT,
  so a 12 MP photo is decoded at about 3 MP; a Lanczos resize then reaches the 1,568 px long
  edge (where Anthropic stops gaining detail; other providers downscale further anyway).
- **Orientation is applied, then all metadata dropped.** The EXIF orientation is read from the
  source and applied to the small image (same table as `ImageOps.exif_transpose`, done after the
  resize because turning the small image is cheaper). The output is a fresh encode with an
  empty `info`: no EXIF (hence no GPS, no camera serial), no XMP, no comments, no text chunks,
  no ICC profile. Re-encoding also destroys anything appended to or hidden in the file.
- **Colours are converted to sRGB instead of keeping the ICC profile.** A profile is metadata
  too (and can fingerprint a device); dropping it without converting would show, e.g., an
  iPhone's Display P3 photo slightly washed out. So a non-sRGB profile is applied with
  LittleCMS and the result is plain sRGB. If the profile cannot be used, the pixels are kept as
  they are (slightly off colours beat refusing the photo).
- **Output format: lossless when it is cheap, lossy otherwise.** A JPEG upload becomes a JPEG
  at quality 85 (it was lossy already). Any other upload is first encoded as lossless WebP:
  screenshots, diagrams and logos (the usual PNGs) come out small and with sharp text, which a
  model needs to read an error message. If that exceeds `LOSSLESS_BUDGET` the content is
  photographic, and it becomes a JPEG at quality 85, or a lossy WebP (alpha kept exactly) when
  it has real transparency. RGBA whose alpha is fully opaque counts as opaque. WebP (lossless
  encode with the fastest method: about 50 ms for a 1,568 px screenshot, smaller than PNG at
  its default level and three times faster) and JPEG are read by every provider OpenRouter
  routes to and by every current browser.
- **A process-wide limit on concurrent decodes.** `DECODE_SLOTS` is a module global on purpose:
  it bounds the process (CPU: Pillow releases the GIL, so two decodes fill two cores; memory:
  at most `DECODE_CONCURRENCY` full-size bitmaps exist at once), not a user. It holds no
  per-user data. Callers beyond the limit wait; each decode is bounded by `max_pixels`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from assistant.errors import ImageError

LONG_EDGE = 1568
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: 60 MP: 12, 48 and 50 MP phone photos pass (a "50 MP" sensor writes 8160 x 6144 = 50.1 MP),
#: and it stays below Pillow's own warning threshold (about 89 MP).
MAX_PIXELS = 60_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
JPEG_QUALITY = 85
#: Largest lossless encode kept; above it the image is photographic and goes lossy.
LOSSLESS_BUDGET = 1024 * 1024
DECODE_CONCURRENCY = 2
DECODE_SLOTS = threading.BoundedSemaphore(DECODE_CONCURRENCY)

_MIB = 1024 * 1024
_NOT_ACCEPTED = "This file is not a PNG, JPEG, WebP or GIF image."
_DAMAGED = "This image file is damaged or incomplete."
_EMPTY = "This file is empty."
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
# EXIF orientation -> the transpose that shows the image upright (as in ImageOps.exif_transpose).
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


@dataclass(frozen=True)
class PreparedImage:
    """A re-encoded image, safe to send to a model and to show. `sha256` addresses its bytes."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    sha256: str

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def prepare_image(
    raw: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_PIXELS,
    long_edge: int = LONG_EDGE,
) -> PreparedImage:
    """Check, decode (first frame), orient, downscale, strip and re-encode an uploaded image.

    Raises `ImageError` with a sentence for the user when the bytes are not a usable image.
    """
    if not raw:
        raise ImageError(_EMPTY)
    if len(raw) > max_bytes:
        raise ImageError(
            f"This image file is too big ({len(raw) / _MIB:.1f} MB; "
            f"the limit is {max_bytes / _MIB:g} MB)."
        )
    with DECODE_SLOTS:
        return _prepare(bytes(raw), max_pixels, long_edge)


def _prepare(raw: bytes, max_pixels: int, long_edge: int) -> PreparedImage:
    source = _open(raw, max_pixels)
    with source:
        width, height = source.size
        if width < 1 or height < 1:
            raise ImageError(_DAMAGED, detail=f"declared size {width}x{height}")
        if width * height > max_pixels:
            raise _too_large(width * height, max_pixels)
        target = _fit((width, height), long_edge)
        try:
            image, icc_profile, orientation = _decode(source, target)
            image = _orient(_to_srgb(_resize(image, target), icc_profile), orientation)
            return _encode(image, lossless_source=source.format != "JPEG")
        # Pillow's decoders raise a long tail of types on hostile input (OSError, SyntaxError,
        # ValueError, EOFError, struct.error, IndexError, MemoryError...); every one of them
        # means the same thing to the user, and the original stays chained for the logs.
        except Exception as exc:
            raise ImageError(_DAMAGED, detail=f"{type(exc).__name__}: {exc}") from exc


def _open(raw: bytes, max_pixels: int) -> Image.Image:
    try:
        return Image.open(BytesIO(raw), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Pillow's own, higher limit fired first, inside open(); same answer as ours.
        match = _BOMB_PIXELS.search(str(exc))
        pixels = int(match.group(1)) if match else None
        raise _too_large(pixels, max_pixels, detail=str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(_unrecognised_sentence(raw), detail=str(exc)) from exc
    except Exception as exc:
        raise ImageError(_DAMAGED, detail=f"{type(exc).__name__}: {exc}") from exc


def _unrecognised_sentence(raw: bytes) -> str:
    """Tell a damaged file of an accepted type apart from a file of another type."""
    if raw.startswith(_SIGNATURES) or (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"):
        return _DAMAGED
    if raw[4:8] == b"ftyp" and raw[8:12] in _HEIF_BRANDS:
        return (
            "HEIC and AVIF photos are not supported. "
            "Please convert the photo to JPEG or PNG and attach it again."
        )
    return _NOT_ACCEPTED


def _too_large(pixels: int | None, limit: int, *, detail: str = "") -> ImageError:
    limit_text = f"{limit / 1e6:g} megapixels"
    if pixels is None:
        return ImageError(f"This image is too large (the limit is {limit_text}).", detail=detail)
    megapixels = pixels / 1e6
    shown = f"{megapixels:,.0f}" if megapixels >= 100 else f"{megapixels:.3g}"
    return ImageError(
        f"This image is too large ({shown} megapixels; the limit is {limit_text}).",
        detail=detail,
    )


def _fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """The size with the long edge at most `long_edge`, aspect ratio kept, never upscaled."""
    width, height = size
    scale = long_edge / max(width, height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decode(source: Image.Image, target: tuple[int, int]) -> tuple[Image.Image, bytes | None, int]:
    """Decode the first frame into a working mode; also return its ICC profile and orientation."""
    if source.format == "JPEG" and target != source.size:
        source.draft(None, target)
    source.load()
    icc_profile = source.info.get("icc_profile") or None
    orientation = _orientation(source)
    if source.mode == "CMYK":
        # CMYK is only meaningful through its profile; apply it now, before the mode is lost.
        return _cmyk_to_rgb(source, icc_profile), None, orientation
    return _working_mode(source), icc_profile, orientation


def _orientation(source: Image.Image) -> int:
    # Malformed EXIF is common in real photos; a bad orientation tag is no reason to refuse
    # the picture, so it counts as "upright".
    try:
        value = source.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info


def _working_mode(image: Image.Image) -> Image.Image:
    """Convert to L, LA, RGB or RGBA: the modes that resize well and encode as JPEG or WebP."""
    grey = image.mode in _GREY_MODES
    if _has_alpha(image):
        mode = "LA" if grey else "RGBA"
    elif image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit grey (PNG) would be clipped by convert("L"); scale it to 8 bits instead.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    else:
        mode = "L" if grey else "RGB"
    # Most images are already in their working mode; a copy of 12 MP would cost ~25 ms.
    return image if image.mode == mode else image.convert(mode)


def _cmyk_to_rgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    if icc_profile:
        try:
            converted = ImageCms.profileToProfile(
                image, BytesIO(icc_profile), _srgb_profile(), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None
        if converted is not None:
            return converted
    return image.convert("RGB")


def _resize(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    if image.size == target:
        return image
    # reducing_gap: integer pre-reduction when the ratio is large (non-JPEG sources, which
    # draft() cannot shrink), with results Pillow documents as near-identical to a full Lanczos.
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    if not icc_profile or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        profile = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return image
        converted = ImageCms.profileToProfile(image, profile, _srgb_profile())
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION_FIX.get(orientation)
    return image.transpose(method) if method is not None else image


def _encode(image: Image.Image, lossless_source: bool) -> PreparedImage:
    if image.mode in ("RGBA", "LA") and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    # The savers read some keys from `info` (PNG: icc_profile, transparency; JPEG: comment):
    # an empty `info` guarantees nothing from the source is written back.
    image.info = {}
    transparent = image.mode in ("RGBA", "LA")
    if transparent or lossless_source:
        webp_image = image.convert("RGBA" if transparent else "RGB")
        data = _save(webp_image, "WEBP", lossless=True, quality=0, method=0)
        if len(data) <= LOSSLESS_BUDGET:
            return _prepared(data, "image/webp", image)
        if transparent:
            data = _save(webp_image, "WEBP", quality=JPEG_QUALITY, alpha_quality=100, method=0)
            return _prepared(data, "image/webp", image)
    return _prepared(_save(image, "JPEG", quality=JPEG_QUALITY), "image/jpeg", image)


def _save(image: Image.Image, format_name: str, **options: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def _prepared(data: bytes, mime: str, image: Image.Image) -> PreparedImage:
    return PreparedImage(
        data=data,
        mime=mime,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


__all__ = [
    "ACCEPTED_FORMATS",
    "DECODE_CONCURRENCY",
    "DECODE_SLOTS",
    "LONG_EDGE",
    "LOSSLESS_BUDGET",
    "MAX_IMAGE_BYTES",
    "MAX_PIXELS",
    "PreparedImage",
    "prepare_image",
]
