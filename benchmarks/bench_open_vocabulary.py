"""Captions that name what the encoder recognises (issue 23): the shipped model with and without subject naming
(ml/captioning/naming.py), in the same run, on the held-out half of tests/data/open_vocabulary/ (photos unlike
Flickr8k, judged by eye in photos.json) and on Flickr8k's test split. Prints the figures docs/benchmarks.md shows.

    .venv/bin/python benchmarks/bench_open_vocabulary.py [--half held_out|tuning] [--split test|dev] [--photos N]

- photos: captions naming the main subject (all photos, and those whose subject is an ImageNet class), captions
  that invent people or dogs (of the photos with none), wrong captions (subject not named, or people invented)
  said as sure (share of all photos), and seconds per caption from the photo's file;
- Flickr8k: BLEU-4, CIDEr and the share of captions marked unsure (beam 5).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ml.captioning.captioner import Captioner
from ml.captioning.naming import SubjectNamer, names
from ml.captioning.results import CaptionResult
from ml.core.defaults import BEAM_WIDTH, default_model_path
from ml.data.datasets import load_dataset
from ml.data.metrics import caption_metrics
from ml.features.for_dataset import dataset_features
from ml.honesty.hedging import DOG_WORDS, PERSON_WORDS

REPO = Path(__file__).resolve().parent.parent
PHOTO_SET = REPO / "tests" / "data" / "open_vocabulary"


def judged_photos(half: str) -> list[dict]:
    return [photo for photo in json.loads((PHOTO_SET / "photos.json").read_text())["photos"] if photo["split"] == half]


def names_subject(photo: dict, caption: str) -> bool:
    return any(names(caption, word) for word in photo["subject"])


def invents_people(photo: dict, caption: str) -> bool:
    """A person (or a dog, where the photo has none) in the caption of a photo with no person."""
    if photo["people"]:
        return False
    invented = PERSON_WORDS if {"dog", "dogs"} & set(photo["subject"]) else PERSON_WORDS | DOG_WORDS
    return bool(set(caption.split()) & invented)


def photo_figures(photos: list[dict], results: list[CaptionResult], seconds: float) -> dict:
    named = [names_subject(p, r.caption) for p, r in zip(photos, results)]
    invented = [invents_people(p, r.caption) for p, r in zip(photos, results)]
    wrong_sure = [(not n or i) and not r.unsure for n, i, r in zip(named, invented, results)]
    imagenet = [n for n, p in zip(named, photos) if p["imagenet_subject"]]
    without_people = [i for i, p in zip(invented, photos) if not p["people"]]
    return {"named": np.mean(named), "named_imagenet": np.mean(imagenet), "imagenet_count": len(imagenet),
            "invented": np.mean(without_people), "without_people": len(without_people),
            "wrong_sure": np.mean(wrong_sure), "seconds": seconds / len(photos)}


def caption_photos(captioner: Captioner, photos: list[dict], namer: Optional[SubjectNamer]) -> tuple[list, float]:
    captioner.namer = namer
    began = time.perf_counter()
    results = captioner.caption([PHOTO_SET / photo["file"] for photo in photos], beam_width=BEAM_WIDTH)
    return results, time.perf_counter() - began


def photo_set(captioner: Captioner, half: str, show: bool) -> None:
    photos, namer = judged_photos(half), captioner.namer
    caption_photos(captioner, photos[:4], namer)  # warm up
    runs = {mode: caption_photos(captioner, photos, namer if mode == "after" else None) for mode in ("before", "after")}
    captioner.namer = namer
    print(f"open-vocabulary photos, {half} half ({len(photos)} photos, beam {BEAM_WIDTH}), before -> after:")
    before, after = (photo_figures(photos, *runs[mode]) for mode in ("before", "after"))
    print(f"  subject named, all photos:           {before['named']:6.1%} -> {after['named']:6.1%} (aim >= 50 %)")
    print(f"  subject named, ImageNet subjects:     {before['named_imagenet']:6.1%} -> {after['named_imagenet']:6.1%} "
          f"(of {after['imagenet_count']}; aim >= 60 %)")
    print(f"  people or dogs invented:              {before['invented']:6.1%} -> {after['invented']:6.1%} "
          f"(of {after['without_people']} photos without people; aim <= 5 %)")
    print(f"  wrong captions said as sure:          {before['wrong_sure']:6.1%} -> {after['wrong_sure']:6.1%} (of all; aim <= 5 %)")
    print(f"  seconds per caption (file to caption): {before['seconds']:.3f} -> {after['seconds']:.3f} "
          f"(ratio {after['seconds'] / before['seconds']:.2f}; aim <= 1.3)")
    if show:
        for photo, old, new in zip(photos, runs["before"][0], runs["after"][0]):
            print(f"  {photo['file']:28s} {'unsure' if new.unsure else 'SURE  '} {old.caption} -> {new.text}")


def flickr8k(captioner: Captioner, data: Path, split: str, limit: Optional[int]) -> None:
    dataset = load_dataset(data)
    features, _ = dataset_features(dataset, captioner.spec.name, dataset.splits[split][:limit], grid=captioner.uses_grid)
    photo_names = sorted(features)
    vectors = np.stack([features[name] for name in photo_names])
    captions = captioner.caption_features(vectors, BEAM_WIDTH)
    references = {name: dataset.captions[name] for name in photo_names}
    print(f"Flickr8k {split} ({len(photo_names)} photos, beam {BEAM_WIDTH}), before -> after:")
    figures = {}
    for mode in ("before", "after"):
        results = [CaptionResult(Path(name), caption) for name, caption in zip(photo_names, captions)]
        if mode == "after":
            captioner.name_subjects(results, vectors, BEAM_WIDTH)
        captioner.judge(results, vectors)
        metrics = caption_metrics({str(r.path): r.caption.split() for r in results}, references)
        figures[mode] = (metrics["bleu4"], metrics["cider"], np.mean([r.unsure for r in results]),
                         sum(r.caption != c for r, c in zip(results, captions)))
    (b_bleu, b_cider, b_unsure, _), (a_bleu, a_cider, a_unsure, changed) = figures["before"], figures["after"]
    print(f"  BLEU-4 {b_bleu:.2f} -> {a_bleu:.2f} (aim >= 24.0); CIDEr {b_cider:.2f} -> {a_cider:.2f} (aim >= 59); "
          f"unsure {b_unsure:.1%} -> {a_unsure:.1%} (aim <= 15 %); captions changed: {changed}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--half", default="held_out", choices=("held_out", "tuning"))
    parser.add_argument("--split", default="test", choices=("test", "dev"))
    parser.add_argument("--photos", type=int, default=None, help="Flickr8k photos (default: the whole split)")
    parser.add_argument("--show", action="store_true", help="print every photo's caption before and after")
    args = parser.parse_args()
    captioner = Captioner.load(default_model_path())
    photo_set(captioner, args.half, args.show)
    flickr8k(captioner, args.data, args.split, args.photos)


if __name__ == "__main__":
    main()
