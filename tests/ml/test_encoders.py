"""Encoders: real ImageNet weights read without torch, and the Xception path's clear download error."""
import pickle

import numpy as np
import pytest

from ml.data.images import load_pixels
from ml.encoders.registry import EncoderError, build_classifier, build_encoder, get_spec
from ml.encoders.torch_weights import TorchWeightsError, load_state_dict
from tests.conftest import DOG_PHOTOS, ORIGINALS

# ImageNet-1k class ids 151..268 are dog breeds; 970 alp, 972 cliff, 976 promontory, 979 valley.
DOG_CLASSES = range(151, 269)
MOUNTAIN_PHOTO = "104136873_5b5d41be75.jpg"  # "People sit on the mountainside and check out the view"


@pytest.fixture(scope="module")
def lite2_classifier():
    return build_classifier("efficientnet-lite2")


@pytest.fixture(scope="module")
def lite2_encoder():
    return build_encoder("efficientnet-lite2")


def _pixels(names, size):
    return np.stack([load_pixels(ORIGINALS / name, size) for name in names])


def test_dog_photos_are_classified_as_dogs(flickr8k, lite2_classifier):
    logits = lite2_classifier.predict(_pixels(DOG_PHOTOS, 260), verbose=0)
    for name, row in zip(DOG_PHOTOS, logits):
        top5 = np.argsort(-row)[:5]
        assert top5[0] in DOG_CLASSES, f"{name}: top-5 {top5}"
        assert sum(c in DOG_CLASSES for c in top5) >= 3


def test_two_dogs_are_closer_than_dog_and_mountain(flickr8k, lite2_encoder):
    first_dog, second_dog, mountain = lite2_encoder.predict(
        _pixels(DOG_PHOTOS[:2] + [MOUNTAIN_PHOTO], 260), verbose=0)
    cosine = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cosine(first_dog, second_dog) > cosine(first_dog, mountain) + 0.05


def test_lite0_features_have_declared_shape():
    encoder = build_encoder("efficientnet-lite0")
    spec = get_spec("efficientnet-lite0")
    features = encoder.predict(np.zeros((2, spec.image_size, spec.image_size, 3), np.float32), verbose=0)
    assert features.shape == (2, spec.feature_dim) and np.isfinite(features).all()


def test_xception_code_path_shapes_without_weights():
    spec = get_spec("xception")
    encoder = build_encoder("xception", pretrained=False)
    features = encoder.predict(np.full((1, spec.image_size, spec.image_size, 3), 128, np.float32), verbose=0)
    assert features.shape == (1, 2048)


def test_xception_download_failure_says_how_to_supply_weights(monkeypatch):
    # This machine has no internet, but a user's may: make the download fail on purpose either way.
    from keras.src.applications import xception

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(xception.file_utils, "get_file", offline)
    with pytest.raises(EncoderError) as caught:
        build_encoder("xception")
    message = str(caught.value)
    assert "--encoder-weights" in message and "xception_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "\n" not in message


def test_missing_xception_weights_file(tmp_path):
    with pytest.raises(EncoderError, match="Xception weights file not found"):
        build_encoder("xception", weights_path=tmp_path / "x.h5")


def test_unknown_encoder():
    with pytest.raises(EncoderError, match="unknown encoder 'vgg'"):
        get_spec("vgg")


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_weight_reader_refuses_code_in_pickle(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as file:
        pickle.dump(0x1950A86A20F9469CFC6C, file)
        pickle.dump(1001, file)
        pickle.dump({}, file)
        pickle.dump(_Exploit(), file)
    with pytest.raises(TorchWeightsError, match="refusing to load posix.system|refusing to load os.system"):
        load_state_dict(path)


def test_weight_reader_refuses_other_files(tmp_path):
    path = tmp_path / "x.pth"
    path.write_bytes(b"\x80\x02K\x01.")  # a pickled 1, not the magic number
    with pytest.raises(TorchWeightsError, match="not a legacy PyTorch weights file"):
        load_state_dict(path)


def test_grid_features_average_to_the_pooled_vector(flickr8k):
    spec = get_spec("efficientnet-lite0")
    pixels = _pixels(DOG_PHOTOS[:1], spec.image_size)
    pooled = build_encoder("efficientnet-lite0").predict(pixels, verbose=0)
    grid = build_encoder("efficientnet-lite0", grid=True).predict(pixels, verbose=0)
    assert grid.shape == (1, 49, 1280)  # 7 x 7 regions at 224 px
    np.testing.assert_allclose(grid.mean(axis=1), pooled, rtol=1e-4, atol=1e-4)
