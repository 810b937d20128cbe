"""Real faults for the fault suite: a read-only file system and a full disk are small tmpfs mounts (root, as
here and in CI; skipped with the reason where mounting is not permitted)."""
import subprocess

import pytest

from tests.conftest import skip_outside_ci


def _mount_tmpfs(folder, options):
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        skip_outside_ci(f"cannot mount a tmpfs here ({result.stderr.strip() or 'mount failed'})")
    return folder


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a read-only file system (even root cannot write there)."""
    folder = _mount_tmpfs(tmp_path / "read-only", "size=1m,ro")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A writable folder on a 4 MiB file system, to fill up for real."""
    folder = _mount_tmpfs(tmp_path / "small-disk", "size=4m")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)
