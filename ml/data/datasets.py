"""Read caption data sets in the layouts users have, clean the captions, and report what was found.

Layouts:
- "flickr8k": the original download, `Flicker8k_Dataset/` (or `Flickr8k_Dataset/`) with
  `Flickr8k_text/Flickr8k.token.txt` and the `Flickr_8k.{train,dev,test}Images.txt` split files;
- "csv": a CSV with header `image,caption` (`captions.txt` or one `*.csv`), photos in `Images/` or
  beside the CSV; several rows per photo allowed; a seeded split is derived;
- "coco" (MS-COCO 2017 captions) and "flickr30k": see ml/data/coco_flickr30k.py.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from ml.core.types import PathLike
from ml.core.defaults import SEED
from ml.core.errors import UserError

ORIGINAL_IMAGE_DIRS = ("Flicker8k_Dataset", "Flickr8k_Dataset")
TOKEN_FILE = Path("Flickr8k_text", "Flickr8k.token.txt")
SPLIT_FILES = {
    "train": Path("Flickr8k_text", "Flickr_8k.trainImages.txt"),
    "dev": Path("Flickr8k_text", "Flickr_8k.devImages.txt"),
    "test": Path("Flickr8k_text", "Flickr_8k.testImages.txt"),
}
SPLITS = ("train", "dev", "test")
# Share of photos put in each of dev and test when a split is derived (1000 of 8000 in Flickr8k).
DERIVED_EVAL_FRACTION = 1 / 8

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


class DatasetError(UserError, ValueError):
    """A data set that cannot be used at all; the message names the file and the problem."""


def clean_caption(text: str) -> list:
    """Lowercase words without punctuation; tokens containing digits dropped, one-letter words kept."""
    words = _NOT_WORD.sub(" ", text.lower().replace("'", "")).split()
    return [sys.intern(word) for word in words if word.isalpha()]  # one copy of each word: COCO has 6M


@dataclass
class Dataset:
    """Captions of the photos that exist, the splits, and what was wrong with the input."""

    root: Path
    layout: str
    image_dir: Path
    captions: dict = field(default_factory=dict)  # photo file name -> list of word lists
    splits: dict = field(default_factory=dict)  # split name -> photo file names
    missing_images: list = field(default_factory=list)
    bad_lines: list = field(default_factory=list)  # "file:line: problem"
    split_without_captions: list = field(default_factory=list)  # "split file: photo" left out of a split

    def image_path(self, name: str) -> Path:
        return self.image_dir / name

    def references(self, split: str) -> dict:
        """Photo name -> its cleaned reference captions, for one split."""
        return {name: self.captions[name] for name in self.splits[split]}

    def fingerprint(self) -> dict:
        """What identifies the data a training run learns from: the layout, the photos per split, and one
        hash over every split's photo names and captions (another data set, photo limit or caption
        file changes it; moving the folder does not)."""
        digest = hashlib.sha256()
        for split in SPLITS:
            for name in self.splits.get(split, []):
                digest.update(json.dumps([split, name, self.captions.get(name, [])]).encode("utf-8"))
        return {"layout": self.layout, "photos": {s: len(self.splits.get(s, [])) for s in SPLITS},
                "sha256": digest.hexdigest()}

    def summary(self) -> str:
        """One paragraph telling the user what was found before any work starts."""
        caption_count = sum(len(c) for c in self.captions.values())
        split_text = ", ".join(f"{s} {len(self.splits.get(s, []))}" for s in SPLITS)
        lines = [f"{self.root.name}: layout {self.layout}, {len(self.captions)} photos, "
                 f"{caption_count} captions; splits: {split_text}"]
        if self.missing_images:
            lines.append(f"{len(self.missing_images)} caption entries name missing photos "
                         f"(e.g. {self.missing_images[0]})")
        if self.bad_lines:
            lines.append(f"{len(self.bad_lines)} malformed caption lines skipped (e.g. {self.bad_lines[0]})")
        if self.split_without_captions:
            lines.append(f"{len(self.split_without_captions)} split entries name photos without captions or files, "
                         f"left out (e.g. {self.split_without_captions[0]})")
        return "\n".join(lines)


def _read_text(path) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from None


def _name_problem(name: str) -> Optional[str]:
    """Why `name` cannot be a photo file beside the others, or None (a 10 KB name used to abort the load)."""
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PHOTO_NAME:
        return f"photo name longer than {MAX_PHOTO_NAME} bytes ({name[:30]}...)"
    if any(mark in name for mark in ("/", "\\", "\0")):
        return f"photo name with a path or NUL in it ({name[:60]})"
    return None


def _add_caption(dataset, name, text, where, folder=""):
    """Keep a caption of a photo that exists; `folder`: the data set's own photo folder the name is in
    (COCO's train2017/), added after the name itself is checked."""
    words = clean_caption(text)
    problem = _name_problem(name)
    name = f"{folder}/{name}" if folder and name else name
    if not name or not words:
        dataset.bad_lines.append(f"{where}: empty photo name or caption")
    elif problem:
        dataset.bad_lines.append(f"{where}: {problem}")
    elif not dataset.image_path(name).is_file():
        if name not in dataset.missing_images:
            dataset.missing_images.append(name)
    else:
        dataset.captions.setdefault(name, []).append(words)


def _read_token_file(dataset, path):
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        key, tab, text = line.partition("\t")
        if not tab:
            dataset.bad_lines.append(f"{path}:{number}: no tab between photo and caption")
            continue
        _add_caption(dataset, key.rsplit("#", 1)[0].strip(), text, f"{path}:{number}")


def _read_csv_file(dataset, path):
    rows = csv.reader(_read_text(path).splitlines())
    header = [h.strip().lower() for h in next(rows, [])]
    if "image" not in header or "caption" not in header:
        raise DatasetError(f"{path}: first line must be the header 'image,caption'")
    image_col, caption_col = header.index("image"), header.index("caption")
    for number, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            # captions with unquoted commas: everything after the image column is the caption
            if image_col == 0 and caption_col == 1 and len(row) > 2:
                row = [row[0], ",".join(row[1:])]
            else:
                dataset.bad_lines.append(f"{path}:{number}: expected {len(header)} columns, found {len(row)}")
                continue
        _add_caption(dataset, row[image_col].strip(), row[caption_col], f"{path}:{number}")


def _read_split_file(dataset, split, path):
    names = [line.strip() for line in _read_text(path).splitlines() if line.strip()]
    kept = [name for name in names if name in dataset.captions]
    if not kept:
        raise DatasetError(f"{path}: the {split} split names no photo that has captions")
    dataset.splits[split] = kept
    dataset.split_without_captions.extend(f"{path.name}: {name}" for name in names if name not in dataset.captions)


# Longest photo file name accepted in a caption file (most file systems allow 255 bytes).
MAX_PHOTO_NAME = 255


def derive_splits(names: Iterable[str], seed: int = SEED) -> dict:
    """A reproducible train/dev/test split of photo names (about 6:1:1)."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    eval_size = max(1, round(len(shuffled) * DERIVED_EVAL_FRACTION)) if len(shuffled) >= 3 else 0
    if len(shuffled) < 3:
        raise DatasetError(f"only {len(shuffled)} photos with captions: need at least 3 to split")
    return {
        "dev": sorted(shuffled[:eval_size]),
        "test": sorted(shuffled[eval_size:2 * eval_size]),
        "train": sorted(shuffled[2 * eval_size:]),
    }


def _find_csv(root) -> Path:
    if (root / "captions.txt").is_file():
        return root / "captions.txt"
    candidates = sorted(root.glob("*.csv"))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DatasetError(f"{root}: no Flickr8k files, captions.txt or .csv caption file found")
    raise DatasetError(f"{root}: several .csv files; keep one 'image,caption' file in the folder")


def load_dataset(root: PathLike) -> Dataset:
    """Detect the layout of a data set folder and read it."""
    from ml.data.coco_flickr30k import flickr30k_image_dir, layout_of, read_coco, read_flickr30k

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found")
    layout = layout_of(root)
    if layout == "coco":
        dataset = Dataset(root, "coco", root)
        read_coco(dataset)
        return dataset
    if layout == "flickr30k":
        dataset = Dataset(root, "flickr30k", flickr30k_image_dir(root))
        read_flickr30k(dataset)
        return dataset
    image_dirs = [root / d for d in ORIGINAL_IMAGE_DIRS if (root / d).is_dir()]
    if image_dirs and (root / TOKEN_FILE).is_file():
        dataset = Dataset(root, "flickr8k", image_dirs[0])
        _read_token_file(dataset, root / TOKEN_FILE)
        if not dataset.captions:
            raise DatasetError(f"{root / TOKEN_FILE}: no caption names a photo in {image_dirs[0]}")
        if all((root / f).is_file() for f in SPLIT_FILES.values()):
            for split, file in SPLIT_FILES.items():
                _read_split_file(dataset, split, root / file)
        else:
            dataset.splits = derive_splits(dataset.captions)
        return dataset
    caption_file = _find_csv(root)
    image_dir = root / "Images" if (root / "Images").is_dir() else root
    dataset = Dataset(root, "csv", image_dir)
    _read_csv_file(dataset, caption_file)
    if not dataset.captions:
        raise DatasetError(f"{caption_file}: no caption names a photo in {image_dir}")
    dataset.splits = derive_splits(dataset.captions)
    return dataset
