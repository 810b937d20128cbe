"""The model card: the JSON facts stored with every model file (what made it, on what data, how well
it scores). Built, checked and read here only, so the pipeline, ensembles, the retrain script, the
CLI and the app agree on its fields and on the names of its scores."""
from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any, Optional

from ml.core.errors import BundleError
from ml.core.schema import schema_problem
from ml.encoders.registry import ENCODERS, get_spec

CARD_FORMAT = "image-captioner-model"
CARD_VERSION = 1
SPLITS = ("dev", "test")
DATA_NOTE = ("Flickr8k (Hodosh, Young & Hockenmaier 2013, JAIR 47:853-899); "
             "its terms allow non-commercial research and education use only")
# Per-member facts that do not describe an ensemble as a whole.
PER_MEMBER_FIELDS = ("format", "version", "metrics", "history", "self_critical", "confidence")
MEMBER_SUMMARY_FIELDS = ("name", "decoder", "training", "best_epoch", "self_critical", "metrics")
MAX_DECODERS = 5

_TEXT = {"type": "string", "maxLength": 10_000}
_SCORES = {"type": "object", "additionalProperties": {"type": "number"}}
_NUMBERS = {"type": "array", "items": {"type": "number"}, "maxItems": 16}
# Every field the code reads, by type and range; other fields may be added by later versions.
CARD_SCHEMA = {
    "type": "object",
    "required": ["format", "encoder", "feature_dim"],
    "properties": {
        "format": {"const": CARD_FORMAT},
        "version": {"type": "integer", "minimum": 1},
        "name": _TEXT, "created": _TEXT, "decoder": _TEXT, "command": _TEXT, "encoder_weights": _TEXT,
        "encoder": {"enum": sorted(ENCODERS)},
        "feature_dim": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "features": {"enum": ["pooled", "grid"]},
        "decoders": {"type": "integer", "minimum": 1, "maximum": MAX_DECODERS},
        "weights": {"enum": ["float16", "float32"]},
        "best_epoch": {"type": "integer", "minimum": 0},
        "train_seconds": {"type": "number"},
        "metrics": {"type": "object", "additionalProperties": _SCORES},
        "history": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}},
        "training": {"type": "object"},
        "dataset": {"type": "object"},
        "self_critical": {"type": ["object", "null"]},
        "members": {"type": "array", "items": {"type": "object"}},
        "confidence": {
            "type": "object",
            "required": ["signals", "mean", "scale", "weights", "bias", "threshold", "typical_threshold"],
            "properties": {
                "signals": {"type": "array", "items": {"type": "string"}, "maxItems": 16},
                "mean": _NUMBERS, "scale": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "maxItems": 16},
                "weights": _NUMBERS, "bias": {"type": "number"},
                "threshold": {"type": "number", "minimum": 0, "maximum": 1},
                "typical_threshold": {"type": "number", "minimum": -1, "maximum": 1},
            },
        },
    },
}


def metric_key(split: str, beam_width: int) -> str:
    """Where a card keeps the scores of one split at one beam width: "test_greedy", "dev_beam5"."""
    return f"{split}_{'greedy' if beam_width == 1 else f'beam{beam_width}'}"


def headline_metrics(card: dict, beam_width: int, split: str = "test") -> Optional[tuple]:
    """(beam width, scores) to show beside a model used at `beam_width`: the scores at that width,
    else at the widest narrower one the card has (greedy last); None when the card has no scores."""
    metrics = card.get("metrics") or {}
    for width in range(beam_width, 0, -1):
        scores = metrics.get(metric_key(split, width))
        if isinstance(scores, dict):
            return width, scores
    return None


def scores_text(card: dict, beam_width: int) -> str:
    """'test, beam 5: BLEU-1 67.2 · BLEU-4 24.1 · CIDEr 59.2', or '' for a card without scores."""
    headline = headline_metrics(card, beam_width)
    if headline is None:
        return ""
    width, scores = headline
    return (f"test, {'greedy' if width == 1 else f'beam {width}'}: BLEU-1 {scores.get('bleu1', 0):.1f} · "
            f"BLEU-4 {scores.get('bleu4', 0):.1f} · CIDEr {scores.get('cider', 0):.1f}")


# Below this Spearman's rho between confidence and sentence CIDEr on dev, a calibration tells nothing (the
# shipped model's is 0.45; a model that learned nothing had 0.013): its figures are not shown, and every
# caption is said as unsure.
MIN_USEFUL_SPEARMAN = 0.2


def calibration_failed(card: dict) -> Optional[float]:
    """The dev Spearman's rho of a calibration too weak to use, or None where it is usable (or absent)."""
    stored = card.get("confidence")
    rho = stored.get("dev_spearman") if isinstance(stored, dict) else None
    if isinstance(rho, (int, float)) and not rho >= MIN_USEFUL_SPEARMAN:
        return float(rho)
    return None


