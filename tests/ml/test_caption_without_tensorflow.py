"""Captioning runs on LiteRT and numpy alone: no TensorFlow or Keras is imported, or needed, to describe a
photo; the LiteRT encoder gives the Keras encoder's features; model files from before the stored arrays
still caption; an encoder that is not shipped is converted once and kept."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ml.captioning.captioner import Captioner
from ml.core.defaults import default_model_path
from ml.data.images import load_pixels
from tests.conftest import CITY_PHOTO, DOG_PHOTOS, ICE_CLIMB_PHOTO, ORIGINALS, REPO
from tests.ml.test_bundle_and_cli import OLD_FORMAT_DROPS, _rezip

SAMPLE = REPO / "assets" / "samples" / "cat.jpg"

# Runs in a fresh process where TensorFlow and Keras cannot be imported (as on a machine without them):
# a finder refuses them, and an audit hook records any attempt, so the check also catches an import
# that something catches and survives.
WITHOUT_TENSORFLOW = """
import json, runpy, sys
attempts = []
sys.addaudithook(lambda event, args: attempts.append(args[0]) if event == "import" and
                 args[0].split(".")[0] in ("tensorflow", "keras") else None)
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, NoTensorFlow())
sys.argv = ["ml", *sys.argv[1:]]
try:
    runpy.run_module("ml", run_name="__main__")
except SystemExit as done:
    code = done.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"exit": code, "loaded": loaded, "attempts": attempts}))
