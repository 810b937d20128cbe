"""Captions of a folder's photos, editable, and their export as sidecars, CSV or JSON (atomic writes)."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Collection, Optional

from ml.captioning.results import CaptionResult
from ml.core.atomic import write_text_atomically
from ml.core.types import PathLike
from ml.outputs.metadata import MetadataReport, write_captions
from ml.outputs.sidecars import SidecarReport, existing_sidecars, write_sidecars

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
        self.rows.append(dataclasses.replace(result, path=Path(result.path), tags=list(result.tags),
                                             reasons=list(result.reasons)))
        return len(self.rows) - 1

    def edit(self, index: int, caption: str) -> None:
        """The user's words replace the model's: its confidence and doubts no longer apply."""
        row = self.rows[index]
        row.caption, row.confidence, row.unsure, row.reasons, row.looks_like = caption, None, False, [], ""
        self.edited.add(index)
        self.save()

    def row_facts(self, index: int) -> dict:
        """One row as exported and autosaved: the plain caption with how sure it is and the encoder's tags."""
        row = self.rows[index]
        return {"image": row.path.name, "caption": row.caption, "confidence": row.confidence, "unsure": row.unsure,
                "reasons": row.reasons, "tags": row.tags_json(),
                "edited": index in self.edited}

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
        rows = [self.row_facts(i) | {"error": row.error} for i, row in enumerate(self.rows)]
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
                    index = self.add(_restored_row(present[row["image"]], row))
                    if row.get("edited"):
                        self.edited.add(index)
        except (OSError, ValueError, AttributeError, TypeError, KeyError) as error:
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

    def _captioned_facts(self) -> list[dict]:
        return [self.row_facts(i) for i, row in enumerate(self.rows) if not row.error]

    def export_csv(self, target: PathLike) -> None:
        """image, caption, confidence (blank when unknown), unsure, tags ('espresso 0.86; cup 0.05')."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["image", "caption", "confidence", "unsure", "tags"])
        for facts in self._captioned_facts():
            tags = "; ".join(f"{tag['label']} {tag['probability']:.2f}" for tag in facts["tags"])
            confidence = "" if facts["confidence"] is None else facts["confidence"]
            writer.writerow([facts["image"], facts["caption"], confidence, "yes" if facts["unsure"] else "no", tags])
        write_text_atomically(target, buffer.getvalue())

    def export_metadata(self, replace_in: Collection[Path] = (), unsure: str = "hedge") -> MetadataReport:
        """Each captioned photo's caption into its own metadata (or its .xmp sidecar); a description a photo
        already has is kept (in the report) unless the photo is in `replace_in`; unsure captions hedged or
        skipped (`unsure`, ml/outputs/metadata.py); a photo that cannot be written is reported and the rest
        go on. Runs on a worker: it rewrites many files."""
        if replace_in:
            return write_captions([row for row in self.captioned() if row.path in replace_in], True, unsure)
        return write_captions(self.captioned(), unsure=unsure)

    def unsure_count(self) -> int:
        return sum(row.unsure for row in self.captioned())

    def export_json(self, target: PathLike) -> None:
        data = self._captioned_facts()
        write_text_atomically(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _restored_row(path: Path, saved: dict) -> CaptionResult:
    """A row from the autosave file (which the user could have edited: every field checked for its type)."""
    confidence = saved.get("confidence")
    tags = [(str(tag["label"]), float(tag["probability"])) for tag in saved.get("tags") or []
            if isinstance(tag, dict) and isinstance(tag.get("probability"), (int, float))]
    return CaptionResult(path, str(saved.get("caption", "")), str(saved.get("error", "")), tags,
                         float(confidence) if isinstance(confidence, (int, float)) else None,
                         bool(saved.get("unsure")), [str(reason) for reason in saved.get("reasons") or []])
