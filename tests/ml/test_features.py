"""Feature extraction: cached, resumable after a cancel, bad photos reported while the rest go on."""
import shutil
import threading

import numpy as np
import pytest

from ml.core.progress import Cancelled
from ml.encoders.registry import build_encoder
from ml.features.cache import FeatureCache, extract_features
from tests.conftest import DOG_PHOTOS, ORIGINALS


@pytest.fixture(scope="module")
def lite0():
    return build_encoder("efficientnet-lite0")


@pytest.fixture
def photos(flickr8k, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    names = sorted(p.name for p in ORIGINALS.glob("*.jpg"))[:10]
    for name in names:
        shutil.copy(ORIGINALS / name, folder / name)
    return sorted(folder.iterdir())


def test_cancel_keeps_finished_batches_and_rerun_resumes(photos, lite0, tmp_path):
    cache_dir, cancel, reports = tmp_path / "cache", threading.Event(), []

    def cancel_after_first_batch(progress):
        reports.append(progress)
        cancel.set()

    with pytest.raises(Cancelled):
        extract_features(photos, "efficientnet-lite0", cache_dir, batch_size=4,
                         on_progress=cancel_after_first_batch, cancel=cancel, encoder=lite0)
    assert reports[0].done == 4 and reports[0].total == 10 and reports[0].rate > 0
    assert len(FeatureCache(cache_dir).shard_of) == 4

    resumed = []
    result = extract_features(photos, "efficientnet-lite0", cache_dir, batch_size=4,
                              on_progress=resumed.append, encoder=lite0)
    assert [r.done for r in resumed] == [8, 10]  # only the six missing photos were computed
    assert len(result.features) == 10 and not result.errors
    assert all(v.shape == (1280,) for v in result.features.values())


def test_cache_is_keyed_by_content_not_path(photos, lite0, tmp_path):
    cache_dir = tmp_path / "cache"
    first = extract_features(photos[:2], "efficientnet-lite0", cache_dir, encoder=lite0)
    moved = tmp_path / "moved.jpg"
    shutil.copy(photos[0], moved)
    again = extract_features([moved], "efficientnet-lite0", cache_dir, encoder=None)  # no encoder needed
    np.testing.assert_array_equal(again.features[moved], first.features[photos[0]])


def test_bad_photos_are_reported_and_the_batch_goes_on(photos, bad_photos, lite0, tmp_path):
    mixed = photos[:3] + [bad_photos["truncated"], bad_photos["text"], tmp_path / "gone.jpg"]
    result = extract_features(mixed, "efficientnet-lite0", tmp_path / "cache", batch_size=4, encoder=lite0)
    assert set(result.features) == set(photos[:3])
    assert set(result.errors) == {bad_photos["truncated"], bad_photos["text"], tmp_path / "gone.jpg"}
    assert "damaged" in result.errors[bad_photos["truncated"]]


def test_features_match_a_bare_forward_pass(flickr8k, lite0, tmp_path):
    from ml.data.images import load_pixels

    path = ORIGINALS / DOG_PHOTOS[0]
    cached = extract_features([path], "efficientnet-lite0", tmp_path / "cache", encoder=lite0).features[path]
    direct = lite0.predict(load_pixels(path, 224)[None], verbose=0)[0]
    np.testing.assert_allclose(cached, direct, rtol=1e-4, atol=1e-4)


def test_mirrored_features_are_those_of_the_mirrored_photo_and_cached_apart(photos, lite0, tmp_path):
    from PIL import Image

    mirror_file = tmp_path / "mirror.png"
    Image.open(photos[0]).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirror_file)
    plain = extract_features(photos[:1], "efficientnet-lite0", tmp_path / "cache", encoder=lite0).features[photos[0]]
    mirrored = extract_features(photos[:1], "efficientnet-lite0", tmp_path / "cache-flipped", encoder=lite0,
                                flipped=True).features[photos[0]]
    by_file = extract_features([mirror_file], "efficientnet-lite0", tmp_path / "cache", encoder=lite0).features[mirror_file]
    assert np.abs(mirrored - plain).max() > 0.05  # a different view of the photo
    np.testing.assert_allclose(mirrored, by_file, rtol=1e-3, atol=2e-3)  # resizing order differs slightly
