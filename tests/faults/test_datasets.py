"""Data sets report everything wrong with them before work starts, with file:line, and never abort on one
bad line (a 10 KB photo name stopped the load with 'File name too long'; split entries for missing photos
were dropped silently; train printed no summary and never named unreadable photos)."""
import pytest

from ml.data.datasets import load_dataset
from tests.ml.test_bundle_and_cli import run_cli


@pytest.fixture
def small_csv_set(flickr8k, tmp_path):
    """24 Flickr8k photos and one damaged one, as a folder with an image,caption CSV."""
    dataset = load_dataset(flickr8k)
    names = dataset.splits["train"][:24]
    (tmp_path / "Images").mkdir()
    for name in names:
        (tmp_path / "Images" / name).symlink_to(flickr8k / "Flicker8k_Dataset" / name)
    (tmp_path / "Images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows = [f"{name},{' '.join(words)}" for name in names for words in dataset.captions[name]]
    rows.append("broken.jpg,a photo that cannot be read")
    (tmp_path / "captions.txt").write_text("image,caption\n" + "\n".join(rows) + "\n")
    return tmp_path


def test_a_ten_kilobyte_photo_name_is_one_bad_line(small_csv_set):
    with open(small_csv_set / "captions.txt", "a") as captions:
        captions.write("x" * 10_000 + ".jpg,a dog runs\n")
    dataset = load_dataset(small_csv_set)
    assert len(dataset.captions) == 25
    assert len(dataset.bad_lines) == 1 and dataset.bad_lines[0].startswith(f"{small_csv_set / 'captions.txt'}:")
    assert "photo name longer than 255 bytes" in dataset.summary()


def test_split_entries_for_missing_photos_are_reported(flickr8k, tmp_path):
    for item in flickr8k.iterdir():
        if item.name != "Flickr8k_text":
            (tmp_path / item.name).symlink_to(item)
    (tmp_path / "Flickr8k_text").mkdir()
    for item in (flickr8k / "Flickr8k_text").iterdir():
        (tmp_path / "Flickr8k_text" / item.name).symlink_to(item)
    dev = tmp_path / "Flickr8k_text" / "Flickr_8k.devImages.txt"
    text = dev.read_text()
    dev.unlink()
    dev.write_text(text + "no_such_photo.jpg\n")
    dataset = load_dataset(tmp_path)
    assert "1 split entries name photos without captions or files" in dataset.summary()
    assert "Flickr_8k.devImages.txt: no_such_photo.jpg" in dataset.summary()


def test_train_reports_the_data_set_and_its_unreadable_photos_before_training(small_csv_set, tmp_path):
    result = run_cli("train", "--data", small_csv_set, "--output", tmp_path / "out" / "m.captioner", "--encoder",
                     "efficientnet-lite0", "--epochs", "1", "--units", "16", "--self-critical-epochs", "0",
                     "--run-dir", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    summary = next(i for i, line in enumerate(lines) if "layout csv, 25 photos" in line)
    unreadable = next(i for i, line in enumerate(lines) if line.startswith("warning: ") and "broken.jpg" in line)
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1/1"))
    assert summary < unreadable < first_epoch


def test_a_caption_file_larger_than_any_is_refused_unread(tmp_path):
    """Issue 24 N14: a 1 GiB COCO caption file was read whole (6.5 GiB of memory at its peak)."""
    from ml.data.datasets import DatasetError, load_dataset

    (tmp_path / "annotations").mkdir()
    (tmp_path / "train2017").mkdir()
    huge = tmp_path / "annotations" / "captions_train2017.json"
    with open(huge, "wb") as file:
        file.truncate(600 << 20)  # sparse: no disk used, nothing to read but zeros
    with pytest.raises(DatasetError, match="600 MB is more than a caption file holds") as caught:
        load_dataset(tmp_path)
    assert str(huge) in str(caught.value) and "\n" not in str(caught.value)
