"""Training under tf.distribute (issue 17): steps and captions per second of the cross-entropy epochs with
one device (the default strategy) and with the CPU split into two logical devices (MirroredStrategy), on the
same photos, same per-replica batch. On a CPU the two-device path is for correctness, not speed: both
replicas share the same cores. Each run is a new `python -m ml train` process (TensorFlow splits the CPU
only before it starts).

    .venv/bin/python benchmarks/bench_distribute.py [--data ../shared/flickr8k] [--photos 600] [--epochs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(devices: int, data: Path, photos: int, epochs: int, batch: int, scratch: Path) -> dict:
    output = scratch / f"devices-{devices}.captioner"
    environment = dict(os.environ, IMAGE_CAPTIONER_CPU_DEVICES=str(devices), TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-m", "ml", "train", "--data", str(data), "--output", str(output),
                    "--encoder", "efficientnet-lite0", "--epochs", str(epochs), "--batch-size", str(batch),
                    "--self-critical-epochs", "0", "--max-train-photos", str(photos),
                    "--run-dir", str(scratch / f"run-{devices}")],
                   check=True, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with zipfile.ZipFile(output) as archive:
        return json.loads(archive.read("card.json"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    captions = args.photos * 5
    with tempfile.TemporaryDirectory() as scratch:
        for devices in (1, 2):
            card = run(devices, args.data, args.photos, args.epochs, args.batch_size, Path(scratch))
            global_batch = args.batch_size * card["training"]["replicas"]
            steps = -(-captions // global_batch)
            later = card["history"][1:] or card["history"]  # the first epoch also traces the graph
            seconds = sum(epoch["seconds"] for epoch in later) / len(later)
            losses = ", ".join(f"{epoch['loss']:.3f}" for epoch in card["history"])
            print(f"{devices} logical CPU device(s), {card['training']['replicas']} replica(s), global batch {global_batch}: "
                  f"{steps / seconds:.1f} steps/s, {captions / seconds:.0f} captions/s per epoch "
                  f"(epochs 2+: {seconds:.2f} s each); losses {losses}")


if __name__ == "__main__":
    main()
