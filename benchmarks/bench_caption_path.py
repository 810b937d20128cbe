"""The caption path without TensorFlow (LiteRT encoder + numpy decoders) against the TensorFlow path, same run:

    .venv/bin/python benchmarks/bench_caption_path.py [--data ../shared/flickr8k] [--baseline 5d060a4]
                                                      [--dev-photos 1000]   (app figures need a DISPLAY)

- encoder ms per photo, LiteRT vs TensorFlow, batch 1 and batch 32 (real Flickr8k photos), and feature
  extraction for training (photos decoded beside the encoder, cached) with each;
- the CLI, run as a user runs it: one photo end to end, a missing photo, 100 photos (photos/s), peak
  memory; and the app: launch to window, launch to ready to caption. Each is measured for this tree and
  for a git worktree of the baseline commit (the last one whose caption path loaded TensorFlow), in the
  same run, with the same Python environment and the same photos;
- same results: captions of the Flickr8k dev split through LiteRT and through the Keras encoder (this
  tree, beam 5 as the app uses): share of photos with equal captions, and corpus BLEU-4 of each.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Runs `python -m ml ARGS` in the current folder and prints the process's peak memory (VmHWM) last.
CLI_WITH_PEAK = ("import runpy, re, sys\nsys.argv = ['ml', *sys.argv[1:]]\n"
                 "try:\n    runpy.run_module('ml', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                 "peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
                 "print('peak_kb', peak, file=sys.stderr)\n")

APP_LAUNCH = """
import sys, time
start = float(sys.argv[1])
from app.application import App
from app.event_loop import run_until
app = App()
run_until(app.update, app.winfo_viewable, interval=0)
print("window", time.time() - start, flush=True)
run_until(app.update, lambda: app.caption.captioner is not None, 300, interval=0.005)
print("ready", time.time() - start, flush=True)
app.close()
"""


def encoder_figures(photos):
    from ml.data.images import load_pixels
    from ml.encoders.litert import LiteEncoder, shipped_encoder_path, tensorflow_encoder

    pixels = np.stack([load_pixels(p, 260) for p in photos[:64]])
    encoders: dict[str, Callable[[np.ndarray], np.ndarray]] = {"LiteRT": LiteEncoder(shipped_encoder_path("efficientnet-lite2")),
                "TensorFlow": tensorflow_encoder("efficientnet-lite2")}
    print("Encoder (EfficientNet-Lite2, grid output), ms per photo, median:")
    for batch in (1, 32):
        row = []
        for label, encode in encoders.items():
            encode(pixels[:batch])  # warm-up: allocation, tracing
            seconds = []
            for start in range(0, 64 if batch == 32 else 20, batch):
                began = time.perf_counter()
                encode(pixels[start:start + batch])
                seconds.append(time.perf_counter() - began)
            row.append(f"{label} {statistics.median(seconds) / batch * 1000:6.1f}")
        print(f"  batch {batch:2d}: " + "   ".join(row))


def extraction_figures(photos):
    """Feature extraction for training (the pipeline: decode beside the encoder, cache shards), both encoders."""
    from ml.encoders.registry import build_encoder
    from ml.features.cache import extract_features

    with tempfile.TemporaryDirectory() as scratch:
        for label, encoder in (("LiteRT", None), ("TensorFlow", build_encoder("efficientnet-lite2"))):
            began = time.monotonic()
            extract_features(photos, "efficientnet-lite2", Path(scratch, label), encoder=encoder)
            print(f"  feature extraction for training, {label}: {len(photos) / (time.monotonic() - began):.1f} photos/s "
                  f"({len(photos)} photos, batch 32, pooled)")


def run_timed(command, cwd, env, runs=1):
    """Median wall seconds of a command, its last stderr, and its peak memory in MiB when it prints one."""
    seconds: list[float] = []
    result: subprocess.CompletedProcess[str] | None = None
    for _ in range(runs):
        began = time.monotonic()
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        seconds.append(time.monotonic() - began)
    assert result is not None, "runs >= 1"
    peak = [int(line.split()[1]) // 1024 for line in result.stderr.splitlines() if line.startswith("peak_kb")]
    return statistics.median(seconds), result, (peak[0] if peak else None)


def cli_figures(tree, photo, folder, env, count):
    cli = [sys.executable, "-c", CLI_WITH_PEAK]
    run_timed(cli + ["caption", photo], tree, env)  # untimed: first-use conversions, disk cache
    one, result, one_peak = run_timed(cli + ["caption", photo], tree, env, runs=3)
    assert result.stdout.strip(), result.stderr[-1000:]
    missing, result, _ = run_timed(cli + ["caption", "no-such-photo.jpg"], tree, env, runs=3)
    assert "file not found" in result.stderr, result.stderr[-1000:]
    hundred, result, peak = run_timed(cli + ["caption", folder], tree, env)
    assert len(result.stdout.strip().splitlines()) == count, result.stderr[-1000:]
    return {"one photo": f"{one:.2f} s", "missing photo": f"{missing:.2f} s",
            f"{count} photos": f"{hundred:.1f} s ({count / hundred:.1f} photos/s)",
            "peak memory": f"{one_peak} MiB one photo, {peak} MiB {count} photos"}


def app_figures(tree, env, runs=3):
    if not os.environ.get("DISPLAY"):
        return {"app": "skipped (no DISPLAY)"}
    figures: dict[str, list[float]] = {"window": [], "ready": []}
    for run in range(runs + 1):
        result = subprocess.run([sys.executable, "-c", APP_LAUNCH, str(time.time())], cwd=tree, env=env,
                                capture_output=True, text=True, timeout=600)
        if run == 0:
            continue  # untimed: first-use conversions, disk cache
        for line in result.stdout.splitlines():
            name, seconds = line.split()
            figures[name].append(float(seconds))
    return {f"app launch to {name}": f"{statistics.median(values):.2f} s (median of {runs}; "
            f"{min(values):.2f}-{max(values):.2f})" for name, values in figures.items()}


def dev_agreement(data, count):
    from ml.captioning.captioner import Captioner
    from ml.core.defaults import BEAM_WIDTH, default_model_path
    from ml.data.datasets import load_dataset
    from ml.data.images import load_pixels
    from ml.data.metrics import caption_metrics

    dataset = load_dataset(data)
    names = dataset.splits["dev"][:count]
    paths = [dataset.image_path(name) for name in names]
    captions = {}
    for backend in ("auto", "tensorflow"):
        captioner = Captioner.load(default_model_path(), backend=backend)
        began = time.monotonic()
        features = np.concatenate([captioner.features(np.stack([load_pixels(p, 260) for p in paths[i:i + 32]]))
                                   for i in range(0, len(paths), 32)])
        encode_seconds = time.monotonic() - began
        captions[backend] = captioner.caption_features(features, BEAM_WIDTH)
        scores = caption_metrics({name: text.split() for name, text in zip(names, captions[backend])},
                                 dataset.references("dev"))
        label = "LiteRT" if backend == "auto" else "TensorFlow"
        print(f"  {label:10s}: BLEU-1 {scores['bleu1']:.2f}  BLEU-4 {scores['bleu4']:.2f}  CIDEr {scores['cider']:.2f}"
              f"  (encoder {encode_seconds:.0f} s for {len(paths)} photos)")
    equal = sum(a == b for a, b in zip(captions["auto"], captions["tensorflow"]))
    print(f"  equal captions: {equal} of {len(names)} ({100 * equal / len(names):.1f} %)")


def baseline_tree(ref, scratch):
    tree = Path(scratch) / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), ref], cwd=REPO, check=True)
    return tree


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--baseline", default="5d060a4", help="commit whose caption path loads TensorFlow")
    parser.add_argument("--dev-photos", type=int, default=1000)
    parser.add_argument("--photos", type=int, default=100, help="photos the CLI captions as a folder (at least 64)")
    args = parser.parse_args()
    from ml.data.datasets import load_dataset

    dataset = load_dataset(args.data)
    test_paths = [dataset.image_path(name) for name in dataset.splits["test"][:max(args.photos, 64)]]
    encoder_figures(test_paths)
    extraction_figures([dataset.image_path(name) for name in dataset.splits["test"][:max(320, args.photos)]] if args.photos >= 100
                       else test_paths)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch, "photos")
        folder.mkdir()
        for path in test_paths:
            (folder / path.name).symlink_to(path)
        config = Path(scratch, "config")
        config.mkdir()
        (config / "settings.json").write_text('{"auto_speak": false}')
        env = dict(os.environ, IMAGE_CAPTIONER_CONFIG_DIR=str(config), TF_CPP_MIN_LOG_LEVEL="2")
        photo = str(args.data / "originals" / "1001773457_577c3a7d70.jpg")
        trees = {"this tree (LiteRT)": REPO, f"baseline {args.baseline} (TensorFlow)": baseline_tree(args.baseline, scratch)}
        try:
            for label, tree in trees.items():
                print(f"{label}:")
                for name, value in {**cli_figures(tree, photo, str(folder), env, len(test_paths)), **app_figures(tree, env)}.items():
                    print(f"  {name}: {value}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(trees[list(trees)[1]])], cwd=REPO)
    print(f"Flickr8k dev split, first {args.dev_photos} photos, beam 5, the shipped model:")
    dev_agreement(args.data, args.dev_photos)


if __name__ == "__main__":
    main()
