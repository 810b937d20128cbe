"""Every file the pipeline writes goes through a temp file and a rename, so a crash or a cancel never
leaves half a model, checkpoint or cache shard where a whole one is expected."""
import os
from pathlib import Path


def replace_atomically(path, write, suffix="") -> Path:
    """Call write(temp_path), then rename the temp file over `path` (a failed write leaves no temp file).

    suffix: the ending a writer insists on, e.g. ".keras" or ".weights.h5" for Keras."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def write_text_atomically(path, text) -> Path:
    return replace_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))
