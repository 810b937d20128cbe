"""The two larger caption data sets users train on beyond Flickr8k, in the layouts they are distributed in.

- "coco": MS-COCO captions, `annotations/captions_train2017.json` and/or `captions_val2017.json`
  (`images[{id, file_name}]`, `annotations[{image_id, caption}]`) with the photos in `train2017/` and
  `val2017/`. Splits: Karpathy's `dataset_coco.json` where present (by `cocoid`; its "restval" photos train,
  "val" is dev), else train2017 trains and val2017 is halved into dev and test (seeded).
- "flickr30k": Karpathy's `dataset_flickr30k.json` (`images[{filename, split, sentences[{raw}]}]`, its own
  splits), else `results.csv` (`image_name| comment_number| comment` rows, as Kaggle distributes it) with a
  derived split; photos in `flickr30k_images/` (the Kaggle copy nests it twice), `Images/` or beside.
Photo names are paths under the data set folder ("val2017/000000000139.jpg"), each part checked.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable, Optional

from ml.core.defaults import SEED
from ml.data.captions import Dataset, DatasetError, add_caption, derive_splits, read_text

COCO_ANNOTATIONS = {"train": Path("annotations", "captions_train2017.json"),
                    "val": Path("annotations", "captions_val2017.json")}
COCO_KARPATHY = "dataset_coco.json"
FLICKR30K_KARPATHY = "dataset_flickr30k.json"
FLICKR30K_RESULTS = "results.csv"
# Karpathy's split names -> this app's.
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "dev", "test": "test"}


def _json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except (json.JSONDecodeError, RecursionError) as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from None


def _records(path: Path, data: Any, key: str) -> list:
    records = data.get(key) if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise DatasetError(f"{path}: no '{key}' list (not a caption file of this layout)")
    return records


def is_coco(root: Path) -> bool:
    return any((root / file).is_file() for file in COCO_ANNOTATIONS.values())


def is_flickr30k(root: Path) -> bool:
    return (root / FLICKR30K_KARPATHY).is_file() or (root / FLICKR30K_RESULTS).is_file()


def _coco_part(dataset: Dataset, part: str, path: Path) -> dict[int, str]:
    """Read one COCO caption file; returns its image ids -> photo names (folder/file)."""

    data = _json(path)
    names: dict[int, str] = {}
    for number, image in enumerate(_records(path, data, "images")):
        if isinstance(image, dict) and isinstance(image.get("id"), int) and isinstance(image.get("file_name"), str):
            names[image["id"]] = image["file_name"]
        else:
            dataset.bad_lines.append(f"{path}: images[{number}]: no id and file_name")
    for number, annotation in enumerate(_records(path, data, "annotations")):
        if not isinstance(annotation, dict) or not isinstance(annotation.get("caption"), str):
            dataset.bad_lines.append(f"{path}: annotations[{number}]: no caption")
        elif annotation.get("image_id") not in names:
            dataset.bad_lines.append(f"{path}: annotations[{number}]: image_id {annotation.get('image_id')!r} not in images")
        else:
            add_caption(dataset, names[annotation["image_id"]], annotation["caption"], f"{path}: annotations[{number}]",
                         folder=f"{part}2017")
    return {image_id: f"{part}2017/{name}" for image_id, name in names.items()}


def _karpathy_splits(path: Path, data: Any, photo_of: Callable[[dict], Optional[str]], dataset: Dataset) -> dict:
    """Splits from a Karpathy file: each image's split, matched to a photo by `photo_of(image)`."""
    splits: dict[str, list] = {"train": [], "dev": [], "test": []}
    for image in _records(path, data, "images"):
        name = photo_of(image) if isinstance(image, dict) else None
        split = KARPATHY_SPLITS.get(str(image.get("split"))) if isinstance(image, dict) else None
        if name in dataset.captions and split:
            splits[split].append(name)
        elif name is not None:
            dataset.split_without_captions.append(f"{path.name}: {name}")
    return {split: sorted(names) for split, names in splits.items()}


