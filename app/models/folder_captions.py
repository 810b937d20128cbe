"""Captions of a folder's photos, editable, and their export as sidecars, CSV or JSON (atomic writes)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Optional

from ml.annotations import PathLike
from ml.atomic import write_text_atomically
from ml.exports import SidecarReport, existing_sidecars, write_sidecars
from ml.results import CaptionResult

log = logging.getLogger(__name__)


class FolderCaptions:
    """One folder's captions as they are made and edited, kept (autosaved) in the user data folder so that
    edits survive choosing another folder, a crash or a restart."""

    def __init__(self, autosave_dir: Optional[Path] = None):
        self.folder: Optional[Path] = None
        self.rows: list[CaptionResult] = []
        self.edited: set[int] = set()  # indexes of rows the user changed
        self.autosave_dir = autosave_dir

    def reset(self, folder: PathLike) -> None:
        self.folder, self.rows, self.edited = Path(folder), [], set()

    def add(self, result: CaptionResult) -> int:
        """Keep a result; returns its row index."""
        self.rows.append(CaptionResult(Path(result.path), result.caption, result.error))
        return len(self.rows) - 1

    def edit(self, index: int, caption: str) -> None:
        self.rows[index].caption = caption
        self.edited.add(index)
        self.save()

    # ============ autosave ============
    def autosave_path(self) -> Optional[Path]:
        if self.autosave_dir is None or self.folder is None:
            return None
        digest = hashlib.sha256(str(self.folder.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:20]
        return self.autosave_dir / f"{digest}.json"

    def save(self) -> None:
        """Write the rows and edits (atomically); a folder that cannot be written just loses the autosave."""
        target = self.autosave_path()
        if target is None:
            return
        rows = [{"image": row.path.name, "caption": row.caption, "error": row.error, "edited": i in self.edited}
                for i, row in enumerate(self.rows)]
        try:
            write_text_atomically(target, json.dumps({"folder": str(self.folder), "rows": rows}, ensure_ascii=False))
        except OSError as error:
            log.warning("%s: captions not autosaved (%s)", target, error.strerror or error)

    def restore(self, photos: list[Path]) -> int:
        """Bring back the autosaved rows of this folder whose photos are still there; returns how many."""
        target = self.autosave_path()
        try:
            saved = json.loads(target.read_text(encoding="utf-8")) if target and target.is_file() else {}
            rows = saved.get("rows", []) if isinstance(saved, dict) else []
            present = {photo.name: photo for photo in photos}
            for row in rows:
                if isinstance(row, dict) and row.get("image") in present:
                    index = self.add(CaptionResult(present[row["image"]], str(row.get("caption", "")),
                                                   str(row.get("error", ""))))
                    if row.get("edited"):
                        self.edited.add(index)
        except (OSError, ValueError, AttributeError) as error:
            log.warning("%s: autosaved captions ignored (%s)", target, error)
        return len(self.rows)

    def captioned(self) -> list:
        return [row for row in self.rows if not row.error]

    def errors(self) -> list:
        return [row.error for row in self.rows if row.error]

    def sidecars_in_the_way(self) -> list[Path]:
        """Existing files with other text that a sidecar export would replace (ask first)."""
        return existing_sidecars(self.captioned())

    def export_sidecars(self, overwrite: bool = False) -> SidecarReport:
        """photo.jpg -> photo.txt next to it (photo.jpg.txt where names collide); other files kept unless
        overwrite."""
        return write_sidecars(self.captioned(), overwrite)

    def export_csv(self, target: PathLike) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows([row.path.name, row.caption] for row in self.captioned())
        write_text_atomically(target, buffer.getvalue())

    def export_json(self, target: PathLike) -> None:
        data = [{"image": row.path.name, "caption": row.caption} for row in self.captioned()]
        write_text_atomically(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
