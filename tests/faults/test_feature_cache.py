"""The feature cache: a damaged shard is named, set aside and its photos recomputed (one truncated shard made
every features/train/evaluate fail with a BadZipFile traceback), and only the shards holding the photos asked
for are read (a 6-photo evaluation peaked at 1.56 GB beside other data sets' shards)."""
import logging
import subprocess
import sys

import numpy as np

from ml.features.cache import FeatureCache, extract_features
from tests.conftest import DOG_PHOTOS, ORIGINALS, REPO


def test_a_truncated_shard_is_set_aside_and_its_photos_recomputed(tmp_path, caplog):
    from ml.encoders.registry import build_encoder

    lite0 = build_encoder("efficientnet-lite0")
    photos = [ORIGINALS / name for name in DOG_PHOTOS]
    first = extract_features(photos, "efficientnet-lite0", tmp_path / "cache", encoder=lite0, batch_size=2)
    shards = sorted((tmp_path / "cache").glob("shard-*.npz"))
    assert len(shards) == 2
    shards[0].write_bytes(shards[0].read_bytes()[:100])  # as a full disk or a kill mid-copy leaves it
    with caplog.at_level(logging.WARNING, logger="ml"):
        again = extract_features(photos, "efficientnet-lite0", tmp_path / "cache", encoder=lite0, batch_size=2)
    assert not again.errors and sorted(again.features) == sorted(photos)
    for photo in photos:
        np.testing.assert_allclose(again.features[photo], first.features[photo], atol=1e-5)
    assert any(str(shards[0]) in record.getMessage() and "set aside" in record.getMessage() for record in caplog.records)
    assert len(list((tmp_path / "cache").glob("shard-*.npz.damaged-*"))) == 1


PEAK_MEMORY = ("import re, sys\n"
               "from ml.features.cache import FeatureCache\n"
               "found = FeatureCache(sys.argv[1]).get(sys.argv[2:])\n"
               "status = open('/proc/self/status').read()\n"
               "print(len(found), int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) // 1024)\n")


def test_only_the_shards_holding_the_photos_asked_for_are_read(tmp_path):
    cache = FeatureCache(tmp_path)
    mine = [f"photo-{i}" for i in range(6)]
    cache.add(mine, np.ones((6, 1280), np.float32))
    other_data_set = [f"other-{i}" for i in range(60_000)]  # 60,000 photos' pooled features: 307 MB
    cache.add(other_data_set, np.zeros((60_000, 1280), np.float32))
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(tmp_path), *mine, "not-cached"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    found, peak_mib = map(int, result.stdout.split())
    assert found == 6
    assert peak_mib < 150, f"peak RSS {peak_mib} MiB"


def test_features_of_another_encoder_file_backend_or_preprocessing_are_never_served(monkeypatch):
    """Code review of issue 24: the cache was keyed by photo and encoder name only, so features from another
    weights file, another backend or older preprocessing were mixed into training and evaluation unseen."""
    import shutil

    from ml.encoders import litert
    from ml.encoders.registry import build_encoder
    from ml.features import cache

    photo = [ORIGINALS / DOG_PHOTOS[0]]
    by_litert = extract_features(photo, "efficientnet-lite2").cache.folder
    assert extract_features(photo, "efficientnet-lite2").cache.folder == by_litert  # the same file: a hit
    by_keras = extract_features(photo, "efficientnet-lite2", encoder=build_encoder("efficientnet-lite2")).cache.folder
    monkeypatch.setattr(cache, "PREPROCESSING_VERSION", cache.PREPROCESSING_VERSION + 1, raising=False)
    by_new_preprocessing = extract_features(photo, "efficientnet-lite2").cache.folder
    monkeypatch.undo()
    other = litert.converted_encoder_path("efficientnet-lite2").with_name("other-lite2.tflite")
    other.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(litert.shipped_encoder_path("efficientnet-lite2"), other)
    with open(other, "ab") as changed:
        changed.write(b"\0")  # another weights file (a retrained or re-converted encoder)
    monkeypatch.setattr(litert, "encoder_file", lambda name, weights_path=None: other)
    by_other_file = extract_features(photo, "efficientnet-lite2").cache.folder
    other.unlink()
    assert len({by_litert, by_keras, by_new_preprocessing, by_other_file}) == 4


def test_a_read_only_cache_folder_computes_features_without_storing_them(read_only_folder, caplog):
    """Issue 24 N17: `features` and `evaluate` failed on a cache folder that cannot be written."""
    photos = [ORIGINALS / name for name in DOG_PHOTOS[:2]]
    with caplog.at_level(logging.WARNING, logger="ml.features.cache"):
        result = extract_features(photos, "efficientnet-lite0", cache_dir=read_only_folder / "cache")
    assert sorted(result.features) == sorted(photos) and not result.errors
    assert all(np.isfinite(vectors).all() and vectors.shape == (1280,) for vectors in result.features.values())
    assert "features cannot be stored here" in caplog.text and not list(read_only_folder.iterdir())


def test_a_huge_file_is_hashed_in_chunks_not_read_whole(tmp_path):
    """Issue 24 N14: a 4 GiB "photo" was read whole into memory to compute its cache key."""
    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as file:
        file.truncate(2 << 30)  # 2 GiB, sparse
    code = ("import re, sys\nfrom ml.features.cache import file_key\nprint(file_key(sys.argv[1]))\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)) // 1024)")
    run = subprocess.run([sys.executable, "-c", code, str(huge)], capture_output=True, text=True, cwd=REPO, timeout=300)
    key, peak_mib = run.stdout.split()
    assert len(key) == 40 and int(peak_mib) < 500, run.stdout
