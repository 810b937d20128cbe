"""A run folder resumes only the run it holds: another data set or photo limit is refused in one line,
never mixed into the old run's weights (issue: the second run trained nothing and saved a broken model)."""
import pytest

from ml.core.errors import TrainingError
from ml.training.config import TrainConfig
from ml.training.pipeline import train_model

CONFIG = TrainConfig(encoder="efficientnet-lite0", epochs=1, units=16, min_word_count=3, self_critical_epochs=0)


@pytest.fixture(scope="module")
def finished_run(flickr8k, tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    train_model(flickr8k, folder / "model.captioner", CONFIG, run_dir=folder / "run", max_train_photos=30)
    return folder


def test_another_photo_limit_on_the_same_run_folder_is_refused(flickr8k, finished_run):
    record = (finished_run / "run" / "run.json").read_bytes()
    with pytest.raises(TrainingError, match=r"started on other data \(layout flickr8k, 30/5/5 .*now .*40/6/6"):
        train_model(flickr8k, finished_run / "model.captioner", CONFIG, run_dir=finished_run / "run",
                    max_train_photos=40)
    # Issue 24 N11: the refused run rewrote run.json, so the app's Resume of this run was refused after it.
    assert (finished_run / "run" / "run.json").read_bytes() == record


def test_another_data_set_on_the_same_run_folder_is_refused(flickr8k, finished_run, tmp_path):
    from ml.data.datasets import load_dataset

    # The same 30 + 5 + 5 photos, written as a CSV data set whose captions are only the first of five.
    dataset = load_dataset(flickr8k)
    lines = ["image,caption"]
    for split, count in (("train", 30), ("dev", 5), ("test", 5)):
        lines += [f"{name},{' '.join(dataset.captions[name][0])}" for name in dataset.splits[split][:count]]
    (tmp_path / "Images").symlink_to(flickr8k / "Flicker8k_Dataset")
    (tmp_path / "captions.txt").write_text("\n".join(lines) + "\n")
    before = (finished_run / "run" / "state.json").read_text()
    with pytest.raises(TrainingError, match="started on other data"):
        train_model(tmp_path, finished_run / "model.captioner", CONFIG, run_dir=finished_run / "run")
    assert (finished_run / "run" / "state.json").read_text() == before


def test_the_same_data_resumes(flickr8k, finished_run):
    card = train_model(flickr8k, finished_run / "again.captioner", CONFIG, run_dir=finished_run / "run",
                       max_train_photos=30)
    assert len(card["history"]) == 1
