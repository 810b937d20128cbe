"""Honest captions (issue 16): how well the shipped model's confidence and doubts match reality, and what
they cost. Prints the figures docs/benchmarks.md shows.

    .venv/bin/python benchmarks/bench_honesty.py [--data ../shared/flickr8k] [--timing-photos 100]

- out-of-domain set (tests/data/out_of_domain, judged by eye in judgements.json): share of wrong captions
  marked unsure; share of right ImageNet top-1 tags where the photo's object is an ImageNet class;
- Flickr8k dev and test: Spearman's rho of confidence and sentence CIDEr; share of captions marked unsure;
  BLEU-4 and CIDEr of the sure and the unsure captions apart;
- cost: seconds per photo captioned from its file with confidence and tags against without them (same
  run, same photos, alternating), and the heatmaps' seconds per caption.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ml.captioning.captioner import Captioner
from ml.captioning.results import CaptionResult
from ml.core.defaults import BEAM_WIDTH, default_model_path
from ml.data.datasets import load_dataset
from ml.data.metrics import caption_metrics, sentence_cider
from ml.encoders.words import ImageNetWords
from ml.features.for_dataset import dataset_features
from ml.honesty.confidence import spearman

REPO = Path(__file__).resolve().parent.parent


OUT_OF_DOMAIN = REPO / "tests" / "data" / "out_of_domain"


def out_of_domain(captioner: Captioner) -> None:
    judgements = json.loads((OUT_OF_DOMAIN / "judgements.json").read_text())["photos"]
    photos = [OUT_OF_DOMAIN / name for name in sorted(judgements)]
    results = captioner.caption(photos, beam_width=BEAM_WIDTH)
    wrong = [r for r in results if not judgements[r.path.name]["caption_right"]]
    caught = [r for r in wrong if r.unsure]
    print(f"out-of-domain photos: {len(results)}; captions judged wrong: {len(wrong)}; "
          f"marked unsure: {len(caught)} ({len(caught) / max(len(wrong), 1):.0%}; aim >= 80 %)")
    for result in results:
        print(f"  {'unsure' if result.unsure else 'SURE  '} {result.confidence:5.3f} {result.path.name}: {result.text}")
    assert captioner.imagenet_head is not None, "the shipped model's encoder has an ImageNet head"
    words = ImageNetWords.shipped()  # tags are plain words: "cat" for every cat class together
    labelled = [r for r in results if judgements[r.path.name]["imagenet_classes"]]
    right = [r for r in labelled
             if any(r.tags[0][0] == words.plain_word(i) for i in judgements[r.path.name]["imagenet_classes"])]
    print(f"ImageNet top-1 right where the object is an ImageNet class: {len(right)} of {len(labelled)} "
          f"({len(right) / max(len(labelled), 1):.0%})")


def split_figures(captioner: Captioner, data: Path, split: str, limit: int | None = None) -> None:
    dataset = load_dataset(data)
    features, _ = dataset_features(dataset, captioner.spec.name, dataset.splits[split][:limit], grid=captioner.uses_grid)
    names = sorted(features)
    vectors = np.stack([features[n] for n in names])
    captions = captioner.caption_features(vectors, BEAM_WIDTH)
    results = [CaptionResult(Path(name), caption) for name, caption in zip(names, captions)]
    captioner.name_subjects(results, vectors, BEAM_WIDTH)  # what the app says (ml/captioning/naming.py)
    captioner.judge(results, vectors)
    captions = [result.caption for result in results]
    references = {name: dataset.captions[name] for name in names}
    scores = sentence_cider({n: c.split() for n, c in zip(names, captions)}, references)
    rho = spearman(np.array([r.confidence for r in results]), np.array([scores[n] for n in names]))
    unsure = [r for r in results if r.unsure]
    print(f"Flickr8k {split} ({len(results)} photos, beam {BEAM_WIDTH}): Spearman's rho (confidence, sentence CIDEr) "
          f"{rho:.3f} (aim >= 0.3); marked unsure {len(unsure) / len(results):.1%} (aim <= 15 %)")
    for label, group in (("sure", [r for r in results if not r.unsure]), ("unsure", unsure)):
        metrics = caption_metrics({str(r.path): r.caption.split() for r in group}, references)
        print(f"  {label:6s} {len(group):4d} captions: BLEU-4 {metrics['bleu4']:.2f}, CIDEr {metrics['cider']:.2f}")
    reasons: dict[str, int] = {}
    for result in unsure:
        for reason in result.reasons:
            key = reason.split(" (")[0] if "encoder sees" not in reason else "the encoder sees what the caption contradicts"
            reasons[key] = reasons.get(key, 0) + 1
    print("  why unsure: " + "; ".join(f"{key}: {count}" for key, count in sorted(reasons.items())))


def cost(captioner: Captioner, data: Path, count: int) -> None:
    dataset = load_dataset(data)
    photos = [dataset.image_path(name) for name in dataset.splits["test"][:count]]
    head, calibration = captioner.imagenet_head, captioner.calibration
    captioner.caption(photos[:8], beam_width=BEAM_WIDTH)  # warm up
    times: dict[str, list[float]] = {"with": [], "without": []}
    for start in range(0, len(photos), 10):
        batch = photos[start:start + 10]
        for mode in ("without", "with") if start % 20 else ("with", "without"):
            captioner.imagenet_head, captioner.calibration = (head, calibration) if mode == "with" else (None, None)
            began = time.perf_counter()
            captioner.caption(batch, beam_width=BEAM_WIDTH)
            times[mode].append((time.perf_counter() - began) / len(batch))
    captioner.imagenet_head, captioner.calibration = head, calibration
    with_, without = np.mean(times["with"]), np.mean(times["without"])
    print(f"caption time per photo (file to caption, beam {BEAM_WIDTH}, {len(photos)} photos): with confidence and "
          f"tags {with_ * 1000:.1f} ms, without {without * 1000:.1f} ms (ratio {with_ / without:.3f})")
    from ml.data.images import open_rgb
    from ml.honesty.attention import heatmap

    heat = []
    for photo in photos[:20]:
        caption = captioner.caption([photo], beam_width=BEAM_WIDTH)[0].caption
        began = time.perf_counter()
        maps = captioner.attention_maps(photo, caption)
        assert maps is not None, "the shipped model has attention members"
        image = open_rgb(photo)
        [heatmap(image, weights) for weights in maps]
        heat.append(time.perf_counter() - began)
    print(f"heatmaps of every word, per caption (after it, on demand): {np.mean(heat) * 1000:.1f} ms "
          f"(maps and one image per word; {len(heat)} photos)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--timing-photos", type=int, default=100)
    parser.add_argument("--photos", type=int, default=None, help="dev and test photos (default: the whole splits)")
    args = parser.parse_args()
    captioner = Captioner.load(default_model_path())
    out_of_domain(captioner)
    for split in ("dev", "test"):
        split_figures(captioner, args.data, split, args.photos)
    cost(captioner, args.data, args.timing_photos)


if __name__ == "__main__":
    main()
