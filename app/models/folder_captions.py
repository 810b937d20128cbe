"""Captions of a folder's photos, editable, and their export as sidecars, CSV or JSON (atomic writes)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ml.annotations import PathLike
from ml.atomic import write_text_atomically
from ml.exports import SidecarReport, existing_sidecars, write_sidecars
from ml.results import CaptionResult


class FolderCaptions:
    def __init__(self):
        self.folder, self.rows = None, []

    def reset(self, folder: PathLike) -> None:
        self.folder, self.rows = Path(folder), []

    def add(self, result: CaptionResult) -> None:
        self.rows.append(CaptionResult(Path(result.path), result.caption, result.error))

    def edit(self, index: int, caption: str) -> None:
        self.rows[index].caption = caption

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
