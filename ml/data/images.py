"""Open any photo a user may have and turn it into encoder pixels, or say clearly why not."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ml.core.defaults import MAX_IMAGE_PIXELS
from ml.core.errors import UserError
from ml.core.types import PathLike

MIN_IMAGE_SIDE = 8  # pixels: a 1x1 or 2x2 image was captioned as if it were a photo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


class ImageError(UserError, ValueError):
    """A photo that cannot be used; the message names the file and the problem."""


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten any PIL mode (grayscale, CMYK, palette, alpha, 16-bit) to 8-bit RGB on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if wide.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(wide / peak * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def open_rgb(path: PathLike) -> Image.Image:
    """Load a photo upright (EXIF orientation applied) as RGB; first frame of animations."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageError(f"{path}: image too large ({width}x{height} pixels)")
                if min(width, height) < MIN_IMAGE_SIDE:
                    raise ImageError(f"{path}: image too small to describe ({width}x{height} pixels)")
                image.seek(0)
                image.load()
                upright = ImageOps.exif_transpose(image)
                return _to_rgb(upright)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: image too large (decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a photo this app can read (an unknown or damaged file format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: damaged image ({error})") from None


def load_pixels(path: PathLike, size: int) -> np.ndarray:
    """Photo as float32 (size, size, 3) in [0, 255], squashed to a square like the training photos."""
    image = open_rgb(path).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def list_images(folder: PathLike) -> list:
    """Image files directly in a folder, sorted by name; hidden files are not photos to describe (a
    writer's temp copy, ".photo.jpg.PID-XXXX.tmp.jpg", or macOS' "._photo.jpg")."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: folder not found")
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())
