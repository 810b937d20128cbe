"""Training survives the unlucky: a real SIGKILL while a checkpoint is written, a damaged checkpoint found on
resume, and the temp files killed writers leave. Nothing the user made is lost and the run goes on."""
import os
import signal
import subprocess
import sys
import threading

import pytest

from ml.core.atomic import KILL_BEFORE_RENAME, remove_stale_temp_files, write_text_atomically
from ml.core.progress import Cancelled, Phase
from ml.training.config import TrainConfig
from ml.training.pipeline import train_model
from tests.conftest import REPO

CONFIG = TrainConfig(encoder="efficientnet-lite0", epochs=2, patience=3, units=16, min_word_count=3,
                     self_critical_epochs=0)
TRAIN = ["train", "--encoder", "efficientnet-lite0", "--epochs", "1", "--units", "16", "--max-train-photos", "30",
         "--self-critical-epochs", "0"]


def _train_cli(flickr8k, folder, **env):
    return subprocess.run([sys.executable, "-m", "ml", *TRAIN, "--data", str(flickr8k),
                           "--output", str(folder / "m.captioner"), "--run-dir", str(folder / "run")],
                          cwd=REPO, env=dict(os.environ, **env), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("killed_while_writing", ["best.weights.h5", "last.keras", "state.json"])
def test_a_sigkill_while_a_checkpoint_is_written_loses_nothing(flickr8k, tmp_path, killed_while_writing):
    killed = _train_cli(flickr8k, tmp_path, **{KILL_BEFORE_RENAME: killed_while_writing})
    assert killed.returncode == -signal.SIGKILL
    assert any(".tmp" in p.name for p in (tmp_path / "run").iterdir())  # the killed writer's temp file
    rerun = _train_cli(flickr8k, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert (tmp_path / "m.captioner").is_file()
    assert not [p.name for p in (tmp_path / "run").iterdir() if ".tmp" in p.name]  # cleaned on start


@pytest.fixture
def run_cut_after_one_epoch(flickr8k, tmp_path):
    """A run folder holding epoch 1 of 2, as a cancel leaves it."""
    cancel = threading.Event()

    def cancel_after_first_epoch(progress):
        if progress.phase == Phase.EPOCH:
            cancel.set()

    with pytest.raises(Cancelled):
        train_model(flickr8k, tmp_path / "m.captioner", CONFIG, run_dir=tmp_path / "run", max_train_photos=30,
                    on_progress=cancel_after_first_epoch, cancel=cancel)
    return tmp_path


@pytest.mark.parametrize("damaged", ["best.weights.h5", "last.keras"])
def test_a_damaged_checkpoint_is_named_set_aside_and_the_run_goes_on(flickr8k, run_cut_after_one_epoch, caplog,
                                                                      damaged):
    folder = run_cut_after_one_epoch
    checkpoint = folder / "run" / damaged
    checkpoint.write_bytes(checkpoint.read_bytes()[:96])  # as a kill during an in-place save left it
    card = train_model(flickr8k, folder / "m.captioner", CONFIG, run_dir=folder / "run", max_train_photos=30)
    assert [epoch["epoch"] for epoch in card["history"]] == [1, 2]
    set_aside = list((folder / "run").glob(f"{damaged}.damaged-*"))
    assert len(set_aside) == 1 and set_aside[0].stat().st_size == 96
    assert any(str(checkpoint) in record.getMessage() and "set aside" in record.getMessage()
               for record in caplog.records)


@pytest.mark.parametrize("damage", [b"", b"\x00" * 4096])  # emptied, or overwritten with zeros
def test_an_emptied_or_zeroed_checkpoint_is_set_aside_too(flickr8k, run_cut_after_one_epoch, damage):
    folder = run_cut_after_one_epoch
    (folder / "run" / "last.keras").write_bytes(damage)
    card = train_model(flickr8k, folder / "m.captioner", CONFIG, run_dir=folder / "run", max_train_photos=30)
    assert [epoch["epoch"] for epoch in card["history"]] == [1, 2]
    assert len(list((folder / "run").glob("last.keras.damaged-*"))) == 1


def test_a_bug_while_loading_a_checkpoint_is_raised_and_sets_nothing_aside(flickr8k, run_cut_after_one_epoch,
                                                                           monkeypatch):
    """Issue 24: every exception meant "damaged", so a bug in the loading code threw finished epochs away."""
    from ml.training import run_state

    def broken(*args, **kwargs):
        raise AttributeError("a bug in the loading code")

    monkeypatch.setattr(run_state.keras.models, "load_model", broken)
    folder = run_cut_after_one_epoch
    with pytest.raises(AttributeError, match="a bug in the loading code"):
        train_model(flickr8k, folder / "m.captioner", CONFIG, run_dir=folder / "run", max_train_photos=30)
    assert not list((folder / "run").glob("*.damaged-*")) and (folder / "run" / "last.keras").is_file()


def test_stale_temp_files_of_dead_writers_go_and_a_live_writers_stay(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".model.captioner.{dead_pid}-0123abcd.tmp"
    older_stale = tmp_path / f".shard-1.npz.{dead_pid}.tmp"
    live = tmp_path / f".state.json.{os.getppid()}-0123abcd.tmp"
    for path in (stale, older_stale, live):
        path.write_text("partial")
    keep = write_text_atomically(tmp_path / "notes.txt", "mine")
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted([stale, older_stale])
    assert live.exists() and keep.read_text() == "mine"
