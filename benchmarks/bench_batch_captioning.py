"""Captioning many photos (issue 27): beam search for a whole batch against one photo at a time, same run.

    .venv/bin/python benchmarks/bench_batch_captioning.py [--data ../shared/flickr8k] [--photos 1000]
                                                          [--cli-photos 200] [--baseline d7c981b]
                                                          [--same-as 31b1615]

- decoding alone (features computed first, shipped model, beam 5, batches of 32): ms per photo of the
  per-photo beam search (`beam_decode`, the baseline kept for this) and of `batched_beam_decode`, and
  whether every caption of the Flickr8k dev photos is the same;
- the CLI as a user runs it (`python -m ml caption FOLDER`, beam 5, confidence and tags on) on the same
  photos: photos/s of this tree and of a git worktree of the baseline commit, in the same run, and the
  encoder-bound limit (LiteRT encoder alone, batches of 32) with the ratio to it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BATCH = 32


def dev_names(data: Path, count: int) -> list[str]:
    return (data / "Flickr8k_text" / "Flickr_8k.devImages.txt").read_text().split()[:count]


def bench_decoding(data: Path, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from ml.captioning.captioner import Captioner, caption_workers
    from ml.core.defaults import default_model_path
    from ml.data.images import load_pixels
    from ml.decoders.search import batched_beam_decode, beam_decode

    captioner = Captioner.load(default_model_path())
    names = dev_names(data, count)
    features = np.concatenate([
        captioner.features(np.stack([load_pixels(data / "Flicker8k_Dataset" / name, captioner.spec.image_size)
                                     for name in names[start:start + BATCH]]))
        for start in range(0, len(names), BATCH)])
    decoder, vocab = captioner.step_decoder, captioner.vocab
    started = time.perf_counter()
    baseline = [beam_decode(decoder, vocab, row[None], 5) for row in features]
    per_photo_ms = 1000 * (time.perf_counter() - started) / len(names)
    started = time.perf_counter()
    batched = [caption for start in range(0, len(names), BATCH)
               for caption in batched_beam_decode(decoder, vocab, features[start:start + BATCH], 5)]
    batched_ms = 1000 * (time.perf_counter() - started) / len(names)
    same = sum(a == b for a, b in zip(baseline, batched))
    workers = caption_workers()
    with threadpool_limits(1, "blas"), ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        at_once = [caption for captions in pool.map(lambda rows: batched_beam_decode(decoder, vocab, rows, 5),
                                                     [features[start:start + BATCH] for start in range(0, len(names), BATCH)])
                   for caption in captions]
        at_once_ms = 1000 * (time.perf_counter() - started) / len(names)
    same_at_once = sum(a == b for a, b in zip(baseline, at_once))
    print(f"decoding, beam 5, {len(names)} Flickr8k dev photos: one photo at a time {per_photo_ms:.1f} ms/photo; "
          f"batches of {BATCH} one at a time {batched_ms:.1f} ms/photo ({per_photo_ms / batched_ms:.1f}x), "
          f"{workers} at once on threads (the CLI's way) {at_once_ms:.1f} ms/photo ({per_photo_ms / at_once_ms:.1f}x); "
          f"same caption for {same} and {same_at_once} of {len(names)}")


def encoder_limit(folder: Path) -> float:
    """Photos/s of the LiteRT encoder alone on the folder's photos (decoded first), batches of 32."""
    from ml.captioning.captioner import Captioner
    from ml.core.defaults import default_model_path
    from ml.data.images import load_pixels

    captioner = Captioner.load(default_model_path())
    photos = sorted(folder.iterdir())
    pixels = np.stack([load_pixels(path, captioner.spec.image_size) for path in photos])
    captioner.warm_up()
    started = time.perf_counter()
    for start in range(0, len(photos), BATCH):
        captioner.features(pixels[start:start + BATCH])
    return len(photos) / (time.perf_counter() - started)


def cli_photos_per_second(tree: Path, folder: Path) -> tuple[float, list]:
    """Photos/s of `python -m ml caption` from the tree (its whole run: start, model, every photo), and its captions.
    Each tree captions with its own shipped model file: an older tree's code cannot read a newer calibration."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, "-m", "ml", "caption", "--beam", "5", "--model",
               str(tree / "assets" / "models" / "default.captioner"), "--jsonl", str(folder)]
    subprocess.run(command[:-1] + [str(next(folder.iterdir()))], cwd=tree, env=env, capture_output=True)  # warm
    started = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{tree}: caption failed: {result.stderr[-500:]}")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return len(records) / seconds, [(Path(record["image"]).name, record["caption"]) for record in records]


def bench_cli(data: Path, count: int, baseline: str, same_as: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch, "photos")
        folder.mkdir()
        for name in dev_names(data, count):
            (folder / name).symlink_to(data / "Flicker8k_Dataset" / name)
        runs = {}
        for commit in (baseline, same_as):
            worktree = Path(scratch, commit)
            subprocess.run(["git", "worktree", "add", "--detach", str(worktree), commit], cwd=REPO, check=True,
                           capture_output=True)
            try:
                runs[commit] = cli_photos_per_second(worktree, folder)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, capture_output=True)
        new, new_captions = cli_photos_per_second(REPO, folder)
        limit = encoder_limit(folder)
    old = runs[baseline][0]
    same = sum(a == b for a, b in zip(runs[same_as][1], new_captions))
    print(f"python -m ml caption, {count} photos, beam 5 with confidence and tags: baseline {baseline} "
          f"{old:.1f} photos/s, {same_as} {runs[same_as][0]:.1f} photos/s, this tree {new:.1f} photos/s "
          f"({new / old:.1f}x the baseline); encoder alone {limit:.1f} photos/s (this tree at {new / limit:.0%} of it); "
          f"{os.cpu_count()} cores; same caption as {same_as} for {same} of {len(new_captions)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--photos", type=int, default=1000, help="dev photos for the decoding comparison")
    parser.add_argument("--cli-photos", type=int, default=200)
    parser.add_argument("--baseline", default="d7c981b", help="commit whose CLI decodes one photo at a time")
    parser.add_argument("--same-as", default="31b1615", help="commit whose CLI captions are compared (the same "
                        "subject naming as this tree; the baseline's captions predate issue 23's people probe)")
    args = parser.parse_args()
    bench_decoding(args.data, args.photos)
    bench_cli(args.data, args.cli_photos, args.baseline, args.same_as)


if __name__ == "__main__":
    main()