"""


def _cli_without_tensorflow(*args, env=None):
    result = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def test_the_caption_command_describes_photos_with_no_tensorflow_installed(flickr8k):
    # The shipped model named: the shared test data folder's active model may be one another test trained.
    result, outcome = _cli_without_tensorflow("caption", "--model", default_model_path(), SAMPLE, ORIGINALS / DOG_PHOTOS[0],
                                              "--jsonl")
    assert outcome == {"exit": 0, "loaded": [], "attempts": []}, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()[:-1]]
    captions = [row["caption"] for row in rows]
    assert rows[0]["tags"][0]["label"] == "cat" and 0 < rows[0]["tags"][0]["probability"] <= 1
    assert len(captions) == 2 and {"dog", "dogs"} & set(captions[1].split())
    assert result.stderr == ""  # LiteRT's native start-up notice stays off the terminal


def test_an_encoder_never_converted_asks_for_tensorflow_in_one_line(tiny_model, tmp_path):
    env = dict(os.environ, IMAGE_CAPTIONER_DATA_DIR=str(tmp_path))  # no converted EfficientNet-Lite0 here
    result, outcome = _cli_without_tensorflow("caption", SAMPLE, "--model", tiny_model[0], env=env)
    assert outcome["exit"] == 2 and outcome["loaded"] == []
    assert result.stderr.count("\n") == 1 and "efficientnet-lite0" in result.stderr and "TensorFlow" in result.stderr


def test_a_missing_photo_is_told_without_loading_the_encoder():
    result, outcome = _cli_without_tensorflow("caption", "no-such-photo.jpg")
    assert outcome["exit"] == 2 and "no-such-photo.jpg: file not found" in result.stderr  # nothing to do: bad input
    assert not any(name.startswith("ai_edge_litert") for name in outcome["loaded"])


def test_litert_features_match_tensorflow_on_real_photos(flickr8k):
    """The shipped .tflite against the Keras encoder it was converted from, on four real photos. Tolerance:
    1e-4 absolute on features in [0, 6] (ReLU6 outputs), measured here at about 4e-5; pooled features
    (the mean of the 81 regions) agree to 1e-5."""
    from ml.encoders.litert import LiteEncoder, shipped_encoder_path, tensorflow_encoder

    pixels = np.stack([load_pixels(ORIGINALS / name, 260) for name in DOG_PHOTOS[:2] + [ICE_CLIMB_PHOTO, CITY_PHOTO]])
    lite = LiteEncoder(shipped_encoder_path("efficientnet-lite2"))(pixels)
    keras = tensorflow_encoder("efficientnet-lite2")(pixels)
    assert lite.shape == keras.shape == (4, 81, 1280)
    assert np.abs(lite - keras).max() < 1e-4 and keras.max() > 1.0
    assert np.abs(lite.mean(axis=1) - keras.mean(axis=1)).max() < 1e-5
    single = LiteEncoder(shipped_encoder_path("efficientnet-lite2"))(pixels[2:3])  # batch size changes too
    assert np.abs(single[0] - lite[2]).max() < 1e-4


def test_litert_and_tensorflow_captions_agree_on_real_photos(flickr8k):
    photos = [ORIGINALS / name for name in DOG_PHOTOS + [ICE_CLIMB_PHOTO, CITY_PHOTO]]
    lite = Captioner.load(default_model_path()).caption(photos)
    keras = Captioner.load(default_model_path(), backend="tensorflow").caption(photos)
    assert [r.caption for r in lite] == [r.caption for r in keras] and all(r.caption for r in lite)


def test_an_old_format_model_file_still_captions(tiny_model, tmp_path, flickr8k):
    """A file written before the decoder arrays were stored: its Keras decoder is read (TensorFlow is
    here), giving the same captions as the file with arrays."""
    old = _rezip(tiny_model[0], tmp_path / "old.captioner", drop=OLD_FORMAT_DROPS)
    photos = [ORIGINALS / name for name in DOG_PHOTOS]
    captions_old = [r.caption for r in Captioner.load(old).caption(photos, beam_width=1)]
    captions_new = [r.caption for r in Captioner.load(tiny_model[0]).caption(photos, beam_width=1)]
    assert captions_old == captions_new and all(captions_old)


def test_an_encoder_not_shipped_is_converted_once_and_kept(tiny_model, tmp_path, monkeypatch):
    from ml.encoders import litert as lite_encoder

    monkeypatch.setenv("IMAGE_CAPTIONER_DATA_DIR", str(tmp_path))
    conversions = []
    real_convert = lite_encoder.convert_encoder
    monkeypatch.setattr(lite_encoder, "convert_encoder", lambda *a, **k: conversions.append(a) or real_convert(*a, **k))
    first = lite_encoder.encoder_file("efficientnet-lite0")
    second = lite_encoder.encoder_file("efficientnet-lite0")
    assert first == second == tmp_path / "encoders" / "efficientnet-lite0.tflite" and len(conversions) == 1
    assert [p.name for p in (tmp_path / "encoders").iterdir() if p.suffix == ".tflite"] == [first.name]  # no temp left


def test_a_foreign_tflite_model_is_refused_as_the_encoder_in_one_line(tmp_path):
    """Issue 24 N17: a valid .tflite of another model loaded, then failed mid-caption."""
    import tensorflow as tf

    from ml.encoders.litert import LiteEncoder
    from ml.encoders.registry import EncoderError, get_spec

    inputs = tf.keras.Input((10,))
    foreign = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(inputs))
    forward = tf.function(lambda x: foreign(x), autograph=False).get_concrete_function(tf.TensorSpec([None, 10], tf.float32))
    path = tmp_path / "efficientnet-lite2.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([forward], foreign).convert())
    with pytest.raises(EncoderError, match="not a efficientnet-lite2 encoder") as caught:
        LiteEncoder(path, spec=get_spec("efficientnet-lite2"))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_damaged_converted_encoder_is_set_aside_and_named(monkeypatch, tmp_path):
    """A converted copy in the user's data folder that cannot be read is set aside (it was read and refused at
    every start); here without TensorFlow, so the one line says what converts it again."""
    from ml.encoders import litert
    from ml.encoders.registry import EncoderError

    monkeypatch.setenv("IMAGE_CAPTIONER_DATA_DIR", str(tmp_path))  # a data folder of this test's own
    converted = litert.converted_encoder_path("efficientnet-lite0")
    converted.parent.mkdir(parents=True)
    converted.write_bytes(b"TFL3 not really")
    monkeypatch.setattr(litert, "installed", lambda module: module != "tensorflow")  # mocked: TensorFlow is here
    with pytest.raises(EncoderError, match="set aside.*needs TensorFlow"):
        litert.grid_encoder("efficientnet-lite0")
    assert not converted.exists() and list(converted.parent.glob("efficientnet-lite0.tflite.damaged-*"))


def test_a_damaged_encoder_file_is_one_line(tmp_path):
    from ml.encoders.litert import LiteEncoder
    from ml.encoders.registry import EncoderError

    bad = tmp_path / "efficientnet-lite2.tflite"
    bad.write_bytes(b"TFL3 not really")
    with pytest.raises(EncoderError, match="not a usable encoder file") as caught:
        LiteEncoder(bad)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)
