"""Issue 25 (minor, CLI): `| head` ended in "Broken pipe" and exit 2; no --version; --help showed no
defaults; a 1x1 image was captioned as if it were a photo. Real processes, the shipped model."""
import subprocess
import sys

from PIL import Image

from ml.core.defaults import VERSION, default_model_path
from tests.conftest import REPO
from tests.ml.test_bundle_and_cli import run_cli

SAMPLES = REPO / "assets" / "samples"


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    photos = []
    for number in range(80):  # several batches, so lines are still to come when the reader has gone
        photo = tmp_path / f"cat-{number}.jpg"
        photo.symlink_to(SAMPLES / "cat.jpg")
        photos.append(str(photo))
    caption = subprocess.Popen([sys.executable, "-m", "ml", "caption", "--beam", "1", "--model",
                                str(default_model_path()), *photos], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert caption.stdout is not None and caption.stdout.readline()  # as `head -1` reads, then stops
    caption.stdout.close()
    _, stderr = caption.communicate(timeout=300)
    assert caption.returncode == 0 and b"Broken pipe" not in stderr, stderr[-2000:]


def test_version_and_defaults_in_help():
    assert run_cli("--version").stdout.strip() == f"python -m ml {VERSION}"
    help_text = run_cli("caption", "--help").stdout
    assert "beam width; 1 is greedy (default: 5)" in " ".join(help_text.split())


def test_a_tiny_image_is_refused_in_one_line(tmp_path):
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(dot)
    result = run_cli("caption", "--beam", "1", "--model", default_model_path(), dot)
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip() == f"{dot}: image too small to describe (1x1 pixels)"
