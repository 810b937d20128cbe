"""Model files load safely or fail with one line; the CLI exits 0 on success and non-zero with one line."""
import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

from ml.model_file import BundleError, load_bundle, read_card, save_bundle
from tests.conftest import DOG_PHOTOS, ORIGINALS, REPO


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "ml", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)


def _rezip(source, target, replace=None, extra=None, drop=()):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name not in drop:
                new.writestr(name, (replace or {}).get(name, old.read(name)))
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


# What a model file written before the decoder arrays existed lacks.
OLD_FORMAT_DROPS = ("decoder.npz",)


def test_bundle_round_trip(tiny_model):
    path, card = tiny_model
    bundle = load_bundle(path)
    assert bundle.card["encoder"] == "efficientnet-lite0" and bundle.card["history"] == card["history"]
    assert read_card(path)["metrics"] == card["metrics"]


@pytest.mark.parametrize("damage, words", [
    ("text", "not a zip archive"),
    ("traversal", "unexpected contents"),
    ("card", "wrong format"),
    ("vocab", "vocabulary"),
    ("keras", "decoder cannot be loaded"),
    ("arrays", "decoder.npz cannot be read"),
    ("half the arrays", "unexpected contents"),
])
def test_damaged_bundles_fail_with_one_line(tiny_model, tmp_path, damage, words):
    source, bad = tiny_model[0], tmp_path / "bad.captioner"
    if damage == "text":
        bad.write_text("hello")
    elif damage == "traversal":
        _rezip(source, bad, extra={"../../evil.py": b"print(1)"})
    elif damage == "card":
        _rezip(source, bad, replace={"card.json": json.dumps({"format": "other"})})
    elif damage == "vocab":
        _rezip(source, bad, replace={"vocab.json": b"[1, 2]"})
    elif damage == "keras":  # a file from before the arrays: its Keras decoder is what captioning reads
        _rezip(source, bad, replace={"decoder.keras": b"PK\x03\x04 broken"}, drop=OLD_FORMAT_DROPS)
    elif damage == "arrays":
        _rezip(source, bad, replace={"decoder.npz": b"PK\x03\x04 broken"})
    else:
        ensemble = _rezip(source, tmp_path / "two.captioner", extra={"decoder-1.keras": b"", "decoder-1.npz": b""})
        _rezip(ensemble, bad, drop=("decoder-1.npz",))
    with pytest.raises(BundleError) as caught:
        load_bundle(bad)
    assert str(bad) in str(caught.value) and words in str(caught.value) and "\n" not in str(caught.value)


def test_cli_captions_photos_as_json(tiny_model):
    result = run_cli("caption", ORIGINALS / DOG_PHOTOS[0], ORIGINALS / DOG_PHOTOS[1], "--model", tiny_model[0],
                     "--json", "--beam", "2")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["image"].endswith(n) for r, n in zip(rows, DOG_PHOTOS)] == [True, True]
    assert all(len(r["caption"].split()) >= 3 and r["error"] == "" for r in rows)


def test_cli_goes_on_past_a_bad_photo_and_exits_non_zero(tiny_model, bad_photos):
    result = run_cli("caption", bad_photos["text"], ORIGINALS / DOG_PHOTOS[0], "--model", tiny_model[0])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{bad_photos['text']}: not a photo this app can read (an unknown or damaged file format)"]
    assert DOG_PHOTOS[0] in result.stdout


@pytest.mark.parametrize("args, words", [
    (["caption", "x.jpg", "--model", "/nonexistent/m.captioner"], "model file not found"),
    (["evaluate", "--data", "/nonexistent", "--model", "/nonexistent/m.captioner"], "model file not found"),
    (["features", "--data", "/nonexistent"], "folder not found"),
    (["train", "--data", "/nonexistent", "--output", "/tmp/x.captioner"], "folder not found"),
])
def test_cli_bad_input_is_one_line_on_stderr(args, words):
    result = run_cli(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr


@pytest.mark.parametrize("command", ["caption", "train", "evaluate", "features"])
def test_cli_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: python -m ml " + command in result.stdout


def test_cli_evaluate_prints_scores(tiny_model, flickr8k):
    result = run_cli("evaluate", "--model", tiny_model[0], "--data", flickr8k, "--split", "dev", "--beam", "1")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"bleu1", "bleu2", "bleu3", "bleu4", "cider"} <= set(scores) and scores["bleu1"] > 20


def test_ensemble_file_round_trip_and_captions(tiny_model, tmp_path):
    result = run_cli("ensemble", "--output", tmp_path / "ens.captioner", tiny_model[0], tiny_model[0])
    assert result.returncode == 0, result.stderr
    bundle = load_bundle(tmp_path / "ens.captioner")
    assert len(bundle.decoder_arrays) == 2 and bundle.card["decoders"] == 2
    with zipfile.ZipFile(tmp_path / "ens.captioner") as archive:
        assert sorted(archive.namelist()) == ["card.json", "decoder-1.keras", "decoder-1.npz", "decoder.keras",
                                              "decoder.npz", "vocab.json"]
    result = run_cli("caption", ORIGINALS / DOG_PHOTOS[0], "--model", tmp_path / "ens.captioner")
    assert result.returncode == 0 and len(result.stdout.split("\t")[1].split()) >= 3


