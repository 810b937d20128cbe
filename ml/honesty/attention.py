"""Where the model looked: for each word of a caption, the attention members' weights over the photo's
grid of regions, averaged over those members, as a map and as a heatmap over the photo.

Computed after the caption, by reading the chosen words back through the attention members (one step a
word), so the plain caption path is not slowed; models without attention members have no maps.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ml.core.atomic import replace_atomically
from ml.core.types import PathLike
from ml.decoders.numpy_step import members_of
from ml.honesty.confidence import teacher_forced

if TYPE_CHECKING:
    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import StepDecoderLike


def attention_maps(step_decoder: StepDecoderLike, vocab: Vocabulary, grid: np.ndarray,
                   words: Sequence[str]) -> Optional[np.ndarray]:
    """One (side, side) map per word of the caption, each summing to 1, for one photo's feature grid
    (regions, dim); None when no member attends or the features are pooled."""
    members = [member for member in members_of(step_decoder) if member.attends]
    grid = np.asarray(grid, np.float32)
    if not members or grid.ndim != 2 or not words:
        return None
    inputs, _, _ = teacher_forced(vocab, [list(words)])
    steps = len(words)
    total = np.zeros((steps, grid.shape[0]), np.float64)
    for member in members:
        memory, state = member.start(grid[None])
        for position in range(steps):
            state = member.next_state(state, inputs[:, position])
            total[position] += member.attention_weights(state[0], memory[2])[0]
    side = int(round(np.sqrt(grid.shape[0])))
    return (total / len(members)).reshape(steps, side, side)


def heatmap(photo: Image.Image, weights: np.ndarray, strength: float = 0.75) -> Image.Image:
    """The photo with one attention map laid over it (stretched to the photo's size, so its aspect is the
    photo's: the encoder saw the photo squeezed to a square): warm and opaque where the model looked most,
    the photo itself where it did not look."""
    photo = photo.convert("RGB")
    scaled = np.asarray(weights, np.float64) / max(float(np.max(weights)), 1e-12)
    gray = Image.fromarray(np.uint8(255 * scaled)).resize(photo.size, Image.Resampling.BICUBIC)
    colour = ImageOps.colorize(gray, black="#2020c0", mid="#e02020", white="#ffff50")
    return Image.composite(colour, photo, gray.point(lambda value: int(value * strength)))


def attention_sheet(photo: Image.Image, maps: np.ndarray, words: Sequence[str], panel: int = 224) -> Image.Image:
    """One image with a panel per word: the heatmap of that word with the word written under it."""
    photo = photo.convert("RGB")
    width = panel
    height = max(1, round(panel * photo.height / photo.width))
    columns = min(len(words), 5)
    rows = (len(words) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * width, rows * (height + 20)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    small = photo.resize((width, height), Image.Resampling.BILINEAR)
    for index, (word, weights) in enumerate(zip(words, maps)):
        left, top = (index % columns) * width, (index // columns) * (height + 20)
        sheet.paste(heatmap(small, weights), (left, top))
        draw.text((left + 4, top + height + 2), word, fill="black", font=font)
    return sheet


def save_attention_sheet(target: PathLike, photo: Image.Image, maps: np.ndarray, words: Sequence[str]) -> Path:
    """Write the sheet as PNG, atomically."""
    sheet = attention_sheet(photo, maps, words)
    return replace_atomically(target, lambda temp: sheet.save(temp, format="PNG"))
