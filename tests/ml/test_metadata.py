"""Captions into the photos' metadata (issue 17): written where photo managers look, read back by exiftool (an
independent reader, Debian's libimage-exiftool-perl), with the pixels and every other field kept."""
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageCms

from ml.honesty.hedging import as_clause
from ml.outputs.metadata import MetadataError, read_caption, sidecar_path, write_caption
from tests.conftest import REPO, skip_outside_ci

CAPTION = "a brown dog runs über den Strand"  # not only ASCII: user-edited captions may be anything


def exiftool(*args):
    if shutil.which("exiftool") is None:
        skip_outside_ci("exiftool missing (scripts/setup.sh installs libimage-exiftool-perl)")
    run = subprocess.run(["exiftool", "-j", "-G1", *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)[0]


def photo_with_metadata(path, image_format):
    """A photo with camera EXIF fields and an ICC profile, as cameras and editors write them."""
    pixels = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "TestMake", "TestModel", "2024:01:02 03:04:05"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    options = {"JPEG": {"quality": 90}, "WEBP": {"lossless": True}, "PNG": {}}[image_format]
    Image.fromarray(pixels).save(path, image_format, exif=exif, icc_profile=icc, **options)
    return path


def decoded(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")), image.info.get("icc_profile")


@pytest.mark.parametrize("name, image_format", [("photo.jpg", "JPEG"), ("photo.png", "PNG"), ("photo.webp", "WEBP")])
def test_the_caption_is_written_where_readers_look_and_nothing_else_changes(tmp_path, name, image_format):
    photo = photo_with_metadata(tmp_path / name, image_format)
    pixels_before, icc_before = decoded(photo)
    tags_before = exiftool(photo)
    assert write_caption(photo, CAPTION) == photo
    tags = exiftool(photo)
    assert tags["IFD0:ImageDescription"] == CAPTION and tags["XMP-dc:Description"] == CAPTION
    assert tags["IFD0:XPComment"] == CAPTION and tags["ExifIFD:UserComment"] == CAPTION
    if image_format == "PNG":
        assert tags["PNG:Description"] == CAPTION  # the iTXt chunk PNG readers show
    pixels_after, icc_after = decoded(photo)
    assert np.array_equal(pixels_before, pixels_after) and icc_after == icc_before
    for key in ("IFD0:Make", "IFD0:Model", "IFD0:ModifyDate", "File:ImageWidth", "File:ImageHeight"):
        if key in tags_before:
            assert tags[key] == tags_before[key], key
    assert read_caption(photo) == CAPTION
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left, no sidecar


def test_a_format_without_room_for_it_gets_an_xmp_sidecar_that_keeps_its_other_fields(tmp_path):
    photo = tmp_path / "scan.bmp"
    Image.new("RGB", (20, 10), "red").save(photo)
    before = photo.read_bytes()
    assert write_caption(photo, "a red square") == sidecar_path(photo) == tmp_path / "scan.bmp.xmp"
    assert photo.read_bytes() == before
    assert exiftool(sidecar_path(photo))["XMP-dc:Description"] == "a red square"
    import pyexiv2

    with pyexiv2.Image(str(sidecar_path(photo))) as sidecar:  # a field another program put there
        sidecar.modify_xmp({"Xmp.dc.creator": ["Someone"]})
    write_caption(photo, "a red square again", replace=True)  # a description is there now: replacing is asked
    tags = exiftool(sidecar_path(photo))
    assert tags["XMP-dc:Description"] == "a red square again" and tags["XMP-dc:Creator"] == "Someone"


def test_a_failed_write_leaves_the_photo_as_it_was(tmp_path, monkeypatch):
    import ml.outputs.metadata

    photo = photo_with_metadata(tmp_path / "photo.jpg", "JPEG")
    before = photo.read_bytes()

    def broken(path, caption, image_format):
        path.write_bytes(b"half a photo")
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(ml.outputs.metadata, "_edit", broken)
    with pytest.raises(MetadataError, match="photo.jpg: its metadata cannot be written"):
        write_caption(photo, CAPTION)
    assert photo.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_what_is_not_a_photo_is_refused_in_one_line(tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a photo")
    with pytest.raises(MetadataError, match="notes.jpg: not a photo"):
        write_caption(fake, CAPTION)
    assert fake.read_text() == "not a photo"


def test_the_cli_writes_metadata_only_when_asked(tmp_path):
    photo = tmp_path / "cat.jpg"
    photo.write_bytes((REPO / "assets" / "samples" / "cat.jpg").read_bytes())
    before = photo.read_bytes()
    shipped = str(REPO / "assets" / "models" / "default.captioner")
    command = [sys.executable, "-m", "ml", "caption", "--beam", "1", "--model", shipped, str(photo)]
    caption = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert photo.read_bytes() == before
    run = subprocess.run(command + ["--write-metadata", "--json"], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0 and "Saved 1 caption into the photos' metadata" in run.stderr, run.stderr
    result = json.loads(run.stdout)[0]
    plain = result["caption"]
    assert as_clause(plain) in caption.replace(plain, as_clause(plain))
    # Issue 25 major 3: the sample cat is unsure, so it is written as the app says it, never as fact.
    assert result["unsure"] and exiftool(photo)["XMP-dc:Description"] == result["text"] != plain


def test_the_cli_can_skip_unsure_captions_when_writing_metadata(tmp_path):
    photo = tmp_path / "cat.jpg"
    photo.write_bytes((REPO / "assets" / "samples" / "cat.jpg").read_bytes())
    shipped = str(REPO / "assets" / "models" / "default.captioner")
    command = [sys.executable, "-m", "ml", "caption", "--beam", "1", "--model", shipped, str(photo),
               "--write-metadata", "--skip-unsure"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0 and "Saved 0 captions into the photos' metadata; skipped 1 unsure caption" in run.stderr
    assert read_caption(photo) == ""


def test_pillow_reads_the_png_description_too(tmp_path):
    photo = photo_with_metadata(tmp_path / "photo.png", "PNG")
    write_caption(photo, CAPTION)
    with Image.open(io.BytesIO(photo.read_bytes())) as image:
        image.load()
        assert image.text.get("Description") == CAPTION


def _described(path, description, german="Oma am See, 1998"):
    """A photo that already has a description of its own, in EXIF and in two XMP languages."""
    import pyexiv2

    photo_with_metadata(path, "JPEG")
    with pyexiv2.Image(str(path)) as image:
        image.modify_exif({"Exif.Image.ImageDescription": description})
        image.modify_xmp({"Xmp.dc.description": {'lang="x-default"': description, 'lang="de-DE"': german}})
    return path


def test_a_photos_own_description_is_kept_unless_replacing_is_asked(tmp_path):
    """Issue 24 N2: a description the user wrote ("Grandma at the lake, 1998") was replaced without a word,
    and its other languages were deleted."""
    from ml.outputs.metadata import DescriptionKept, existing_description

    photo = _described(tmp_path / "grandma.jpg", "Grandma at the lake, 1998")
    before = photo.read_bytes()
    with pytest.raises(DescriptionKept) as caught:
        write_caption(photo, CAPTION)
    assert caught.value.existing == "Grandma at the lake, 1998" and str(photo) in str(caught.value)
    assert photo.read_bytes() == before and existing_description(photo) == "Grandma at the lake, 1998"
    write_caption(photo, CAPTION, replace=True)
    tags = exiftool(photo)
    assert tags["IFD0:ImageDescription"] == CAPTION and tags["XMP-dc:Description"] == CAPTION
    assert tags["XMP-dc:Description-de-DE"] == "Oma am See, 1998"  # the other language stays
    write_caption(photo, CAPTION)  # the same caption again is no conflict


def test_the_cli_keeps_photos_own_descriptions_unless_told_to_replace_them(tmp_path):
    photo = _described(tmp_path / "grandma.jpg", "Grandma at the lake, 1998")
    shipped = str(REPO / "assets" / "models" / "default.captioner")
    command = [sys.executable, "-m", "ml", "caption", "--beam", "1", "--model", shipped, "--write-metadata", str(photo)]
    kept = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert kept.returncode == 0, kept.stderr
    assert "kept 1 photo's own description" in kept.stderr and "--replace-descriptions" in kept.stderr
    assert read_caption(photo) == "Grandma at the lake, 1998"
    replaced = subprocess.run(command + ["--replace-descriptions", "--jsonl"], capture_output=True, text=True, cwd=REPO)
    result = json.loads(replaced.stdout)
    assert replaced.returncode == 0 and read_caption(photo) == (result["text"] if result["unsure"] else result["caption"])


def _jpeg(path):
    Image.new("RGB", (32, 24), (200, 120, 40)).save(path, "JPEG")
    return path


def test_a_linked_photo_is_edited_where_it_is_and_the_link_stays(tmp_path):
    """Issue 24 N4: the link became a captioned copy and the real photo was left untouched."""
    real = _jpeg(tmp_path / "real.jpg")
    link = tmp_path / "link.jpg"
    link.symlink_to(real)
    write_caption(link, CAPTION)
    assert link.is_symlink() and link.resolve() == real and read_caption(real) == CAPTION


def test_a_hard_linked_photo_stays_one_file(tmp_path):
    """Issue 24 N4: the rename gave one name a new file; every name must see the caption."""
    first = _jpeg(tmp_path / "first.jpg")
    second = tmp_path / "second.jpg"
    second.hardlink_to(first)
    pixels = decoded(first)
    write_caption(second, CAPTION)
    assert first.stat().st_ino == second.stat().st_ino and read_caption(first) == CAPTION
    assert np.array_equal(decoded(first)[0], pixels[0]) and not list(tmp_path.glob(".*.tmp*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file to another user")
def test_another_users_photo_stays_theirs_with_its_mode(tmp_path):
    """Issue 24 N4: run as root (as here and in CI), another user's photo became root's."""
    photo = _jpeg(tmp_path / "theirs.jpg")
    os.chown(photo, 1234, 2345)
    os.chmod(photo, 0o640)
    write_caption(photo, CAPTION)
    status = photo.stat()
    assert (status.st_uid, status.st_gid, status.st_mode & 0o7777) == (1234, 2345, 0o640)
    assert read_caption(photo) == CAPTION