def test_ensemble_with_a_gap_in_decoder_numbers_is_refused(tiny_model, tmp_path):
    with zipfile.ZipFile(tiny_model[0]) as archive:
        decoder = archive.read("decoder.keras")
    bad = _rezip(tiny_model[0], tmp_path / "gap.captioner", extra={"decoder-2.keras": decoder})
    with pytest.raises(BundleError, match="unexpected contents"):
        load_bundle(bad)


def test_bundle_stores_float16_weights_that_decode_like_the_trained_ones(tiny_model, tmp_path):
    import numpy as np

    from ml.decoders.keras_models import build_decoder
    from ml.decoders.numpy_step import StepDecoder
    from ml.model_file import load_keras_decoders

    bundle = load_bundle(tiny_model[0])
    trained = build_decoder("attention", len(bundle.vocab), 1280, 32, 0.5)  # float32, as training leaves it
    path = save_bundle(tmp_path / "m.captioner", trained, bundle.vocab, {**bundle.card, "features": "grid"})
    stored = load_keras_decoders(path)[0]
    assert {w.dtype for w in stored.weights} == {"float16"} and read_card(path)["weights"] == "float16"
    with zipfile.ZipFile(path) as archive, np.load(io.BytesIO(archive.read("decoder.npz"))) as arrays:
        assert {arrays[name].dtype for name in arrays.files} == {np.dtype(np.float16)}
    grid = np.random.default_rng(0).random((2, 9, 1280)).astype(np.float32)
    steps = [StepDecoder.of_model(model) for model in (trained, stored)] + [StepDecoder(load_bundle(path).decoder_arrays[0])]
    log_probs = [step.step(*step.start(grid), np.array([1, 2]))[0] for step in steps]
    assert np.abs(log_probs[1] - log_probs[0]).max() < 1e-2
    assert np.array_equal(log_probs[1].argmax(axis=1), log_probs[0].argmax(axis=1))
    assert np.array_equal(log_probs[2], log_probs[1])  # the arrays captioning reads are the Keras file's weights


BUGGY_CLI = ("import sys, ml.__main__ as cli\n"
             "def caption_with_a_bug(args):\n"
             "    return {}['no such key']  # a programming error injected into the caption command\n"
             "cli.cmd_caption = caption_with_a_bug\n"
             "sys.exit(cli.main(['caption', 'photo.jpg']))\n")


@pytest.mark.parametrize("debug", ["0", "1"])
def test_cli_bug_is_one_line_with_the_traceback_in_the_log(tmp_path, debug):
    env = dict(os.environ, IMAGE_CAPTIONER_CONFIG_DIR=str(tmp_path), IMAGE_CAPTIONER_DEBUG=debug)
    result = subprocess.run([sys.executable, "-c", BUGGY_CLI], cwd=REPO, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    log = (tmp_path / "logs" / "cli.log").read_text()
    assert result.returncode == 70, result.stderr  # EX_SOFTWARE: 1 means some photos failed, 2 bad input
    assert result.stderr.splitlines()[0] == f"error: unexpected KeyError: 'no such key' (a bug; details in {tmp_path / 'logs' / 'cli.log'})"
    assert "Traceback" in log and "caption_with_a_bug" in log
    assert ("Traceback" in result.stderr) == (debug == "1")


def test_a_caption_only_copy_captions_alike_and_says_it_cannot_be_trained_on(tiny_model, tmp_path, flickr8k):
    from ml.captioning.captioner import Captioner
    from ml.model_file import caption_only_copy, load_keras_decoders

    copy = caption_only_copy(tiny_model[0], tmp_path / "copy.captioner")
    with zipfile.ZipFile(copy) as archive:
        assert sorted(archive.namelist()) == ["card.json", "decoder.npz", "domain.npz", "vocab.json"]
    photos = [ORIGINALS / name for name in DOG_PHOTOS]
    assert [(r.caption, r.confidence) for r in Captioner.load(copy).caption(photos, beam_width=1)] == \
        [(r.caption, r.confidence) for r in Captioner.load(tiny_model[0]).caption(photos, beam_width=1)]
    with pytest.raises(BundleError, match="caption-only copy"):
        load_keras_decoders(copy)


CRASHING_CLI = ("import os, sys, ml.__main__ as cli\n"
                "def caption_that_crashes(args):\n"
                "    os.write(2, b'F0000 native CHECK failed: a message from C++\\n')  # as TensorFlow writes it\n"
                "    os.abort()  # a native crash\n"
                "cli.cmd_caption = caption_that_crashes\n"
                "sys.exit(cli.main(['caption', 'photo.jpg']))\n")


def test_a_native_crash_is_said_on_the_terminal_and_its_message_kept_in_the_log(tmp_path):
    """Code review of issue 24: fd 2 went to /dev/null for the whole run, so native aborts and TensorFlow's
    CHECK failures vanished without a word."""
    env = dict(os.environ, IMAGE_CAPTIONER_CONFIG_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", CRASHING_CLI], cwd=REPO, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == -6  # SIGABRT
    assert "Fatal Python error: Aborted" in result.stderr and "caption_that_crashes" in result.stderr
    assert "CHECK failed" not in result.stderr  # native noise stays off the terminal...
    assert "CHECK failed: a message from C++" in (tmp_path / "logs" / "native.log").read_text()  # ...but is kept
