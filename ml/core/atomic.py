"""The one way this project writes a file: into a temp file beside it, flushed to the disk (fsync), checked
where the caller can check it, then renamed over the old file and the folder flushed too, so a crash, a
power cut, a full disk or a cancel never leaves half a model, checkpoint, cache shard, setting, export or
photo where a whole one is expected. The app imports it too (it needs nothing but the standard library)."""
from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import re
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from ml.core.errors import UserError

PathLike = Union[str, "os.PathLike[str]"]
log = logging.getLogger(__name__)
# ".NAME.PID-RANDOM.tmpSUFFIX" (and ".NAME.PID.tmpSUFFIX" of earlier versions): group 1 is the writer's pid.
TEMP_NAME = re.compile(r"^\..+\.(\d+)(?:-[0-9a-f]{8})?\.tmp")
# Fault injection for tests: the process kills itself (SIGKILL) after writing this file name's temp file
# and before the rename, as a power cut or an OOM kill would stop it.
KILL_BEFORE_RENAME = "IMAGE_CAPTIONER_FAULT_KILL_BEFORE_RENAME"


def temp_path_for(path: Path, suffix: str = "") -> Path:
    """A hidden name beside `path`, unique per process and call (two writers never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}")


def _flush_to_disk(path: Path) -> None:
    """fsync a file or a folder, so what was written survives a power cut (a folder: its renames)."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    try:
        descriptor = os.open(path, flags)
    except (IsADirectoryError, PermissionError):  # Windows cannot open a folder; nothing to flush there
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF):  # a file system without fsync for folders
            raise
    finally:
        os.close(descriptor)


def _remove_stale_temp_copies_of(path: Path) -> None:
    """Temp copies of this very file that killed writers left (a photo's, a model's): they would be found
    as files of their own, and could fill the disk."""
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        if _stale_temp_file(candidate):
            candidate.unlink(missing_ok=True)


def replace_atomically(path: PathLike, write: Callable[[Path], object], suffix: str = "",
                       verify: Optional[Callable[[Path], None]] = None) -> Path:
    """Call write(temp_path), flush the temp file to the disk, call verify(temp_path) (it raises when the
    copy is not whole), then rename it over `path` and flush the folder. Whatever fails, `path` is as it
    was and no temp file is left.

    suffix: the ending a writer insists on, e.g. ".keras" or ".weights.h5" for Keras, ".wav"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_copies_of(path)
    temp = temp_path_for(path, suffix)
    try:
        write(temp)
        if temp.is_file():
            _flush_to_disk(temp)
        if verify is not None:
            verify(temp)
        if os.environ.get(KILL_BEFORE_RENAME) == path.name:
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace(temp, path)
        _flush_to_disk(path.parent)
    finally:
        temp.unlink(missing_ok=True)
    return path


def rewrite_in_place(path: PathLike, write: Callable[[Path], object], suffix: str = "",
                     verify: Optional[Callable[[Path], None]] = None) -> Path:
    """Like replace_atomically, for a file with other hard links (a rename would give this name a new file and
    leave the others on the old one): the whole new content is written and verified in a temp copy first, then
    copied over the file itself and flushed; the temp copy is removed only after that, so a failure midway leaves
    the verified new content beside the file and says where."""
    path = Path(path)
    temp = temp_path_for(path, suffix)
    try:
        write(temp)
        _flush_to_disk(temp)
        if verify is not None:
            verify(temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        with open(temp, "rb") as source, open(path, "r+b") as target:
            shutil.copyfileobj(source, target)
            target.truncate()
            target.flush()
            os.fsync(target.fileno())
    except OSError as error:
        raise OSError(error.errno, f"{error.strerror}; the new content is kept in {temp.name}") from None
    temp.unlink()
    return path


def write_text_atomically(path: PathLike, text: str) -> Path:
    """Replace a UTF-8 text file whole."""
    return replace_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def copy_atomically(source: PathLike, destination: PathLike) -> Path:
    """Copy a file so that `destination` is either the old file or the whole new one."""
    return replace_atomically(destination, lambda temp: shutil.copyfile(source, temp))


def set_aside(path: Path, error: BaseException) -> Path:
    """Rename a damaged file out of the way (kept for a look, never read again) and say so in the log."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    log.warning("%s: damaged (%s), set aside as %s", path, type(error).__name__, aside.name)
    return aside


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_temp_file(path: Path) -> bool:
    """A temp file of this project's naming whose writer (the pid in its name) is no longer running."""
    match = TEMP_NAME.match(path.name)
    if match is None or not path.is_file():
        return False
    writer = int(match.group(1))
    return writer != os.getpid() and not _running(writer)


def remove_stale_temp_files(folder: PathLike) -> list[Path]:
    """Delete the temp files that writers killed before their rename left in `folder` (a writer still
    running keeps its own); returns what was removed."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if _stale_temp_file(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class FolderInUse(UserError, OSError):
    """Another process holds the folder's lock (a second training run on one run folder)."""


@contextlib.contextmanager
def locked_folder(folder: PathLike) -> Iterator[Path]:
    """Hold `folder`'s lock while the block runs; FolderInUse naming the holder's PID if another process
    has it (two runs writing one run folder would die on HDF5's own lock, mid-run). POSIX only: on
    other systems the block runs unlocked."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        yield folder
        return
    with open(folder / ".lock", "a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise FolderInUse(f"{folder}: in use by another run (PID {holder}); wait for it or choose another folder") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
