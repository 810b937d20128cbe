"""Honest captions (issue 16): how well the shipped model's confidence and doubts match reality, and what
they cost. Prints the figures docs/benchmarks.md shows.

    .venv/bin/python benchmarks/bench_honesty.py [--data ../shared/flickr8k] [--timing-photos 100]

- out-of-domain set (tests/data/out_of_domain, judged by eye in judgements.json): share of wrong captions
  marked unsure; share of right ImageNet top-1 tags where the photo's object is an ImageNet class;
- Flickr8k dev and test: Spearman's rho of confidence and sentence CIDEr; share of captions marked unsure;
  BLEU-4 and CIDEr of the sure and the unsure captions apart;
- Flickr8k test, subtle errors (issue 23 item 5): captions whose count, gender or colour word no reference
  shares, against the rest: their mean confidence, how well confidence ranks them below (ROC AUC), the share
  said as sure; with `--before-card MODEL`, also under that model file's calibration, on the same captions;
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


PLURAL_PEOPLE = {"people", "men", "women", "boys", "girls", "children", "kids", "group", "crowd", "team", "players",
                 "two", "three", "four", "several", "many", "couple"}


def detail_errors(caption: str, references: list) -> list[str]:
    """Which details of a caption no human caption of its photo shares: a gender where every reference that names
    one names the other, a number word or a group where none says so, a colour none names."""
    from ml.honesty.confidence import COLOUR_WORDS, FEMALE_WORDS, MALE_WORDS

    words, said = set(caption.split()), set().union(*(set(reference) for reference in references))
    errors = []
    for own, other in ((MALE_WORDS, FEMALE_WORDS), (FEMALE_WORDS, MALE_WORDS)):
        if words & own and not said & own and said & other:
            errors.append("gender")
    errors += ["count" for word in words & {"two", "three", "four", "five"} if word not in said]
    if words & {"group", "crowd"} and not said & PLURAL_PEOPLE:
        errors.append("count")
    errors += ["colour" for word in words & COLOUR_WORDS if word not in said]
    return errors


def roc_auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """How often a positive scores above a negative (ties half)."""
    from ml.honesty.confidence import ranks

    rank, count = ranks(scores), positives.sum()
    return float((rank[positives].sum() - count * (count + 1) / 2) / (count * (len(scores) - count)))


def judged(captioner: Captioner, names: list, captions: list, vectors: np.ndarray, calibration) -> list[CaptionResult]:
    """Fresh results for these captions judged under the given calibration."""
    kept, captioner.calibration = captioner.calibration, calibration
    results = [CaptionResult(Path(name), caption) for name, caption in zip(names, captions)]
    captioner.judge(results, vectors)
    captioner.calibration = kept
    return results


def subtle_errors(captioner: Captioner, data: Path, before_card: Path | None, limit: int | None = None) -> None:
    from ml.honesty.confidence import Calibration
    from ml.model_file.reader import read_card

    dataset = load_dataset(data)
    features, _ = dataset_features(dataset, captioner.spec.name, dataset.splits["test"][:limit], grid=captioner.uses_grid)
    names = sorted(features)
    vectors = np.stack([features[n] for n in names])
    results = [CaptionResult(Path(name), caption) for name, caption in zip(names, captioner.caption_features(vectors, BEAM_WIDTH))]
    captioner.name_subjects(results, vectors, BEAM_WIDTH)
    captions = [result.caption for result in results]
    errors = [detail_errors(caption, dataset.captions[name]) for name, caption in zip(names, captions)]
    wrong = np.array([bool(found) for found in errors])
    kinds: dict[str, int] = {}
    for kind in (kind for found in errors for kind in found):
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"Flickr8k test, subtle errors: {wrong.sum()} of {len(names)} captions have a detail no reference shares "
          f"({', '.join(f'{kind} {count}' for kind, count in sorted(kinds.items()))})")
    calibrations = [("now", captioner.calibration)]
    if before_card is not None:
        calibrations.insert(0, (f"before ({before_card.name})", Calibration.from_card(read_card(before_card))))
    for label, calibration in calibrations:
        assert calibration is not None, f"{label}: the model file has no confidence calibration"
        judged_results = judged(captioner, names, captions, vectors, calibration)
        confidence = np.array([r.confidence for r in judged_results])
        sure = ~np.array([r.unsure for r in judged_results])
        print(f"  {label:28s} signals {len(calibration.signals)}: mean confidence {confidence[wrong].mean():.3f} with a "
              f"wrong detail, {confidence[~wrong].mean():.3f} without (gap {confidence[~wrong].mean() - confidence[wrong].mean():.3f}); "
              f"ROC AUC {roc_auc(-confidence, wrong):.3f}; said as sure {sure[wrong].mean():.1%} of them, "
              f"{sure[~wrong].mean():.1%} of the rest")


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
    parser.add_argument("--before-card", type=Path, default=None,
                        help="a model file whose calibration to compare with the shipped one on the same captions")
    parser.add_argument("--only-subtle", action="store_true", help="only the subtle-errors figures")
    args = parser.parse_args()
    captioner = Captioner.load(default_model_path())
    if not args.only_subtle:
        out_of_domain(captioner)
        for split in ("dev", "test"):
            split_figures(captioner, args.data, split, args.photos)
    subtle_errors(captioner, args.data, args.before_card, args.photos)
    if args.only_subtle:
        return
    cost(captioner, args.data, args.timing_photos)


if __name__ == "__main__":
    main()
