"""Captioning on a Dask cluster (ml/captioning/cluster.py), for real: a local cluster of two worker processes
on this machine, real Flickr8k photos and the shipped model."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from ml.captioning.cluster import SHARD_PATTERN, caption_on_cluster, done_photos, local_cluster
from ml.core.defaults import default_model_path
from tests.conftest import REPO

distributed = pytest.importorskip("distributed", reason="the cluster extra (requirements-cluster.txt) is not installed")


@pytest.fixture(scope="module")
def client():
    with local_cluster(2) as cluster:
        with distributed.Client(cluster) as connected:
            yield connected


@pytest.fixture(scope="module")
def photos(flickr8k):
    return sorted((flickr8k / "Flicker8k_Dataset").glob("*.jpg"))[:40]


def photo_list(tmp_path, photos, name="photos.txt"):
    target = tmp_path / name
    target.write_text("".join(f"{photo}\n" for photo in photos), encoding="utf-8")
    return target


def shard_records(folder) -> list[dict]:
    return [json.loads(line) for shard in sorted(folder.glob(SHARD_PATTERN)) for line in shard.read_text().splitlines()]


def test_the_cluster_job_writes_what_the_cli_prints(client, photos, tmp_path):
    """The same photos through `python -m ml caption --jsonl` and through the cluster job: the same records
    (confidence to within rounding: the workers' encoder runs one thread each, the CLI's every core)."""
    printed = subprocess.run([sys.executable, "-m", "ml", "caption", "--jsonl", "--model", str(default_model_path()),
                              *map(str, photos[:24])], capture_output=True, text=True, cwd=REPO, check=True)
    expected = {record["image"]: record for record in map(json.loads, printed.stdout.splitlines())}
    report = caption_on_cluster(client, [photo_list(tmp_path, photos[:24])], tmp_path / "out", default_model_path(),
                                5, chunk_size=8)
    written = {record["image"]: record for record in shard_records(tmp_path / "out")}
    assert report.captioned == 24 and len(list((tmp_path / "out").glob(SHARD_PATTERN))) == 3
    assert sorted(written) == sorted(expected)
    same_fields = ("caption", "text", "unsure", "reasons", "looks_like", "error")
    for image, record in written.items():
        assert [record[k] for k in same_fields] == [expected[image][k] for k in same_fields]
        assert [t["label"] for t in record["tags"]] == [t["label"] for t in expected[image]["tags"]]
        assert abs(record["confidence"] - expected[image]["confidence"]) <= 0.002


def test_a_rerun_skips_what_is_done_and_duplicates_nothing(client, photos, tmp_path):
    """A first run stopped after 16 photos (as a crash would: its shards are all that is left), then a run over
    all 40: it captions only the 24 others, and every photo is in the shards exactly once."""
    output = tmp_path / "out"
    first = caption_on_cluster(client, [photo_list(tmp_path, photos[:16])], output, default_model_path(), 5, chunk_size=8)
    second = caption_on_cluster(client, [photo_list(tmp_path, photos, "all.txt")], output, default_model_path(), 5,
                                chunk_size=8)
    assert (first.captioned, second.skipped, second.captioned) == (16, 16, 24)
    images = [record["image"] for record in shard_records(output)]
    assert sorted(images) == sorted(map(str, photos)) and len(images) == len(set(images)) == 40
    again = caption_on_cluster(client, [photo_list(tmp_path, photos, "all.txt")], output, default_model_path(), 5)
    assert (again.skipped, again.captioned) == (40, 0)


def test_a_worker_killed_mid_run_loses_no_photo(photos, tmp_path):
    """One of two workers killed (SIGKILL) after the first shard: Dask reruns its chunk elsewhere; every photo
    ends in the shards exactly once."""
    with local_cluster(2) as cluster, \
            distributed.Client(cluster) as own_client:
        worker_pids = list(own_client.run(os.getpid).values())
        killed = []

        def kill_one(report):
            if not killed:
                os.kill(worker_pids[0], signal.SIGKILL)
                killed.append(report.captioned)

        report = caption_on_cluster(own_client, [photo_list(tmp_path, photos)], tmp_path / "out", default_model_path(), 5,
                                    chunk_size=4, on_chunk=kill_one)
    assert killed and report.captioned == 40 and not report.errors
    images = [record["image"] for record in shard_records(tmp_path / "out")]
    assert sorted(images) == sorted(map(str, photos)) and len(set(images)) == 40


def test_a_torn_shard_is_captioned_again(tmp_path):
    """A shard that is not whole JSON (written by something else, or damaged) counts for nothing."""
    (tmp_path / "part-aaaa.jsonl").write_text('{"image": "a.jpg"}\n{"image": "b.j', encoding="utf-8")
    (tmp_path / "part-bbbb.jsonl").write_text('{"image": "c.jpg"}\n', encoding="utf-8")
    assert done_photos(tmp_path) == {"c.jpg"}


def test_a_source_that_is_neither_folder_nor_list_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ml", "caption-cluster", str(tmp_path / "nothing.jpg"),
                             "--output", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    said = f"error: {tmp_path / 'nothing.jpg'}: not a folder of photos or a .txt list of photo paths"
    assert result.stderr.strip().splitlines() == [said]
