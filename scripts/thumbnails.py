"""Template thumbnails: a still (.jpg, what ComfyUI's template browser asks for) and a short
animation (.webp, what the pack's frontend shows instead) from a run's frames, or a title
card for a workflow that needs weights the pack cannot ship; and the pack's icon.

Frames are PIL images of one size; thumbnails are SIZE x SIZE pixels.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 320
FRAMES = 96       # at most this many frames in an animation (a longer run is subsampled)


def _square(frame: Image.Image, size: int = SIZE) -> Image.Image:
    """``frame`` scaled to fill size x size, centre-cropped."""
    scale = size / min(frame.size)
    w, h = round(frame.width * scale), round(frame.height * scale)
    big = frame.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
    left, top = (w - size) // 2, (h - size) // 2
    return big.crop((left, top, left + size, top + size))


def still(frames: list[Image.Image], path: str) -> None:
    """Four frames from across the run (at 1/8, 3/8, 5/8 and 7/8 of it, left to right and top
    to bottom) as one JPEG: what a single frame of a stream cannot show is how it goes on."""
    half = SIZE // 2
    grid = Image.new("RGB", (SIZE, SIZE))
    for i in range(4):
        frame = frames[(2 * i + 1) * len(frames) // 8]
        grid.paste(_square(frame, half - 2), ((i % 2) * half + 1, (i // 2) * half + 1))
    grid.save(path, quality=88)


def animation(frames: list[Image.Image], fps: float, path: str) -> None:
    """An endlessly looping WebP of the frames (subsampled to FRAMES, the pace kept)."""
    step = max(1, -(-len(frames) // FRAMES))
    kept = [_square(f) for f in frames[::step]]
    kept[0].save(path, save_all=True, append_images=kept[1:], duration=round(1000 * step / fps), loop=0,
                 quality=70, method=6)


def icon(frames: list[Image.Image], path: str, tiles: int = 4) -> None:
    """The pack's icon, a picture of its idea: one frame in ``tiles`` tiles from clean (top left)
    to noise (bottom right), as the stream's buffer holds them (a PNG, SIZE x SIZE)."""
    rng = np.random.default_rng(0)
    clean = np.asarray(_square(frames[len(frames) // 2]), dtype=np.float32) / 255
    noise = rng.standard_normal(clean.shape).astype(np.float32) * 0.5 + 0.5
    side = SIZE // 2
    card = Image.new("RGB", (SIZE, SIZE), (20, 22, 34))
    for i in range(tiles):
        tau = 1 - i / tiles                          # tau: 0 = noise, 1 = clean
        mixed = np.clip(tau * clean + (1 - tau) * noise, 0, 1)
        tile = Image.fromarray((mixed * 255).astype(np.uint8)).resize((side - 6, side - 6))
        card.paste(tile, ((i % 2) * side + 3, (i // 2) * side + 3))
    card.quantize(128).save(path, optimize=True)


def title_card(title: str, lines: list[str], path: str) -> None:
    """A JPEG card: ``title`` large, ``lines`` below, on a dark gradient."""
    card = Image.new("RGB", (SIZE, SIZE))
    draw = ImageDraw.Draw(card)
    for y in range(SIZE):
        t = y / SIZE
        draw.line([(0, y), (SIZE, y)], fill=(int(24 + 30 * t), int(28 + 12 * t), int(48 + 40 * t)))
    big, small = ImageFont.load_default(size=34), ImageFont.load_default(size=17)
    y = 36
    for word_line in _wrap(title, big, draw, SIZE - 48):
        draw.text((24, y), word_line, font=big, fill=(245, 245, 250))
        y += 42
    y += 14
    for line in lines:
        for part in _wrap(line, small, draw, SIZE - 48):
            draw.text((24, y), part, font=small, fill=(190, 198, 220))
            y += 24
        y += 6
    card.save(path, quality=90)


def _wrap(text: str, font: ImageFont.ImageFont, draw: ImageDraw.ImageDraw, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines
