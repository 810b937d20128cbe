"""Captioning on a local Dask cluster (ml/captioning/cluster.py) against one process, in the same run (issue 27).

    .venv/bin/python benchmarks/bench_cluster.py [--photos 400] [--data ../shared/flickr8k]

Prints photos/s of: the single-process caption path (`python -m ml caption`'s Captioner.caption, every core),
the cluster job with one worker process on one core, with two (one core each) and with one on every core, each
after its workers have loaded the model (a warm-up job), and the two-worker job's ratios to one worker. Shipped
model, beam 5, confidence and tags on.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from distributed import Client

from ml.captioning.captioner import Captioner
from ml.captioning.cluster import caption_on_cluster, local_cluster
from ml.core.defaults import BEAM_WIDTH, default_model_path

REPO = Path(__file__).resolve().parent.parent


def write_list(folder: Path, photos: list[Path], name: str) -> Path:
    target = folder / name
    target.write_text("".join(f"{p}\n" for p in photos), encoding="utf-8")
    return target


def single_process(photos: list[Path]) -> float:
    captioner = Captioner.load(default_model_path())
    captioner.caption(photos[:8], BEAM_WIDTH)  # warm up
    began = time.perf_counter()
    captioner.caption(photos, BEAM_WIDTH)
    return len(photos) / (time.perf_counter() - began)


def on_cluster(photos: list[Path], workers: int, scratch: Path, cores: int) -> float:
    with local_cluster(workers, cores) as cluster, \
            Client(cluster) as client:
        warm = write_list(scratch, photos[-8 * workers:], "warm.txt")
        caption_on_cluster(client, [warm], scratch / f"warm-{workers}-{cores}", default_model_path(), BEAM_WIDTH, chunk_size=8)
        report = caption_on_cluster(client, [write_list(scratch, photos, "photos.txt")], scratch / f"out-{workers}-{cores}",
                                    default_model_path(), BEAM_WIDTH)
    assert report.captioned == len(photos) and not report.errors
    return report.photos_per_second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--photos", type=int, default=400)
    args = parser.parse_args()
    photos = sorted((args.data / "Flicker8k_Dataset").glob("*.jpg"))[:args.photos]
    scratch = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        one_process = single_process(photos)
        one_worker_one_core = on_cluster(photos, 1, scratch, 1)
        one_worker = on_cluster(photos, 1, scratch, os.cpu_count() or 1)
        two_workers = on_cluster(photos, 2, scratch, os.cpu_count() or 1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{len(photos)} Flickr8k photos, beam {BEAM_WIDTH}, {os.cpu_count()} cores:")
    print(f"  one process (python -m ml caption's path, every core): {one_process:6.1f} photos/s")
    print(f"  local cluster, 1 worker on 1 core:                   {one_worker_one_core:6.1f} photos/s")
    print(f"  local cluster, 2 workers, 1 core each:               {two_workers:6.1f} photos/s "
          f"(x{two_workers / one_worker_one_core:.2f} one worker on one core: what each added worker adds; aim >= 1.6)")
    print(f"  local cluster, 1 worker on every core:               {one_worker:6.1f} photos/s "
          f"(2 workers x{two_workers / one_worker:.2f} of it)")


if __name__ == "__main__":
    main()
