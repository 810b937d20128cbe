"""Dev-split scores of one model over beam widths and length penalties (features come from the cache),
with how varied the captions are (different captions, different words) and BLEU's parts (clipped
n-gram precisions, brevity penalty against the closest references, as NLTK's corpus BLEU counts them).

    .venv/bin/python benchmarks/sweep_decoding.py --model assets/models/default.captioner \
        --data ../shared/flickr8k --beams 1 3 5 --length-penalties 0.7 1.0 1.2
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from nltk.translate.bleu_score import brevity_penalty, closest_ref_length, modified_precision

from ml.captioning.captioner import Captioner
from ml.core.defaults import LENGTH_PENALTY
from ml.data.datasets import load_dataset
from ml.data.metrics import caption_metrics
from ml.decoders.search import decode_captions
from ml.features.for_dataset import dataset_features

REPO = Path(__file__).resolve().parents[1]



def bleu_parts(captions, references) -> dict:
    """Corpus n-gram precisions (x100) for n = 1..4 and the brevity penalty, from NLTK's own parts of
    the corpus BLEU that the scores come from."""
    matched, total, caption_words, closest_words = [0] * 4, [0] * 4, 0, 0
    for words, refs in zip(captions, references):
        for n in range(1, 5):
            precision = modified_precision(refs, words, n)  # unreduced: clipped matches / n-grams
            matched[n - 1] += precision.numerator
            total[n - 1] += precision.denominator
        caption_words += len(words)
        closest_words += closest_ref_length(refs, len(words))
    return {"precisions": [round(100 * m / max(t, 1), 1) for m, t in zip(matched, total)],
            "brevity_penalty": round(brevity_penalty(closest_words, caption_words), 4),
            "caption_words": caption_words, "closest_ref_words": closest_words}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "flickr8k")
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--photos", type=int, default=None, help="photos of the split (default: all)")
    parser.add_argument("--length-penalties", type=float, nargs="+", default=[LENGTH_PENALTY])
    args = parser.parse_args()
    captioner = Captioner.load(args.model)
    dataset = load_dataset(args.data)
    names = dataset.splits[args.split][:args.photos]
    features, _ = dataset_features(dataset, captioner.spec.name, names, grid=captioner.uses_grid)
    vectors = np.stack([features[n] for n in names])
    references = {name: dataset.captions[name] for name in names}
    for beam in args.beams:
        for penalty in (args.length_penalties if beam > 1 else [0.0]):
            started = time.monotonic()
            captions = decode_captions(captioner.step_decoder, captioner.vocab, vectors, beam, penalty)
            seconds = time.monotonic() - started
            scores = caption_metrics(dict(zip(names, captions)), references)
            words = np.mean([len(c) for c in captions])
            print(json.dumps({"model": args.model.name, "split": args.split, "beam": beam, "length_penalty": penalty,
                              **{k: round(v, 1) for k, v in scores.items()}, "mean_words": round(float(words), 2),
                              "different_captions": len({" ".join(c) for c in captions}),
                              "different_words": len({w for c in captions for w in c}),
                              **bleu_parts(captions, [references[n] for n in names]),
                              "ms_per_caption": round(1000 * seconds / len(names), 1)}), flush=True)


if __name__ == "__main__":
    main()
