"""Generated photos for the perceptual-hash tests: distinct outdoor scenes of one kind (sky,
horizon, ground, a few shapes), camera originals with EXIF, and a messenger's copy of one
(resized to 50 %, re-compressed at quality 60, EXIF stripped)."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def scene(seed: int, width: int = 1200, height: int = 900) -> Image.Image:
    r = random.Random(seed)
    img = Image.new("RGB", (width, height))
    d = ImageDraw.Draw(img)
    sky = (r.randint(60, 140), r.randint(120, 200), r.randint(200, 255))
    horizon = r.randint(height // 3, 2 * height // 3)
    for y in range(horizon):
        t = y / horizon
        d.line([(0, y), (width, y)], fill=tuple(int(c * (1 - 0.4 * t)) for c in sky))
    d.rectangle([0, horizon, width, height], fill=(r.randint(40, 90), r.randint(90, 150), r.randint(30, 70)))
    for _ in range(r.randint(4, 9)):
        x, y, s = r.randint(0, width), r.randint(height // 4, height), r.randint(width // 40, width // 6)
        colour = tuple(r.randint(0, 255) for _ in range(3))
        if r.random() < 0.5:
            d.ellipse([x - s, y - s, x + s, y + s], fill=colour)
        else:
            d.rectangle([x - s, y - 2 * s, x + s, y], fill=colour)
    return img.filter(ImageFilter.GaussianBlur(1))


def camera_jpeg(img: Image.Image, make: str = "Canon", model: str = "Canon EOS 80D", quality: int = 92) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def messenger_copy(original: bytes) -> bytes:
    """Resized to 50 %, re-compressed at quality 60, no EXIF: what a messenger sends."""
    img = Image.open(io.BytesIO(original))
    small = img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=60)
    return out.getvalue()
