"""Make assets/encoders/ENCODER-people.npz: the probe that tells whether a photo has people in it
(ml/encoders/people.py), learned from a Flickr8k-layout data set's train split, its labels from the captions
(the share of a photo's five captions that name a person). Prints the probe's AUC on the dev split.

    .venv/bin/python scripts/make_people_probe.py [DATA [ENCODER [TARGET]]]   # default ../shared/flickr8k, efficientnet-lite2
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ml.data.datasets import load_dataset
from ml.encoders.people import fit_probe, shipped_probe_path
from ml.features.for_dataset import dataset_features
from ml.honesty.hedging import has_people

REPO = Path(__file__).resolve().parent.parent


def split_arrays(dataset, encoder_name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's pooled features and labels, in photo order."""
    features, _ = dataset_features(dataset, encoder_name, dataset.splits[split])
    names = sorted(features)
    return np.stack([features[n] for n in names]), np.array([has_people(dataset.captions[n]) for n in names])


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The chance that a photo with people scores above one without."""
    return float((scores[positive][:, None] > scores[~positive][None]).mean())


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "flickr8k"
    encoder_name = sys.argv[2] if len(sys.argv) > 2 else "efficientnet-lite2"
    target = Path(sys.argv[3]) if len(sys.argv) > 3 else shipped_probe_path(encoder_name)
    dataset = load_dataset(data)
    probe = fit_probe(*split_arrays(dataset, encoder_name, "train"))
    dev_features, dev_labels = split_arrays(dataset, encoder_name, "dev")
    scores = probe.probabilities(dev_features)
    print(f"dev: AUC {auc(scores, dev_labels >= 0.5):.4f}, accuracy at 0.5 "
          f"{np.mean((scores >= 0.5) == (dev_labels >= 0.5)):.3f} ({len(dev_labels)} photos)")
    print(f"wrote {probe.save(target)}")


if __name__ == "__main__":
    main()
