"""The caption command streams: each caption is printed as it is made, Ctrl+C keeps what was printed and says
how many are done, and empty input is an error (500 photos used to give 2 min 43 s of silence, and Ctrl+C
printed nothing and the false advice to run the same command again)."""
import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ORIGINALS, REPO, as_from_a_terminal
from tests.ml.test_bundle_and_cli import run_cli


def test_captions_stream_and_ctrl_c_keeps_what_was_printed(tiny_model):
    photos = sorted(ORIGINALS.glob("*.jpg"))
    process = subprocess.Popen([sys.executable, "-m", "ml", "caption", "--model", str(tiny_model[0]), "--beam", "1",
                                *map(str, photos)], cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                               preexec_fn=as_from_a_terminal)
    first_line = process.stdout.readline()  # arrives while most photos are still to do
    seen_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    rest, errors = process.stdout.read(), process.stderr.read()  # through the buffers readline() filled
    process.wait(timeout=120)
    lines = [first_line] + rest.splitlines(keepends=True)
    assert process.returncode == 130, errors
    done = int(errors.strip().splitlines()[-1].split("interrupted: ")[1].split(" of ")[0])
    assert errors.strip().endswith(f"{done} of {len(photos)} photos captioned (printed above)")
    assert 1 <= len(lines) == done < len(photos)
    assert all(line.endswith("\n") and "\t" in line for line in lines)  # every printed line is whole
    assert time.monotonic() - seen_at < 60


def test_json_lines_are_one_object_per_photo(tiny_model):
    photos = sorted(ORIGINALS.glob("*.jpg"))[:3]
    result = run_cli("caption", "--model", tiny_model[0], "--jsonl", *photos)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["image"] for row in rows] == list(map(str, photos)) and all(row["caption"] for row in rows)


def test_an_empty_folder_is_an_error(tmp_path):
    result = run_cli("caption", tmp_path)
    assert result.returncode == 2 and "no photos in this folder" in result.stderr


def test_a_folder_named_like_a_photo_is_an_error(tmp_path):
    (tmp_path / "dir.jpg").mkdir()
    result = run_cli("caption", tmp_path / "dir.jpg")
    assert result.returncode == 2 and f"{tmp_path / 'dir.jpg'}: no photos in this folder" in result.stderr


def test_attention_maps_of_photos_sharing_a_name_each_get_their_own_file(tmp_path):
    """Issue 24 N13: the maps of a/x.jpg, b/x.jpg and a/x.png were all written to OUT/x.attention.png, over
    each other and over a user's file of that name."""
    from tests.conftest import REPO
    from tests.ml.test_bundle_and_cli import run_cli

    samples = REPO / "assets" / "samples"
    photos = [tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg", tmp_path / "a" / "x.png"]
    for photo, sample in zip(photos, ("cat.jpg", "coffee.jpg", "rocket.jpg")):
        photo.parent.mkdir(exist_ok=True)
        photo.write_bytes((samples / sample).read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    users = {name: f"the user's own {name}".encode() for name in ("x.attention.png", "x.jpg.attention.png")}
    for name, data in users.items():
        (out / name).write_bytes(data)
    result = run_cli("caption", "--beam", "1", "--attention-map", out, *photos)
    assert result.returncode == 0, result.stderr
    assert all((out / name).read_bytes() == data for name, data in users.items())
    written = sorted(set(p.name for p in out.iterdir()) - set(users))
    assert len(written) == 3 and all(name.endswith(".png") for name in written), written
    for photo in photos:  # each photo's line names its own file
        assert sum(f"{photo}: attention map in " in line for line in result.stderr.splitlines()) == 1


def test_an_unwritable_attention_folder_is_one_line_a_photo_and_the_batch_goes_on(tmp_path, read_only_folder):
    from tests.conftest import REPO
    from tests.ml.test_bundle_and_cli import run_cli

    photos = [REPO / "assets" / "samples" / name for name in ("cat.jpg", "coffee.jpg")]
    result = run_cli("caption", "--beam", "1", "--attention-map", read_only_folder, *photos)
    assert result.returncode == 1, result.stderr
    assert len(result.stdout.strip().splitlines()) == 2  # both captioned
    errors = [line for line in result.stderr.splitlines() if "attention map" in line]
    assert len(errors) == 2 and all("cannot write" in line for line in errors), result.stderr
