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
