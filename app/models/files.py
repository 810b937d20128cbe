"""Writes that never leave a half-written file: a temp file beside the target, then a rename."""
import os
import shutil
from pathlib import Path


def write_atomically(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def copy_atomically(source, destination):
    destination = Path(destination)
    temp = destination.with_name(f".{destination.name}.tmp")
    shutil.copyfile(source, temp)
    os.replace(temp, destination)
