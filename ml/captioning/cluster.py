"""Captioning a collection too large for one machine on a Dask cluster (issue 27): the photos go out in
chunks to worker processes that each keep the model loaded, and each finished chunk comes back and is written
as one JSONL shard (the fields of `python -m ml caption --jsonl`), whole or not at all. A rerun reads the
shards already written and skips their photos, so a crash, a killed worker or Ctrl+C loses no finished photo
and duplicates none. Dask reruns a lost worker's chunk on another worker by itself.

Dask (`pip install -r requirements-cluster.txt`) is an optional extra: nothing else in the project imports
it. Why Dask rather than Ray Data: docs/usage.md ("Captioning on a cluster").
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from ml.core.atomic import write_text_atomically
from ml.core.errors import UserError
from ml.core.types import PathLike
from ml.data.images import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from ml.captioning.captioner import Captioner

SHARD_PATTERN = "part-*.jsonl"
CHUNK_SIZE = 64  # photos per task: two of the captioner's batches of 32, a second or two of work
# Dask's statistical profiler samples the running task's stack every 10 ms, holding the interpreter lock: on
# beam search's many small steps it made a worker's decoding 1.3x slower (benchmarks/bench_cluster.py).
NO_PROFILER = ("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "False")
# Tasks in flight per worker: one running, one waiting, so no worker idles while the next chunk travels.
TASKS_PER_WORKER = 2


def photos_in(sources: Sequence[PathLike]) -> list[Path]:
    """The photos to caption: each folder's photos, in every folder below it (sorted), and the lines of
    each .txt file (one photo path a line; blank lines and lines starting with # skipped). One line error
    for a source that is neither."""
    photos: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            photos.extend(sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                                 and not any(part.startswith(".") for part in p.relative_to(source).parts)))
        elif source.suffix.lower() == ".txt" and source.is_file():
            lines = source.read_text(encoding="utf-8").splitlines()
            photos.extend(Path(line.strip()) for line in lines if line.strip() and not line.startswith("#"))
        else:
            raise UserError(f"{source}: not a folder of photos or a .txt list of photo paths")
    return list(dict.fromkeys(photos))  # a photo named twice is captioned once


def done_photos(output: Path) -> set[str]:
    """The photos the shards in `output` already hold (shards are written whole; an unreadable one's
    photos are captioned again)."""
    done: set[str] = set()
    for shard in sorted(output.glob(SHARD_PATTERN)):
        try:
            images = [json.loads(line)["image"] for line in shard.read_text(encoding="utf-8").splitlines() if line]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        done.update(images)
    return done


def shard_name(photos: Sequence[str]) -> str:
    """A chunk's shard: named by its photos, so a rerun's chunk of other photos never takes its name."""
    return f"part-{hashlib.sha1(chr(10).join(photos).encode('utf-8')).hexdigest()[:16]}.jsonl"


def write_shard(output: Path, records: Sequence[dict]) -> Path:
    """One chunk's records as a JSONL file, whole (temp file, fsync, rename)."""
    text = "".join(json.dumps(record) + "\n" for record in records)
    return write_text_atomically(output / shard_name([record["image"] for record in records]), text)


# The captioner of this worker process, by model file: loaded by its first chunk, kept for the rest.
_captioners: dict[str, Captioner] = {}


def caption_chunk(model_path: str, photos: Sequence[str], beam_width: int) -> list[dict]:
    """Run on a worker: one chunk's records, in the order of `photos` (an unreadable photo's record holds its
    one-line error). The worker uses the cores its BLAS gets as the CLI uses a machine's (Dask's nanny sets
    OMP_NUM_THREADS: 1 by default, one worker process per core; local_cluster shares the cores out): with one,
    a batch at a time and the encoder on that core; with more, that many batches at once."""
    from ml.captioning.captioner import Captioner

    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or None
    captioner = _captioners.get(model_path)
    if captioner is None:
        captioner = _captioners[model_path] = Captioner.load(model_path, encoder_threads=threads)
    return [result.record() for result in captioner.caption(photos, beam_width, batch_size=32, workers=threads or 1)]


def local_cluster(workers: int, cores: Optional[int] = None) -> LocalCluster:
    """A cluster of `workers` processes on this machine, `cores` (all: None) shared out among them (each
    worker's BLAS and encoder get cores / workers threads)."""
    from distributed import LocalCluster

    threads = str(max(1, (cores or os.cpu_count() or 1) // workers))
    # Dask's nanny hands its own environment to each worker process it spawns, before numpy is imported there
    # (its "env" argument would come too late), and keeps a variable this process already has.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = threads
    os.environ[NO_PROFILER[0]] = NO_PROFILER[1]
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")


@dataclass
class ClusterReport:
    """What a run did: photos captioned now, skipped as done before, failed (one-line errors), and its speed."""

    total: int = 0
    skipped: int = 0
    captioned: int = 0
    errors: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def photos_per_second(self) -> float:
        return self.captioned / self.seconds if self.seconds else 0.0


def chunks(photos: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(photos), size):
        yield list(photos[start:start + size])


def caption_on_cluster(client: Client, sources: Sequence[PathLike], output: PathLike, model_path: PathLike,
                       beam_width: int, chunk_size: int = CHUNK_SIZE,
                       on_chunk: Optional[Callable[[ClusterReport], None]] = None) -> ClusterReport:
    """Caption every photo of `sources` not yet in `output`'s shards on the cluster `client` is connected to,
    writing a shard per finished chunk; `on_chunk` hears after each."""
    from distributed import as_completed

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    photos = [str(p) for p in photos_in(sources)]
    done = done_photos(output)
    todo = [p for p in photos if p not in done]
    report = ClusterReport(total=len(photos), skipped=len(photos) - len(todo))
    workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    waiting = chunks(todo, chunk_size)
    began = time.perf_counter()

    def submit(chunk: list[str]):
        return client.submit(caption_chunk, str(model_path), chunk, beam_width, pure=False)

    running = as_completed([submit(chunk) for chunk in itertools.islice(waiting, workers * TASKS_PER_WORKER)])
    for future in running:
        records = future.result()
        future.release()
        write_shard(output, records)
        report.captioned += len(records)
        report.errors += [record["error"] for record in records if record["error"]]
        report.seconds = time.perf_counter() - began
        for chunk in itertools.islice(waiting, 1):
            running.add(submit(chunk))
        if on_chunk is not None:
            on_chunk(report)
    return report
