"""Every option is checked before any work, in one line (the CLI used to divide by a batch size of 0 after
feature extraction, hand Keras 0 epochs, and save a garbage model trained at a learning rate of -1)."""
import pytest

from tests.ml.test_bundle_and_cli import run_cli

TRAIN = ["train", "--encoder", "efficientnet-lite0", "--max-train-photos", "30"]


@pytest.mark.parametrize("option, value, words", [
    ("--batch-size", "0", "batch size must be a number from 1 to 65536, not 0"),
    ("--epochs", "0", "epochs must be a number from 1 to 10000, not 0"),
    ("--learning-rate", "-1", "learning rate must be a number above 0 to 1, not -1"),
    ("--dropout", "nan", "dropout must be a number from 0 to 0.95, not nan"),
    ("--units", "0", "units must be a number from 1 to 4096"),
    ("--max-train-photos", "3", "must be from 10 to"),
    ("--epochs", "many", "invalid"),
])
def test_train_refuses_a_bad_option_at_once(flickr8k, tmp_path, option, value, words):
    result = run_cli(*TRAIN, "--data", flickr8k, "--output", tmp_path / "m.captioner", option, value)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.captioner").exists()


@pytest.mark.parametrize("beam", ["0", "99", "x"])
def test_caption_refuses_a_bad_beam_width(beam):
    result = run_cli("caption", "x.jpg", "--beam", beam)
    assert result.returncode == 2 and "--beam" in result.stderr and "Traceback" not in result.stderr


def test_a_read_only_output_folder_is_found_before_training(flickr8k, read_only_folder):
    result = run_cli(*TRAIN, "--data", flickr8k, "--output", read_only_folder / "m.captioner", "--epochs", "1")
    assert result.returncode == 2 and "cannot save the model there" in result.stderr
    assert "features" not in result.stderr  # said before any photo was read


def test_an_output_naming_a_folder_is_refused_before_training(flickr8k, tmp_path):
    """Issue 24 N18: it failed only after training ("Is a directory"), the run's work lost."""
    folder = tmp_path / "models"
    folder.mkdir()
    result = run_cli(*TRAIN, "--data", flickr8k, "--output", folder, "--epochs", "1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert str(folder) in result.stderr and "is a folder" in result.stderr
    assert "epoch" not in result.stdout.lower() and list(folder.iterdir()) == []


@pytest.mark.parametrize("variable, value, words", [
    ("TF_CONFIG", '{"cluster": []}', 'TF_CONFIG must be an object with a "cluster" object'),
    ("TF_CONFIG", "[1, 2]", 'TF_CONFIG must be an object with a "cluster" object'),
    ("TF_CONFIG", '{"cluster": {"worker": "host-a:1"}}', "cluster.worker must be a list"),
    ("TF_CONFIG", "{not json", "TF_CONFIG is not valid JSON"),
    ("IMAGE_CAPTIONER_CPU_DEVICES", "99999", "from 1 to 64"),
])
def test_distribution_settings_are_checked_before_any_work(flickr8k, tmp_path, variable, value, words):
    """Issue 24 N16: a TF_CONFIG with a list for its cluster gave an AttributeError (a bug, exit 1) and
    99,999 logical CPU devices hung; both are the user's settings, said in one line before any work."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, **{variable: value})
    result = subprocess.run([sys.executable, "-m", "ml", *TRAIN, "--data", str(flickr8k), "--output",
                             str(tmp_path / "m.captioner"), "--epochs", "1"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert words in result.stderr and "features" not in result.stderr


def test_train_says_only_its_own_lines_on_stderr(flickr8k, tmp_path):
    """Issue 24 N19: Keras', NLTK's and PIL's warnings added lines (with source lines) to every train."""
    result = run_cli(*TRAIN, "--data", flickr8k, "--output", tmp_path / "m.captioner", "--epochs", "1",
                     "--self-critical-epochs", "0")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert not [line for line in lines if "Warning" in line or "warn(" in line or line.startswith("  ")], lines
    assert lines[0].startswith("flickr8k: layout flickr8k")
