"""What the encoder recognises: ImageNet-1k tags from the EfficientNet-Lite classifier head, real names with
probabilities, right on real photos, at no TensorFlow cost."""
import numpy as np
import pytest

from ml.captioning.captioner import Captioner
from ml.core.defaults import default_model_path
from ml.encoders.imagenet import ImageNetHead, head_arrays_from_torch, shipped_head_path
from ml.encoders.words import ImageNetWords
from tests.conftest import DOG_PHOTOS, ORIGINALS, REPO

SAMPLES = REPO / "assets" / "samples"
# ImageNet-1k class ids: 151..268 dog breeds; 281..285 domestic cats; 504 coffee mug, 967 espresso, 968 cup.
DOGS, CATS, COFFEE = range(151, 269), range(281, 286), {504, 967, 968}


def test_the_shipped_head_is_the_weight_package_head():
    with np.load(shipped_head_path("efficientnet-lite2")) as stored:
        kernel, bias = head_arrays_from_torch("efficientnet-lite2")
        assert stored["kernel"].shape == kernel.shape == (1280, 1000)
        assert np.abs(stored["kernel"] - kernel).max() < 1e-3 and np.abs(stored["bias"] - bias).max() < 1e-3


def test_tags_name_what_real_photos_show(flickr8k):
    captioner = Captioner.load(default_model_path())
    photos = [SAMPLES / "cat.jpg", SAMPLES / "coffee.jpg"] + [ORIGINALS / name for name in DOG_PHOTOS]
    results = captioner.caption(photos, beam_width=1)
    words = ImageNetWords.shipped()
    for result, expected in zip(results, [CATS, COFFEE] + [DOGS] * len(DOG_PHOTOS)):
        # Tags are plain words now ("cat" for the Egyptian Mau and tabby together, ml/encoders/words.py).
        assert len(result.tags) == 3 and result.tags[0][0] in {words.plain_word(index) for index in expected}, result
        probabilities = [probability for _, probability in result.tags]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1.0001


def test_xception_without_keras_full_weights_gives_no_tags(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert ImageNetHead.for_encoder("xception") is None


def test_a_damaged_weights_file_gives_no_tags_and_says_so_in_the_log(tmp_path, monkeypatch, caplog):
    """Issue 24: the head's errors were swallowed whole (tags vanished, nothing said, bugs hidden)."""
    from ml.encoders.imagenet import XCEPTION_FULL_WEIGHTS

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / XCEPTION_FULL_WEIGHTS).write_bytes(b"not an HDF5 file")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with caplog.at_level("WARNING", logger="ml.encoders.imagenet"):
        assert ImageNetHead.for_encoder("xception") is None
    assert "no ImageNet tags for xception" in caplog.text


def test_a_bug_while_reading_a_head_is_raised_not_hidden(tmp_path, monkeypatch):
    from ml.encoders import imagenet

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / imagenet.XCEPTION_FULL_WEIGHTS).write_bytes(b"\x89HDF")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def broken(path, layer="predictions"):
        raise TypeError("a bug in the reader")

    monkeypatch.setattr(imagenet, "head_arrays_from_keras_h5", broken)
    with pytest.raises(TypeError, match="a bug in the reader"):
        ImageNetHead.for_encoder("xception")


def test_xception_tags_come_from_keras_full_weights_where_downloaded(tmp_path, monkeypatch):
    """Keras' real Xception weights cannot be downloaded here (no internet), so the file is written by Keras
    itself in the layout keras.applications downloads (legacy HDF5), from an Xception with random weights."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from ml.encoders.imagenet import XCEPTION_FULL_WEIGHTS

    model = keras.applications.Xception(weights=None, include_top=True)
    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / XCEPTION_FULL_WEIGHTS, "w") as weights:
        legacy_h5_format.save_weights_to_hdf5_group(weights, model)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    head = ImageNetHead.for_encoder("xception")
    assert np.array_equal(head.kernel, model.get_layer("predictions").kernel.numpy())
    pooled = np.random.default_rng(0).random((2, 2048)).astype(np.float32)
    assert len(head.top_tags(pooled)[0]) == 3
