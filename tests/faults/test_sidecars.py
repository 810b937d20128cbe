"""Sidecar export never replaces a file it did not write without being told to, and photos sharing a name get
files of their own (beach.jpg + beach.png wrote one beach.txt, 'Wrote 3 .txt files'; a user's notes.txt
next to notes.jpg was replaced)."""
import shutil

import pytest

from app.models.folder_captions import FolderCaptions
from ml.captioning.results import CaptionResult
from tests.conftest import DOG_PHOTOS, ORIGINALS, REPO
from tests.ml.test_bundle_and_cli import run_cli


@pytest.fixture
def folder(tmp_path):
    for name in ("beach.jpg", "beach.png", "notes.jpg"):
        shutil.copy(ORIGINALS / DOG_PHOTOS[0], tmp_path / name)
    (tmp_path / "notes.txt").write_text("my shopping list\n")
    return tmp_path


def test_collisions_get_distinct_names_and_the_users_file_is_kept(folder):
    captions = FolderCaptions()
    captions.reset(folder)
    for name in ("beach.jpg", "beach.png", "notes.jpg"):
        captions.add(CaptionResult(folder / name, f"caption of {name}"))
    assert captions.sidecars_in_the_way() == [folder / "notes.txt"]
    report = captions.export_sidecars()
    assert sorted(p.name for p in report.written) == ["beach.jpg.txt", "beach.png.txt"]
    assert report.kept == [folder / "notes.txt"] and (folder / "notes.txt").read_text() == "my shopping list\n"
    assert "kept 1 existing file with other text (e.g. notes.txt)" in report.summary()
    assert (folder / "beach.png.txt").read_text() == "caption of beach.png\n"
    again = captions.export_sidecars()  # the files it wrote are its own: rewritten, nothing kept but notes
    assert len(again.written) == 2 and again.kept == [folder / "notes.txt"]
    assert captions.export_sidecars(overwrite=True).written[-1] == folder / "notes.txt"
    assert (folder / "notes.txt").read_text() == "caption of notes.jpg\n"


def test_the_cli_writes_sidecars_and_keeps_the_users_file_unless_told(folder, tiny_model):
    result = run_cli("caption", "--model", tiny_model[0], "--sidecars", folder)
    assert result.returncode == 0, result.stderr
    assert "kept 1 existing file" in result.stderr and "--overwrite replaces them" in result.stderr
    assert (folder / "notes.txt").read_text() == "my shopping list\n"
    assert (folder / "beach.jpg.txt").is_file() and (folder / "beach.png.txt").is_file()
    assert not (folder / "beach.txt").exists()
    result = run_cli("caption", "--model", tiny_model[0], "--sidecars", "--overwrite", folder)
    assert result.returncode == 0 and (folder / "notes.txt").read_text() != "my shopping list\n"


def test_a_killed_writers_temp_copy_is_neither_captioned_nor_kept(tmp_path):
    """Issue 24 N9: the temp copy a killed metadata write left beside a photo stayed forever, and the next
    folder caption described it as a photo of its own."""
    from ml.core.atomic import TEMP_NAME
    from ml.data.images import list_images
    from ml.outputs.metadata import read_caption, write_caption

    photo = tmp_path / "cat.jpg"
    shutil.copyfile(REPO / "assets" / "samples" / "cat.jpg", photo)
    stale = tmp_path / ".cat.jpg.99999999-0badf00d.tmp.jpg"  # a writer of a pid no longer running
    shutil.copyfile(photo, stale)
    assert TEMP_NAME.match(stale.name)
    assert list_images(tmp_path) == [photo]
    write_caption(photo, "a cat")
    assert read_caption(photo) == "a cat" and sorted(p.name for p in tmp_path.iterdir()) == ["cat.jpg"]
