"""Captions written next to the photos as .txt sidecars, without ever replacing a file the user has
unless asked: two photos with one name (beach.jpg, beach.png) get beach.jpg.txt and beach.png.txt, and a
sidecar that exists with other text is kept unless overwrite is set."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ml.captioning.results import CaptionResult
from ml.core.atomic import write_text_atomically


@dataclass
class SidecarReport:
    """What an export did: files written, existing files kept (not replaced), names made distinct."""

    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    distinct: list[Path] = field(default_factory=list)  # photo.jpg.txt because another photo is photo.*

    def summary(self) -> str:
        parts = [f"Wrote {len(self.written)} caption file{'s' * (len(self.written) != 1)} next to the photos"]
        if self.kept:
            parts.append(f"kept {len(self.kept)} existing file{'s' * (len(self.kept) != 1)} "
                         f"with other text (e.g. {self.kept[0].name})")
        if self.distinct:
            parts.append(f"{len(self.distinct)} photos share a name with another, so their files are named "
                         f"like {self.distinct[0].name}")
        return "; ".join(parts)


def sidecar_paths(photos: Sequence[Path]) -> dict[Path, Path]:
    """photo -> its sidecar: photo.txt, or photo.jpg.txt where two photos in one folder share a stem."""
    stems = Counter((photo.parent, photo.stem) for photo in photos)
    return {photo: photo.with_suffix(".txt") if stems[(photo.parent, photo.stem)] == 1
            else photo.with_name(photo.name + ".txt") for photo in photos}


def existing_sidecars(results: Sequence[CaptionResult]) -> list[Path]:
    """The sidecars an export would replace that hold something else: ask before overwriting these."""
    targets = sidecar_paths([r.path for r in results if not r.error])
    captions = {r.path: r.caption for r in results if not r.error}
    return [target for photo, target in targets.items()
            if target.exists() and _read(target) != captions[photo] + "\n"]


def write_sidecars(results: Sequence[CaptionResult], overwrite: bool = False,
                   all_photos: Sequence[Path] = ()) -> SidecarReport:
    """Write each captioned photo's sidecar (atomically); other files in the way are kept unless overwrite.
    all_photos: every photo of the job, when `results` are some of them (names must not depend on which)."""
    captioned = [r for r in results if not r.error]
    targets = sidecar_paths(list(all_photos) or [r.path for r in captioned])
    report = SidecarReport()
    for result in captioned:
        target = targets[result.path]
        text = result.caption + "\n"
        if target.exists() and _read(target) != text and not overwrite:
            report.kept.append(target)
            continue
        write_text_atomically(target, text)
        report.written.append(target)
        if target.name == result.path.name + ".txt":
            report.distinct.append(target)
    return report


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "\0unreadable"  # never equal to a caption: treated as the user's own file
