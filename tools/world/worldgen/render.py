"""Draws a scene as an RGB PNG (Pillow only; deterministic for a scene).

Drawn 4x larger and downsampled (Lanczos), so edges are anti-aliased. Each object is centred in
its grid cell with a small jitter from the scene's render seed, filled with its colour and
outlined in black, so every colour stays visible on every setting.
"""

from __future__ import annotations

import io
import random
from typing import Dict, List, Tuple

from PIL import Image, ImageDraw

from .scene import Obj, Scene

RGB = Tuple[int, int, int]
COLOUR_RGB: Dict[str, RGB] = {
    "red": (220, 35, 35),
    "green": (30, 190, 60),
    "blue": (35, 75, 235),
    "yellow": (250, 215, 25),
    "purple": (150, 50, 200),
    "white": (250, 250, 250),
}
# Setting -> bands (fraction of the height where the band starts, colour), top to bottom.
SETTING_BANDS: Dict[str, List[Tuple[float, RGB]]] = {
    "field": [(0.0, (165, 205, 245)), (0.3, (85, 150, 65))],
    "beach": [(0.0, (140, 205, 235)), (0.25, (45, 110, 170)), (0.36, (230, 205, 150))],
    "snow": [(0.0, (185, 190, 205)), (0.3, (238, 240, 246))],
    "room": [(0.0, (205, 190, 165)), (0.62, (125, 85, 55))],
    "night": [(0.0, (12, 16, 40)), (0.7, (28, 30, 60))],
}
DEFAULT_SIZE = 128
SUPERSAMPLE = 4
# Radius of an object as a fraction of a cell's side.
RADIUS = {"small": 0.2, "large": 0.4}


def _polygon(shape: str, cx: float, cy: float, r: float) -> List[Tuple[float, float]]:
    if shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r * 0.8, cy), (cx, cy + r), (cx - r * 0.8, cy)]
    raise ValueError(shape)


def render(scene: Scene, size: int = DEFAULT_SIZE) -> Image.Image:
    """The scene as a `size` x `size` RGB image."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big))
    draw = ImageDraw.Draw(image)
    for (start, colour), nxt in zip(SETTING_BANDS[scene.setting],
                                    SETTING_BANDS[scene.setting][1:] + [(1.0, (0, 0, 0))]):
        draw.rectangle([0, int(start * big), big, int(nxt[0] * big)], fill=colour)
    rng = random.Random(scene.render_seed)
    cell = big / 3
    outline = max(2, big // 96)
    for o in scene.objects:
        r = RADIUS[o.size] * cell * rng.uniform(0.92, 1.08)
        slack = max(0.0, cell / 2 - r - outline)
        cx = (o.col + 0.5) * cell + rng.uniform(-0.5, 0.5) * slack
        cy = (o.row + 0.5) * cell + rng.uniform(-0.5, 0.5) * slack
        fill = COLOUR_RGB[o.colour]
        if o.shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=(0, 0, 0),
                         width=outline)
        else:
            draw.polygon(_polygon(o.shape, cx, cy, r), fill=fill, outline=(0, 0, 0),
                         width=outline)
    return image.resize((size, size), Image.LANCZOS)


def png_bytes(scene: Scene, size: int = DEFAULT_SIZE) -> bytes:
    """The rendered scene as PNG file bytes (no metadata, so equal scenes give equal bytes)."""
    out = io.BytesIO()
    render(scene, size).save(out, format="PNG", optimize=False)
    return out.getvalue()
