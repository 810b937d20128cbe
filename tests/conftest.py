"""Shared fixtures: the real Flickr8k copy beside the repo, a private user data folder, odd photos."""
import io
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
FLICKR8K = REPO.parent / "shared" / "flickr8k"
ORIGINALS = FLICKR8K / "originals"
# Photos from Flickr8k's originals, chosen by their human captions.
DOG_PHOTOS = ["1001773457_577c3a7d70.jpg", "1015584366_dfcec3c85a.jpg", "101654506_8eb26cfb60.jpg"]
ICE_CLIMB_PHOTO = "102455176_5f8ead62d5.jpg"  # "A man uses ice picks and crampons to scale ice"
CITY_PHOTO = "1032460886_4a598ed535.jpg"  # "a man is standing in front of a skyscraper"


def as_from_a_terminal() -> None:
    """For Popen's preexec_fn: Ctrl+C reaches the command as it does from a terminal. A test run started in the
    background (`cmd &` in a script, nohup) hands its children SIGINT ignored, and Python keeps it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def skip_outside_ci(reason: str):
    """Skip where a tool the test needs is missing, except in CI, where scripts/setup.sh installs everything and
    a missing tool is a failure (issue 24: these skips would have skipped in CI too)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} in CI")
    pytest.skip(reason)


def pytest_configure(config):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Converted encoder weights and feature caches go to a folder of this test session's own.
    data_dir = Path(config.rootpath) / ".cache" / "test-user-data"
    os.environ["IMAGE_CAPTIONER_DATA_DIR"] = str(data_dir)


@pytest.fixture(scope="session")
def flickr8k() -> Path:
    """The real data set; skipped without it, except in CI where its absence is a failure."""
    if not (FLICKR8K / "Flickr8k_text").is_dir():
        skip_outside_ci(f"{FLICKR8K} not present")
    return FLICKR8K


@pytest.fixture(scope="session")
def display():
    """The DISPLAY Tk draws on: scripts/test.sh runs the tests under `xvfb-run -a` when there is none."""
    if not os.environ.get("DISPLAY"):
        skip_outside_ci("no DISPLAY: run scripts/test.sh (it starts Xvfb), or xvfb-run -a .venv/bin/python -m pytest")
    return os.environ["DISPLAY"]


def _save(image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def _photo(size=(64, 48)):
    gradient = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    return Image.fromarray(gradient.astype(np.uint8), "RGB")


@pytest.fixture
def odd_photos(tmp_path) -> dict:
    """Photos in every mode users send (all readable) -> path."""
    base = _photo()
    gif_frames = [base.convert("P"), Image.new("P", base.size, 3)]
    wide = (np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)
    return {
        "grayscale": _save(base.convert("L"), tmp_path / "gray.jpg"),
        "cmyk": _save(base.convert("CMYK"), tmp_path / "cmyk.jpg"),
        "rgba": _save(base.convert("RGBA"), tmp_path / "rgba.png"),
        "palette": _save(base.convert("P"), tmp_path / "palette.png"),
        "16-bit": _save(Image.fromarray(wide), tmp_path / "wide.png"),
        "animated": _save(gif_frames[0], tmp_path / "anim.gif", save_all=True, append_images=gif_frames[1:]),
    }


@pytest.fixture
def bad_photos(tmp_path) -> dict:
    """Files a user may pick that are not usable photos -> path."""
    jpeg = io.BytesIO()
    _photo((256, 256)).save(jpeg, "JPEG")
    paths = {
        "empty": tmp_path / "empty.jpg",
        "truncated": tmp_path / "truncated.jpg",
        "text": tmp_path / "notes.jpg",
        "huge": tmp_path / "huge.png",
    }
    paths["empty"].write_bytes(b"")
    paths["truncated"].write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    paths["text"].write_text("this is not a photo\n")
    Image.new("1", (9000, 9000)).save(paths["huge"])
    return paths


TINY_TRAIN_PHOTOS = 300


@pytest.fixture(scope="session")
def tiny_model(flickr8k, tmp_path_factory):
    """A model trained for real on a few hundred Flickr8k photos (EfficientNet-Lite0 features): (path, card)."""
    from ml.training.config import TrainConfig
    from ml.training.pipeline import train_model

    folder = tmp_path_factory.mktemp("tiny-model")
    config = TrainConfig(encoder="efficientnet-lite0", epochs=6, patience=6, units=128, min_word_count=3)
    path = folder / "tiny.captioner"
    card = train_model(flickr8k, path, config, run_dir=folder / "run", max_train_photos=TINY_TRAIN_PHOTOS)
    return path, card
