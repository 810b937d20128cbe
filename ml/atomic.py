"""The one way this project writes a file: into a temp file beside it, then a rename, so a crash, a
full disk or a cancel never leaves half a model, checkpoint, cache shard, setting or export where a
whole one is expected. The app imports it too (it needs nothing but the standard library)."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Union

PathLike = Union[str, "os.PathLike[str]"]


def temp_path_for(path: Path, suffix: str = "") -> Path:
    """A hidden name beside `path`, unique per process and call (two writers never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}")


def replace_atomically(path: PathLike, write: Callable[[Path], object], suffix: str = "") -> Path:
    """Call write(temp_path), then rename the temp file over `path` (a failed write leaves no temp file).

    suffix: the ending a writer insists on, e.g. ".keras" or ".weights.h5" for Keras, ".wav"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path, suffix)
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def write_text_atomically(path: PathLike, text: str) -> Path:
    """Replace a UTF-8 text file whole."""
    return replace_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def copy_atomically(source: PathLike, destination: PathLike) -> Path:
    """Copy a file so that `destination` is either the old file or the whole new one."""
    return replace_atomically(destination, lambda temp: shutil.copyfile(source, temp))