def _photo_of_cocoid(ids: dict[int, str], image: dict) -> Optional[str]:
    cocoid = image.get("cocoid")
    return ids.get(cocoid) if isinstance(cocoid, int) else None


def read_coco(dataset: Dataset) -> None:
    root = dataset.root
    ids: dict[int, str] = {}
    for part, file in COCO_ANNOTATIONS.items():
        if (root / file).is_file():
            ids.update(_coco_part(dataset, part, root / file))
    if not dataset.captions:
        raise DatasetError(f"{root}: the COCO caption files name no photo found in train2017/ or val2017/")
    karpathy = root / COCO_KARPATHY
    if karpathy.is_file():
        dataset.splits = _karpathy_splits(karpathy, _json(karpathy),
                                          lambda image: _photo_of_cocoid(ids, image), dataset)
    else:
        val = sorted(name for name in dataset.captions if name.startswith("val2017/"))
        random.Random(SEED).shuffle(val)
        half = len(val) // 2
        dataset.splits = {"train": sorted(n for n in dataset.captions if n.startswith("train2017/")),
                          "dev": sorted(val[:half]), "test": sorted(val[half:])}
        if not half:
            raise DatasetError(f"{root}: no photos for the dev and test splits (they come from val2017/ with "
                               f"annotations/captions_val2017.json, or from Karpathy's {COCO_KARPATHY})")
    if not dataset.splits["train"]:
        raise DatasetError(f"{root}: no training photos (train2017/ or Karpathy's train split is empty here)")


def flickr30k_image_dir(root: Path) -> Path:
    for candidate in (root / "flickr30k_images" / "flickr30k_images", root / "flickr30k_images", root / "Images"):
        if candidate.is_dir():
            return candidate
    return root


def _read_results_csv(dataset: Dataset, path: Path) -> None:
    """`image_name| comment_number| comment` rows (the header is such a row)."""

    lines = read_text(path).splitlines()
    if not lines or [cell.strip() for cell in lines[0].split("|")] != ["image_name", "comment_number", "comment"]:
        raise DatasetError(f"{path}: first line must be the header 'image_name| comment_number| comment'")
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cells = line.split("|", 2)
        if len(cells) != 3:
            dataset.bad_lines.append(f"{path}:{number}: expected 3 '|'-separated fields, found {len(cells)}")
            continue
        add_caption(dataset, cells[0].strip(), cells[2], f"{path}:{number}")


def read_flickr30k(dataset: Dataset) -> None:
    karpathy = dataset.root / FLICKR30K_KARPATHY
    if karpathy.is_file():
        data = _json(karpathy)
        for number, image in enumerate(_records(karpathy, data, "images")):
            sentences = image.get("sentences") if isinstance(image, dict) else None
            if not isinstance(image, dict) or not isinstance(image.get("filename"), str) or not isinstance(sentences, list):
                dataset.bad_lines.append(f"{karpathy}: images[{number}]: no filename and sentences")
                continue
            for sentence in sentences:
                raw = sentence.get("raw") if isinstance(sentence, dict) else None
                if isinstance(raw, str):
                    add_caption(dataset, image["filename"], raw, f"{karpathy}: images[{number}]")
        dataset.splits = _karpathy_splits(karpathy, data, lambda image: image.get("filename"), dataset)
    else:
        _read_results_csv(dataset, dataset.root / FLICKR30K_RESULTS)
        if dataset.captions:
            dataset.splits = derive_splits(dataset.captions)
    if not dataset.captions:
        raise DatasetError(f"{dataset.root}: the Flickr30k caption file names no photo found in {dataset.image_dir}")


def layout_of(root: Path) -> Optional[str]:
    """'coco', 'flickr30k' or None (another layout) for a data set folder."""
    if is_coco(root):
        return "coco"
    if is_flickr30k(root):
        return "flickr30k"
    return None
