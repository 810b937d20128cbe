"""What every caption data set is once read, whatever its layout: photos, their cleaned captions, the
splits, and what was wrong with the input; with the helpers each layout reader shares."""
from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from ml.core.defaults import SEED
from ml.core.errors import UserError
from ml.core.types import PathLike

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


# No caption file is this large (COCO's largest, Karpathy's dataset_coco.json, is about 140 MB): reading one
# whole cost six times its size in memory (a 1 GiB JSON peaked at 6.5 GiB, issue 24 N14).
MAX_CAPTION_FILE_BYTES = 512 << 20


def read_text(path: PathLike) -> str:
    """A caption file's text (UTF-8, a BOM allowed), or one DatasetError line naming the file."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_CAPTION_FILE_BYTES:
            raise DatasetError(f"{path}: {size / 2**20:.0f} MB is more than a caption file holds "
                               f"(at most {MAX_CAPTION_FILE_BYTES >> 20} MB)")
        return Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from None


def _name_problem(name: str) -> Optional[str]:
    """Why `name` cannot be a photo file beside the others, or None ."""
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PHOTO_NAME:
        return f"photo name longer than {MAX_PHOTO_NAME} bytes ({name[:30]}...)"
    if any(mark in name for mark in ("/", "\\", "\0")):
        return f"photo name with a path or NUL in it ({name[:60]})"
    return None


def add_caption(dataset: Dataset, name: str, text: str, where: str, folder: str = "") -> None:
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
