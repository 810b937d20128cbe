"""A full disk leaves nothing half-written and no temp file behind (a failed model import used to leave a
10 MB temp file that kept the disk full)."""
import errno

import pytest

from app.models import ModelRegistry
from ml.core.atomic import write_text_atomically
from tests.conftest import REPO

SHIPPED = REPO / "assets" / "models" / "default.captioner"  # 54 MiB, on a 4 MiB disk


def test_importing_a_model_onto_a_full_disk_fails_cleanly(small_disk):
    registry = ModelRegistry(SHIPPED, small_disk)
    with pytest.raises(OSError) as caught:
        registry.add(SHIPPED, name="copy")
    assert caught.value.errno == errno.ENOSPC
    assert sorted(p.name for p in small_disk.iterdir()) == []  # no model, no temp file
    assert [entry.name for entry in registry.entries()] == ["shipped"]


def test_a_setting_written_on_a_full_disk_keeps_the_old_file(small_disk):
    settings = write_text_atomically(small_disk / "settings.json", '{"theme": "Dark"}')
    (small_disk / "filler").write_bytes(b"x")
    with open(small_disk / "filler", "ab") as filler:  # fill the disk to the last block
        try:
            while True:
                filler.write(bytes(64 * 1024))
                filler.flush()
        except OSError:
            pass
    with pytest.raises(OSError):
        write_text_atomically(settings, '{"theme": "Light", "padding": "' + "x" * 100_000 + '"}')
    assert settings.read_text() == '{"theme": "Dark"}'
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "settings.json"]


def test_a_checkpoint_that_cannot_fit_is_one_line_not_a_crash(flickr8k, small_disk, tmp_path):
    """Issue 24 N12: h5py crashed the process (a segmentation fault) when the disk filled during a save."""
    import os
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "ml", "train", "--data", str(flickr8k), "--encoder", "efficientnet-lite0",
                          "--max-train-photos", "60", "--epochs", "2", "--output", str(tmp_path / "m.captioner"),
                          "--run-dir", str(small_disk / "run")], cwd=REPO, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    error_lines = [line for line in run.stderr.splitlines() if "too full" in line]
    assert len(error_lines) == 1 and str(small_disk / "run") in error_lines[0], run.stderr[-2000:]
    assert not [p.name for p in (small_disk / "run").iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]
