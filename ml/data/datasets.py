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
from pathlib import Path

from ml.core.types import PathLike
from ml.data.captions import SPLITS, Dataset, DatasetError, add_caption, clean_caption, derive_splits, read_text
from ml.data.coco_flickr30k import flickr30k_image_dir, layout_of, read_coco, read_flickr30k

__all__ = ["SPLITS", "Dataset", "DatasetError", "clean_caption", "derive_splits", "load_dataset"]

ORIGINAL_IMAGE_DIRS = ("Flicker8k_Dataset", "Flickr8k_Dataset")
TOKEN_FILE = Path("Flickr8k_text", "Flickr8k.token.txt")
SPLIT_FILES = {
    "train": Path("Flickr8k_text", "Flickr_8k.trainImages.txt"),
    "dev": Path("Flickr8k_text", "Flickr_8k.devImages.txt"),
    "test": Path("Flickr8k_text", "Flickr_8k.testImages.txt"),
}
def _read_token_file(dataset, path):
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        key, tab, text = line.partition("\t")
        if not tab:
            dataset.bad_lines.append(f"{path}:{number}: no tab between photo and caption")
            continue
        add_caption(dataset, key.rsplit("#", 1)[0].strip(), text, f"{path}:{number}")


def _csv_rows(dataset, path):
    """(line number, cells) of each CSV record; a record the csv module refuses (a field over its 128 KB
    limit, a stray NUL) is named among the bad lines and skipped, and the reading goes on."""
    reader = csv.reader(read_text(path).splitlines())
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            dataset.bad_lines.append(f"{path}:{reader.line_num}: {error}")
            continue
        yield reader.line_num, row


def _read_csv_file(dataset, path):
    rows = _csv_rows(dataset, path)
    header = [h.strip().lower() for h in next(rows, (1, []))[1]]
    if "image" not in header or "caption" not in header:
        raise DatasetError(f"{path}: first line must be the header 'image,caption'")
    image_col, caption_col = header.index("image"), header.index("caption")
    for number, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            # captions with unquoted commas: everything after the image column is the caption
            if image_col == 0 and caption_col == 1 and len(row) > 2:
                row = [row[0], ",".join(row[1:])]
            else:
                dataset.bad_lines.append(f"{path}:{number}: expected {len(header)} columns, found {len(row)}")
                continue
        add_caption(dataset, row[image_col].strip(), row[caption_col], f"{path}:{number}")


def _read_split_file(dataset, split, path):
    names = [line.strip() for line in read_text(path).splitlines() if line.strip()]
    kept = [name for name in names if name in dataset.captions]
    if not kept:
        raise DatasetError(f"{path}: the {split} split names no photo that has captions")
    dataset.splits[split] = kept
    dataset.split_without_captions.extend(f"{path.name}: {name}" for name in names if name not in dataset.captions)


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
