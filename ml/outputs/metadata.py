"""Captions into the photos themselves, where photo managers and screen readers look for a description.

Written with exiv2 (the `pyexiv2` package: the library digiKam, darktable and GIMP read and write metadata
with), which edits the metadata blocks and leaves the compressed image data alone:
- JPEG, WebP, TIFF: EXIF ImageDescription, XPComment (Windows' "Comments", Unicode) and UserComment, and
  XMP dc:description;
- PNG: the same EXIF and XMP, and a "Description" iTXt chunk (PNG's own keyword for it);
- any other format (BMP, GIF, ...): an XMP sidecar `photo.ext.xmp` (how darktable and digiKam name them).
Every other field is kept. The photo is rewritten atomically: a copy is edited, flushed to the disk and
verified (it decodes to the same pixels, and the caption reads back from it) before it is renamed over the
photo, so neither a crash nor a full disk (where exiv2 writes a short copy without a word) ever leaves less
than the whole photo. Nothing here runs unless the user asks (a button, an export, a CLI flag).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from PIL import Image, UnidentifiedImageError

from ml.captioning.results import CaptionResult
from ml.core.atomic import replace_atomically, rewrite_in_place
from ml.core.errors import UserError
from ml.core.types import PathLike

# Formats whose files carry EXIF and XMP inside (as exiv2 writes them).
IN_FILE_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
EMPTY_XMP_PACKET = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
                    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                    '</rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>')


class MetadataError(UserError):
    """A photo whose metadata cannot be written; the message names the file and the problem."""


class DescriptionKept(MetadataError):
    """The photo already has a description of its own, other than the caption: it was kept, not replaced
    (replace=True replaces it; the app asks first, the CLI takes --replace-descriptions)."""

    def __init__(self, photo: Path, existing: str):
        shown = existing if len(existing) <= 60 else existing[:57] + "..."
        super().__init__(f"{photo}: has a description of its own (\"{shown}\"), kept")
        self.photo, self.existing = photo, existing


def photo_format(photo: Path) -> str:
    try:
        with Image.open(photo) as image:
            return image.format or ""
    except (OSError, UnidentifiedImageError) as error:
        raise MetadataError(f"{photo}: not a photo this app can read ({error})") from None


def sidecar_path(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def _exif_fields(caption: str) -> dict:
    return {"Exif.Image.ImageDescription": caption, "Exif.Image.XPComment": caption,
            "Exif.Photo.UserComment": f"charset=Unicode {caption}"}


def _xmp_fields(caption: str, existing: object) -> dict:
    """dc:description is a language alternative: the caption becomes its default, other languages stay."""
    languages = dict(existing) if isinstance(existing, dict) else {}
    return {"Xmp.dc.description": {**languages, 'lang="x-default"': caption}}


def _edit(path: Path, caption: str, image_format: str) -> None:
    """Set the caption in the metadata of the file at `path`, in place (called on a temp copy)."""
    import pyexiv2

    with pyexiv2.Image(str(path)) as image:
        if image_format in IN_FILE_FORMATS:
            image.modify_exif(_exif_fields(caption))
        image.modify_xmp(_xmp_fields(caption, image.read_xmp().get("Xmp.dc.description")))
        if image_format == "PNG":
            image.modify_comment(caption)  # exiv2 writes a PNG's comment as the iTXt "Description" chunk


def _pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.tobytes()


def _xmp_description(path: Path) -> str:
    """The x-default dc:description of a file's XMP (a photo's own, or a sidecar's)."""
    import pyexiv2

    with pyexiv2.Image(str(path)) as image:
        description = image.read_xmp().get("Xmp.dc.description", "")
    if isinstance(description, dict):
        return str(description.get('lang="x-default"', next(iter(description.values()), "")))
    return str(description)


def _verify(photo: Path, edited: Path, caption: str, in_file: bool) -> None:
    """The edited copy must be whole before it replaces anything: the caption reads back from it and, for a
    photo, it decodes to exactly the photo's pixels."""
    try:
        whole = _xmp_description(edited) == caption and (not in_file or _pixels(edited) == _pixels(photo))
    except (OSError, RuntimeError, UnidentifiedImageError, ValueError):  # truncated, unreadable
        whole = False
    if not whole:
        raise MetadataError(f"{photo}: the edited copy came out incomplete (is the disk full?); "
                            "the photo was left as it was")


def _descriptions(path: Path) -> list[str]:
    """Every description a file holds (XMP dc:description in any language, EXIF ImageDescription,
    UserComment, XPComment), without empty ones."""
    import pyexiv2

    with pyexiv2.Image(str(path)) as image:
        xmp = image.read_xmp().get("Xmp.dc.description", "")
        exif = image.read_exif() if path.suffix.lower() != ".xmp" else {}
    found = list(xmp.values()) if isinstance(xmp, dict) else [xmp]
    found += [exif.get("Exif.Image.ImageDescription", ""), exif.get("Exif.Image.XPComment", ""),
              re.sub(r"^charset=\S+\s*", "", str(exif.get("Exif.Photo.UserComment", "")))]
    return [text for text in (" ".join(str(value).split()) for value in found) if text]


