"""What the image pipeline costs on a 12-megapixel phone-like photo.

Run: `python -m bench images` (`run()` returns the figure rows).

The photo is generated: coarse noise blown up into soft blobs, gradients across both axes and
fine grain on top, saved at JPEG quality 92. It compresses like a camera picture (about 3 MB
for 4,000 x 3,000), unlike a flat test card that would flatter the ratio.
"""

from __future__ import annotations

import statistics
import time
from io import BytesIO
from typing import Any

from PIL import Image

WIDTH, HEIGHT = 4000, 3000
RUNS = 7
RATIO_TARGET = 0.25
TIME_TARGET_MS = 300.0


def make_photo(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    size = (width, height)
    blobs = Image.effect_noise((width // 4, height // 4), 40).resize(size, Image.Resampling.BICUBIC)
    grain = Image.effect_noise(size, 12)
    across = Image.linear_gradient("L").resize(size)
    down = Image.linear_gradient("L").rotate(90).resize(size)
    red = Image.blend(Image.blend(blobs, across, 0.5), grain, 0.25)
    green = Image.blend(Image.blend(blobs, down, 0.4), grain, 0.3)
    blue = Image.blend(Image.blend(across, down, 0.5), grain, 0.2)
    buffer = BytesIO()
    Image.merge("RGB", (red, green, blue)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def run(runs: int = RUNS) -> list[dict[str, Any]]:
    """Figure rows {name, value, unit, target}; target is None for context-only rows."""
    from assistant.images import prepare_image

    raw = make_photo()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        prepared = prepare_image(raw)
        timings.append((time.perf_counter() - started) * 1000)
    sent = len(prepared.data_url)
    return [
        {
            "name": "images: 12 MP photo uploaded",
            "value": round(len(raw) / 1e6, 2),
            "unit": "MB",
            "target": None,
        },
        {
            "name": f"images: data URL sent ({prepared.width} x {prepared.height})",
            "value": round(sent / 1e3),
            "unit": "kB",
            "target": None,
        },
        {
            "name": "images: data URL bytes / uploaded bytes",
            "value": round(sent / len(raw), 3),
            "unit": "ratio",
            "target": f"<= {RATIO_TARGET}",
        },
        {
            "name": f"images: prepare_image median of {runs}",
            "value": round(statistics.median(timings), 1),
            "unit": "ms",
            "target": f"<= {TIME_TARGET_MS:g}",
        },
    ]
