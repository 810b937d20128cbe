"""Make assets/encoders/ENCODER-people.npz: the probe that tells whether a photo has people in it
(ml/encoders/people.py), learned from a Flickr8k-layout data set's train split, its labels from the captions
(the share of a photo's five captions that name a person), and, with --imagenet-samples, from the ImageNet
sample photos (one per class: buildings, vehicles, things, food, animals) as photos with no one in them
except those scripts/imagenet_sample_people.json says have people. Prints the probe's AUC on the dev split.

    git clone https://github.com/EliSchwartz/imagenet-sample-images /tmp/imagenet-sample-images
    .venv/bin/python scripts/make_people_probe.py [DATA [ENCODER [TARGET]]] --imagenet-samples /tmp/imagenet-sample-images

Why the samples: in Flickr8k nearly every photo without people shows a dog (1,249 of the train split's 1,341),
so a probe learned from it alone tells people from dogs, not people from empty places: it gave the tuning half
of tests/data/open_vocabulary/'s photos without people 0.52 on average (docs/honesty.md).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ml.data.datasets import load_dataset
from ml.encoders.people import fit_probe, shipped_probe_path
from ml.features.cache import extract_features
from ml.features.for_dataset import dataset_features
from ml.honesty.hedging import has_people

REPO = Path(__file__).resolve().parent.parent
SAMPLE_LABELS = REPO / "scripts" / "imagenet_sample_people.json"
IMAGENET_WORDS = REPO / "assets" / "encoders" / "imagenet-words.json"
# Classes whose photos mostly show people (clothing is worn) or dogs (Flickr8k has thousands): not looked at.
KINDS_LEFT_OUT = ("dog", "canine", "clothing", "person")


def split_arrays(dataset, encoder_name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's pooled features and labels, in photo order."""
    features, _ = dataset_features(dataset, encoder_name, dataset.splits[split])
    names = sorted(features)
    return np.stack([features[n] for n in names]), np.array([has_people(dataset.captions[n]) for n in names])


def sample_arrays(folder: Path, encoder_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The ImageNet sample photos' pooled features and labels (1: people in it), those of classes whose kind is
    left out and those judged unclear left out."""
    labels = json.loads(SAMPLE_LABELS.read_text())
    kind_of = {entry["wnid"]: entry["kind"] for entry in json.loads(IMAGENET_WORDS.read_text())["classes"]}
    paths = [path for path in sorted(folder.glob("n*.JPEG"))
             if kind_of[path.name.split("_")[0]] not in KINDS_LEFT_OUT and path.name not in labels["left_out"]]
    if len(paths) < 700:
        raise SystemExit(f"{folder}: expected the ImageNet sample photos (n01440764_tench.JPEG, ...), found {len(paths)}")
    features = extract_features(paths, encoder_name).features
    paths = [path for path in paths if path in features]
    return (np.stack([features[path] for path in paths]),
            np.array([float(path.name in labels["people"]) for path in paths]))


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The chance that a photo with people scores above one without."""
    return float((scores[positive][:, None] > scores[~positive][None]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, nargs="?", default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("encoder", nargs="?", default="efficientnet-lite2")
    parser.add_argument("target", type=Path, nargs="?", default=None)
    parser.add_argument("--imagenet-samples", type=Path, default=None,
                        help="a checkout of github.com/EliSchwartz/imagenet-sample-images")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    features, labels = split_arrays(dataset, args.encoder, "train")
    if args.imagenet_samples is not None:
        sample_features, sample_labels = sample_arrays(args.imagenet_samples, args.encoder)
        print(f"ImageNet samples: {len(sample_labels)} photos, {int(sample_labels.sum())} with people")
        features, labels = np.vstack([features, sample_features]), np.concatenate([labels, sample_labels])
    probe = fit_probe(features, labels)
    dev_features, dev_labels = split_arrays(dataset, args.encoder, "dev")
    scores = probe.probabilities(dev_features)
    print(f"dev: AUC {auc(scores, dev_labels >= 0.5):.4f}, accuracy at 0.5 "
          f"{np.mean((scores >= 0.5) == (dev_labels >= 0.5)):.3f} ({len(dev_labels)} photos)")
    print(f"wrote {probe.save(args.target or shipped_probe_path(args.encoder))}")


if __name__ == "__main__":
    main()