def existing_description(photo: PathLike) -> str:
    """The description the photo (or its .xmp sidecar) already holds, the first found; empty when none."""
    photo = Path(photo)
    source = photo if photo_format(photo) in IN_FILE_FORMATS else sidecar_path(photo)
    try:
        return next(iter(_descriptions(source)), "") if source.exists() else ""
    except RuntimeError as error:  # exiv2 cannot read it: then writing will say so
        raise MetadataError(f"{photo}: its metadata cannot be read ({error})") from None


def _keep_owner(original: Path, copy: Path) -> None:
    """The edited copy belongs to whoever owned the photo (run as root, another user's photo stayed theirs only
    this way); a user who is not root can only own what they write, and their photos are theirs anyway."""
    status = original.stat()
    if getattr(os, "geteuid", lambda: -1)() == 0 and (status.st_uid, status.st_gid) != (0, 0):  # no geteuid on Windows
        os.chown(copy, status.st_uid, status.st_gid)
        os.chmod(copy, status.st_mode & 0o7777)  # chown clears set-id bits: the mode is set again


def write_caption(photo: PathLike, caption: str, replace: bool = False) -> Path:
    """Write the caption as the photo's description; returns the file written (the photo, or its sidecar).
    A description of the photo's own, other than this caption, is kept (DescriptionKept) unless `replace`."""
    photo = Path(photo)
    caption = " ".join(caption.split())
    if not caption:
        raise MetadataError(f"{photo}: no caption to write")
    image_format = photo_format(photo)
    # A linked photo is edited where it really is: the link stays a link (issue 24 N4).
    target = photo.resolve() if image_format in IN_FILE_FORMATS else sidecar_path(photo)
    existing = existing_description(photo)
    if existing and existing != caption and not replace:
        raise DescriptionKept(photo, existing)

    in_file = image_format in IN_FILE_FORMATS

    def write(temp: Path) -> None:
        if in_file:
            shutil.copy2(target, temp)  # permissions and times kept; the copy is edited, then renamed
            _keep_owner(target, temp)
        elif target.exists():
            shutil.copy2(target, temp)  # an existing sidecar keeps its other fields
        else:
            temp.write_text(EMPTY_XMP_PACKET, encoding="utf-8")
        try:
            _edit(temp, caption, image_format if in_file else "XMP")
        except RuntimeError as error:  # exiv2 reports every problem this way
            raise MetadataError(f"{photo}: its metadata cannot be written ({error})") from None

    # A photo with other hard links is rewritten in place, so every name keeps seeing one file.
    writer = rewrite_in_place if in_file and target.stat().st_nlink > 1 else replace_atomically
    try:
        writer(target, write, suffix=target.suffix, verify=lambda edited: _verify(photo, edited, caption, in_file))
        return target
    except OSError as error:  # the folder or the photo cannot be written
        raise MetadataError(f"{photo}: cannot write ({error.strerror or error})") from None


@dataclass
class MetadataReport:
    """What writing captions into photos did: photos written, sidecars written, one-line failures."""

    photos: list[Path] = field(default_factory=list)
    sidecars: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    kept: list[DescriptionKept] = field(default_factory=list)  # photos whose own description was kept
    skipped_unsure: int = 0  # unsure captions left out when asked to skip them

    def summary(self) -> str:
        parts = [f"Saved captions into {len(self.photos)} photo{'s' * (len(self.photos) != 1)}"]
        if self.sidecars:
            parts.append(f"{len(self.sidecars)} as .xmp files beside photos that cannot hold them")
        if self.kept:
            whose = "photos' own descriptions" if len(self.kept) != 1 else "photo's own description"
            parts.append(f"kept {len(self.kept)} {whose} (e.g. \"{self.kept[0].existing[:40]}\")")
        if self.skipped_unsure:
            parts.append(f"skipped {self.skipped_unsure} unsure caption{'s' * (self.skipped_unsure != 1)}")
        if self.failed:
            parts.append(f"{len(self.failed)} failed (listed below)")
        return "; ".join(parts)


UNSURE_CHOICES = ("hedge", "skip")


def write_captions(results: Iterable[CaptionResult], replace: bool = False, unsure: str = "hedge") -> MetadataReport:
    """Each captioned result's caption into its photo (or sidecar); a photo's own description is kept unless
    `replace`, a photo that cannot be written is reported in one line, and the rest go on. An unsure
    caption is never written as fact: with unsure="hedge" it is written as the app says it ("I'm not sure;
    …"), with "skip" it is left out."""
    report = MetadataReport()
    for result in results:
        if result.error:
            continue
        if result.unsure and unsure == "skip":
            report.skipped_unsure += 1
            continue
        try:
            written = write_caption(result.path, result.text if result.unsure else result.caption, replace)
        except DescriptionKept as kept:
            report.kept.append(kept)
            continue
        except MetadataError as error:
            report.failed.append(str(error))
            continue
        (report.photos if written == result.path else report.sidecars).append(written)
    return report


def read_caption(photo: PathLike) -> str:
    """The description written by `write_caption` (XMP dc:description of the photo or its sidecar)."""
    photo = Path(photo)
    source = photo if photo_format(photo) in IN_FILE_FORMATS else sidecar_path(photo)
    if not source.exists():
        return ""
    return _xmp_description(source)
