"""How many training photos a run needs to learn anything: test BLEU for runs on the first N Flickr8k training
photos (EfficientNet-Lite0 features, merge decoder, default settings but 8 epochs and no fine-tuning). The
Train page warns below the size this shows (app/controllers/train.py, MIN_USEFUL_TRAIN_PHOTOS).

    .venv/bin/python benchmarks/bench_small_runs.py [--data ../shared/flickr8k] [--sizes 60 200 600 2000]
"""
import argparse
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 200, 600, 2000])
    args = parser.parse_args()
    from ml.training.config import TrainConfig
    from ml.training.pipeline import train_model

    config = TrainConfig(encoder="efficientnet-lite0", epochs=8, self_critical_epochs=0)
    scratch = Path(tempfile.mkdtemp())
    for size in args.sizes:
        card = train_model(args.data, scratch / f"n{size}.captioner", config, run_dir=scratch / f"run{size}",
                           max_train_photos=size)
        test = card["metrics"]["test_greedy"]
        print(f"{size:5d} training photos ({card['dataset']['photos']['test']} test photos): "
              f"test greedy BLEU-1 {test['bleu1']:.1f}, BLEU-4 {test['bleu4']:.1f}, CIDEr {test['cider']:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