def confidence_text(card: dict) -> str:
    """Whether the model can tell how sure it is, in words (a failed calibration was only in the log)."""
    stored = card.get("confidence")
    rho = stored.get("dev_spearman") if isinstance(stored, dict) else None
    if not isinstance(rho, (int, float)):
        return "not calibrated"
    if calibration_failed(card) is not None:
        return f"calibration failed (Spearman's rho {rho:.2f} on dev): every caption is said as unsure"
    return f"calibrated on dev photos (Spearman's rho {rho:.2f} with caption quality)"


def card_facts(card: dict, beam_width: int) -> list[tuple[str, str]]:
    """The card as (label, text) pairs people read: what the model is, what it learned from, how well it
    scores at the beam width in use, when and how it was made."""
    data: dict = card["dataset"] if isinstance(card.get("dataset"), dict) else {}
    photos: dict = data["photos"] if isinstance(data.get("photos"), dict) else {}
    facts = [("Name", card.get("name", "?")), ("Encoder", card.get("encoder", "?")),
             ("Decoder", card.get("decoder", "?")),
             ("Trained on", f"{data.get('root', '?')} ({data.get('layout', '?')} layout), "
                            f"{photos.get('train', '?')} training photos" if data else "?"),
             ("Scores", scores_text(card, beam_width) or "not scored"),
             ("Confidence", confidence_text(card)),
             ("Created", str(card.get("created", "?"))[:16].replace("T", " ")),
             ("Made by", card.get("command") or "not recorded")]
    return [(label, str(text)) for label, text in facts]


def now_stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _as_trained(result: Any) -> dict:
    """The batch size and learning rate the run used, where a small data set made them smaller than set."""
    if not getattr(result, "batch_size", 0):
        return {}
    return {"batch_size": result.batch_size, "learning_rate": result.learning_rate}


def training_card(name: str, config: Any, result: Any, dataset: Any, data_root: Any, unreadable: int,
                  metrics: dict, seconds: float, command: str = "") -> dict:
    """The card of one freshly trained decoder (config: TrainConfig, result: TrainResult)."""
    spec = get_spec(config.encoder)
    return {
        "name": name,
        "created": now_stamp(),
        "encoder": config.encoder,
        "encoder_weights": spec.weights_note,
        "feature_dim": spec.feature_dim,
        "features": "grid" if config.decoder == "attention" else "pooled",
        "decoder": config.decoder,
        "training": dataclasses.asdict(config) | {"replicas": getattr(result, "replicas", 1)} | _as_trained(result),
        "best_epoch": result.best_epoch,
        "history": result.history,
        "self_critical": result.self_critical,
        "train_seconds": round(seconds, 1),
        "dataset": {"root": str(Path(data_root).name), "layout": dataset.layout,
                    "photos": {s: len(v) for s, v in dataset.splits.items()},
                    "unreadable_photos": unreadable, "note": DATA_NOTE},
        "metrics": metrics,
        "command": command,
    }


def ensemble_card(member_cards: list, name: str) -> dict:
    """The card of several members combined: the first member's shared facts, each member summarised."""
    card = {k: v for k, v in member_cards[0].items() if k not in PER_MEMBER_FIELDS}
    grid = any(member.get("features") == "grid" for member in member_cards)
    card.update(name=name, features="grid" if grid else "pooled", metrics={},
                decoder="ensemble of " + " + ".join(member.get("decoder", "?") for member in member_cards),
                members=[{k: member.get(k) for k in MEMBER_SUMMARY_FIELDS} for member in member_cards])
    return card


def stored_card(card: dict, decoders: int) -> dict:
    """The card as a model file stores it: format, version and how the weights are kept."""
    return {"format": CARD_FORMAT, "version": CARD_VERSION, **card, "decoders": decoders, "weights": "float16"}


def editable_card(card: dict) -> dict:
    """A stored card without the fields saving adds again (to rescore or rename a model)."""
    return {k: v for k, v in card.items() if k not in ("format", "version", "decoders", "weights")}


def validate_card(path: Any, card: Any) -> dict:
    """The card if it describes a model this code can run; BundleError naming the file and field if not."""
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise BundleError(f"{path}: not an image-captioner model (card.json has the wrong format)")
    problem = schema_problem(card, CARD_SCHEMA)
    if problem:
        raise BundleError(f"{path}: card.json has a wrong field ({problem})")
    confidence = card.get("confidence")
    if confidence and not all(len(confidence[k]) == len(confidence["signals"]) for k in ("mean", "scale", "weights")):
        raise BundleError(f"{path}: card.json has a wrong field (confidence: one mean, scale and weight per signal)")
    if card["feature_dim"] != get_spec(card["encoder"]).feature_dim:
        raise BundleError(f"{path}: card.json says feature_dim {card['feature_dim']}, but encoder "
                          f"{card['encoder']} gives {get_spec(card['encoder']).feature_dim}")
    return card
