"""End to end on real photos: features -> training (cancel, resume) -> model file -> captions."""
import threading

import pytest

from ml.captioner import Captioner
from ml.pipeline import train_model
from ml.progress import Cancelled
from ml.training import TrainConfig
from tests.conftest import ORIGINALS, TINY_TRAIN_PHOTOS


def test_tiny_model_learns(tiny_model):
    _, card = tiny_model
    val_losses = [epoch["val_loss"] for epoch in card["history"]]
    assert len(val_losses) >= 3
    assert min(val_losses[1:]) < val_losses[0] - 0.2, val_losses
    assert card["dataset"]["photos"]["train"] == TINY_TRAIN_PHOTOS
    assert card["metrics"]["dev_greedy"]["bleu1"] > 20


def test_tiny_model_captions_real_photos_differently(tiny_model):
    captioner = Captioner.load(tiny_model[0])
    photos = sorted(ORIGINALS.glob("*.jpg"))[:12]
    results = captioner.caption(photos, beam_width=1)
    captions = [r.caption for r in results]
    assert all(r.error == "" and len(r.caption.split()) >= 3 for r in results), captions
    assert len(set(captions)) >= 3, captions
    beamed = captioner.caption(photos[:3], beam_width=3)
    assert all(len(r.caption.split()) >= 3 for r in beamed)


def test_cancel_then_resume_continues_from_last_epoch(flickr8k, tmp_path):
    config = TrainConfig(encoder="efficientnet-lite0", epochs=3, patience=3, units=32, min_word_count=3)
    cancel, epochs_seen = threading.Event(), []

    def cancel_after_first_epoch(progress):
        if progress.phase == "epoch":
            epochs_seen.append(progress.done)
            cancel.set()

    args = (flickr8k, tmp_path / "m.captioner", config)
    with pytest.raises(Cancelled):
        train_model(*args, run_dir=tmp_path / "run", max_train_photos=60, on_progress=cancel_after_first_epoch,
                    cancel=cancel)
    assert epochs_seen == [1] and not (tmp_path / "m.captioner").exists()
    card = train_model(*args, run_dir=tmp_path / "run", max_train_photos=60, on_progress=cancel_after_first_epoch)
    assert epochs_seen == [1, 2, 3]
    assert [epoch["epoch"] for epoch in card["history"]] == [1, 2, 3]


def test_resume_refuses_other_settings(flickr8k, tmp_path):
    config = TrainConfig(encoder="efficientnet-lite0", epochs=1, units=16, min_word_count=3)
    train_model(flickr8k, tmp_path / "a.captioner", config, run_dir=tmp_path / "run", max_train_photos=30)
    changed = TrainConfig(encoder="efficientnet-lite0", epochs=1, units=24, min_word_count=3)
    with pytest.raises(ValueError, match="started with other settings"):
        train_model(flickr8k, tmp_path / "b.captioner", changed, run_dir=tmp_path / "run", max_train_photos=30)


def test_attention_decoder_trains_and_captions_from_grids(flickr8k, tmp_path):
    config = TrainConfig(encoder="efficientnet-lite0", decoder="attention", epochs=2, patience=2, units=32,
                         min_word_count=3)
    card = train_model(flickr8k, tmp_path / "att.captioner", config, run_dir=tmp_path / "run", max_train_photos=60)
    assert card["features"] == "grid" and card["history"][1]["val_loss"] < card["history"][0]["val_loss"]
    captioner = Captioner.load(tmp_path / "att.captioner")
    assert captioner.uses_grid
    result = captioner.caption([ORIGINALS / "1001773457_577c3a7d70.jpg"], beam_width=2)[0]
    assert result.error == "" and result.caption
