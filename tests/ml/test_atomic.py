"""Files are replaced whole or not at all."""
import pytest

from ml.atomic import replace_atomically, write_text_atomically


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = write_text_atomically(tmp_path / "state.json", '{"epoch": 3}')

    def write_half_then_fail(temp):
        temp.write_text('{"epo')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, write_half_then_fail)
    assert target.read_text() == '{"epoch": 3}'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_the_temp_file_has_the_ending_the_writer_needs(tmp_path):
    seen = []
    replace_atomically(tmp_path / "sub" / "best.weights.h5", lambda temp: (seen.append(temp.name), temp.write_bytes(b"x")),
                       ".weights.h5")
    assert seen[0].endswith(".weights.h5") and (tmp_path / "sub" / "best.weights.h5").read_bytes() == b"x"
