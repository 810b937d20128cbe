"""Files are replaced whole or not at all, by the one helper every writer in ml/ and app/ uses."""
import ast
from pathlib import Path

import pytest

from ml.core.atomic import copy_atomically, replace_atomically, write_text_atomically

REPO = Path(__file__).resolve().parents[2]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = write_text_atomically(tmp_path / "state.json", '{"epoch": 3}')

    def write_half_then_fail(temp):
        temp.write_text('{"epo')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, write_half_then_fail)
    assert target.read_text() == '{"epoch": 3}'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_copy_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = write_text_atomically(tmp_path / "model.captioner", "old")
    with pytest.raises(OSError):
        copy_atomically(tmp_path / "missing.captioner", target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.captioner"]


def test_the_temp_file_has_the_ending_the_writer_needs(tmp_path):
    seen = []
    replace_atomically(tmp_path / "sub" / "best.weights.h5", lambda temp: (seen.append(temp.name), temp.write_bytes(b"x")),
                       ".weights.h5")
    assert seen[0].endswith(".weights.h5") and (tmp_path / "sub" / "best.weights.h5").read_bytes() == b"x"


def test_two_writes_of_one_file_never_share_a_temp_file(tmp_path):
    seen = []
    for _ in range(2):
        write_text_atomically(tmp_path / "a.txt", "x")
        replace_atomically(tmp_path / "a.txt", lambda temp: (seen.append(temp), temp.write_text("y")))
    assert len(set(seen)) == 2


def _calls_os_replace(path):
    tree = ast.parse(path.read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "os"]


def test_no_other_module_renames_files_itself():
    """One helper: a second hand-written temp-and-rename is how 'fixed here, not there' bugs start."""
    sources = [p for folder in ("ml", "app", "scripts", "benchmarks") for p in (REPO / folder).rglob("*.py")]
    offenders = {str(p.relative_to(REPO)): _calls_os_replace(p) for p in sources if p.name != "atomic.py"}
    assert {path: lines for path, lines in offenders.items() if lines} == {}
