"""The people probe (ml/encoders/people.py) and the rule that trusts it over what people wear (issue 23), in one run:

    .venv/bin/python benchmarks/bench_people_probe.py [--imagenet-samples DIR] [--old-probe FILE]

- the tuning half of tests/data/open_vocabulary/: the probe's mean for photos with and without people and how often
  it ranks a photo with people above one without (AUC), for the shipped probe (and an older one, --old-probe, e.g.
  `git show fe6d483:assets/encoders/efficientnet-lite2-people.npz > old.npz`);
- with DIR, a clone of github.com/EliSchwartz/imagenet-sample-images: the sample photos of clothing classes
  (scripts/imagenet_sample_people.json, "clothing"; never learned from), captioned with the shipped rule and with
  NamingRule.surely_alone_below at 0 (the rule before it): captions that bring people into photos of no one, and
  captions of photos with people that keep them.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ml.captioning.captioner import Captioner
from ml.core.defaults import default_model_path
from ml.data.images import load_pixels
from ml.encoders.people import PeopleProbe
from ml.honesty.hedging import MORE_PEOPLE_WORDS, PERSON_WORDS

REPO = Path(__file__).resolve().parent.parent
PHOTO_SET = REPO / "tests" / "data" / "open_vocabulary"
SAMPLE_LABELS = REPO / "scripts" / "imagenet_sample_people.json"


def tuning_half(captioner: Captioner, probes: dict) -> None:
    photos = [p for p in json.loads((PHOTO_SET / "photos.json").read_text())["photos"] if p["split"] == "tuning"]
    pixels = np.stack([load_pixels(PHOTO_SET / p["file"], captioner.spec.image_size) for p in photos])
    pooled = captioner.features(pixels).mean(axis=1)
    has_people = np.array([p["people"] for p in photos])
    print(f"tuning half ({has_people.sum()} photos with people, {(~has_people).sum()} without):")
    for name, probe in probes.items():
        scores = probe.probabilities(pooled)
        auc = float((scores[has_people][:, None] > scores[~has_people][None]).mean())
        print(f"  {name:8s} probe: mean with people {scores[has_people].mean():.2f}, "
              f"without {scores[~has_people].mean():.2f}; AUC {auc:.3f}")


def clothing_photos(captioner: Captioner, folder: Path) -> None:
    labels = json.loads(SAMPLE_LABELS.read_text())["clothing"]
    people_words = PERSON_WORDS | MORE_PEOPLE_WORDS
    rule = captioner.naming_rule  # the namer's own
    shipped = rule.surely_alone_below
    print(f"ImageNet sample photos of clothing ({len(labels['no_one'])} of no one, {len(labels['people'])} with people):")
    for value in (0.0, shipped):
        rule.surely_alone_below = value
        counts = {}
        for group in ("no_one", "people"):
            results = captioner.caption([folder / name for name in labels[group]], beam_width=5)
            counts[group] = sum(bool(set(r.caption.split()) & people_words) for r in results)
        print(f"  surely_alone_below {value:.1f}: people brought into photos of no one {counts['no_one']}, "
              f"photos with people whose caption keeps them {counts['people']}")
    rule.surely_alone_below = shipped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imagenet-samples", type=Path, default=None)
    parser.add_argument("--old-probe", type=Path, default=None)
    args = parser.parse_args()
    captioner = Captioner.load(default_model_path())
    probes = {"shipped": captioner.people_probe}
    if args.old_probe is not None:
        probes["old"] = PeopleProbe.load(args.old_probe)
    tuning_half(captioner, probes)
    if args.imagenet_samples is not None:
        clothing_photos(captioner, args.imagenet_samples)


if __name__ == "__main__":
    main()
