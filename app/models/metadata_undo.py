"""Undo for writing captions into photos: before each Save into photo(s), a copy of every file about to be
changed (the photo, or its .xmp sidecar) is kept, so Ctrl+Z puts the files back as they were, their own
descriptions included. Only the last save is kept: its copies replace the ones before."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Iterable

from ml.core.atomic import replace_atomically, rewrite_in_place, write_text_atomically
from ml.outputs.metadata import IN_FILE_FORMATS, photo_format, sidecar_path

MANIFEST = "undo.json"


def _written_file(photo: Path) -> Path:
    """The file a caption write changes: the photo itself (where it really is), or its sidecar."""
    return photo.resolve() if photo_format(photo) in IN_FILE_FORMATS else sidecar_path(photo)


def _copier(source: Path) -> Callable[[Path], object]:
    return lambda temp: shutil.copy2(source, temp)


class MetadataUndo:
    """The files of the last Save into photo(s), as they were before it (runs on a worker: it copies files)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def keep_before(self, photos: Iterable[Path]) -> None:
        """Copy each file the save will change; a sidecar not there yet is recorded as absent."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        files: dict[str, str] = {}
        for number, photo in enumerate(photos):
            target = _written_file(Path(photo))
            if target.exists():
                shutil.copy2(target, self.folder / f"{number}{target.suffix}")
                files[str(target)] = f"{number}{target.suffix}"
            else:
                files[str(target)] = ""
        write_text_atomically(self.folder / MANIFEST, json.dumps(files))

    def available(self) -> bool:
        return (self.folder / MANIFEST).is_file()

    def restore(self) -> int:
        """Put every file of the last save back as it was; returns how many. A sidecar the save made is
        removed. Hard-linked photos are rewritten in place, as the save wrote them."""
        files = json.loads((self.folder / MANIFEST).read_text())
        for target_name, kept in files.items():
            target = Path(target_name)
            if not kept:
                target.unlink(missing_ok=True)
                continue
            source = self.folder / kept
            in_place = target.exists() and target.stat().st_nlink > 1
            (rewrite_in_place if in_place else replace_atomically)(target, _copier(source), suffix=target.suffix)
        shutil.rmtree(self.folder, ignore_errors=True)
        return len(files)
