"""MS-COCO 2017 captions and Flickr30k (issue 17), in the exact file formats they are distributed in, written
by the tests: COCO's `images[{id, file_name}]` / `annotations[{image_id, caption}]` with Karpathy's
`dataset_coco.json` (cocoid, split), Flickr30k's `results.csv` (`image_name| comment_number| comment`) and
Karpathy's `dataset_flickr30k.json` (filename, split, sentences[{raw}]). The photos are real Flickr8k photos
copied under the names these data sets use."""
import json

import pytest

from ml.data.datasets import DatasetError, load_dataset
from tests.conftest import ORIGINALS

CAPTIONS = ["A dog runs on the grass .", "Two people walk along the beach", "A child plays in the snow"]


def _photos(count):
    return sorted(ORIGINALS.glob("*.jpg"))[:count]


def write_coco(root, train=24, val=8, karpathy=False, extra_annotations=()):
    photos = _photos(train + val)
    (root / "annotations").mkdir(parents=True)
    records = {}
    for part, chosen, first_id in (("train", photos[:train], 1), ("val", photos[train:], 1000)):
        (root / f"{part}2017").mkdir()
        images, annotations = [], []
        for offset, photo in enumerate(chosen):
            image_id = first_id + offset
            file_name = f"{image_id:012d}.jpg"
            (root / f"{part}2017" / file_name).write_bytes(photo.read_bytes())
            images.append({"id": image_id, "file_name": file_name, "height": 375, "width": 500})
            annotations += [{"id": 10 * image_id + k, "image_id": image_id, "caption": CAPTIONS[k]} for k in range(3)]
            records[image_id] = part
        annotations += list(extra_annotations)
        data = {"info": {}, "licenses": [], "images": images, "annotations": annotations}
        (root / "annotations" / f"captions_{part}2017.json").write_text(json.dumps(data))
    if karpathy:
        splits = {image_id: ("restval" if part == "train" and image_id % 2 else part) for image_id, part in records.items()}
        splits = {i: ("test" if s == "val" and i % 2 else s) for i, s in splits.items()}
        images = [{"cocoid": i, "filepath": f"{p}2014", "filename": f"COCO_{p}2014_{i:012d}.jpg", "split": splits[i],
                   "sentences": [{"raw": c, "tokens": c.lower().split()} for c in CAPTIONS]} for i, p in records.items()]
        (root / "dataset_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}))
    return root


def test_coco_2017_layout_with_val_halved_into_dev_and_test(tmp_path):
    bad = [{"id": 1, "image_id": 99999, "caption": "a ghost"}, {"id": 2, "image_id": 1}]
    dataset = load_dataset(write_coco(tmp_path / "coco", extra_annotations=bad))
    assert dataset.layout == "coco" and len(dataset.captions) == 32
    assert {len(dataset.splits[s]) for s in ("dev", "test")} == {4} and len(dataset.splits["train"]) == 24
    name = dataset.splits["train"][0]
    assert name.startswith("train2017/") and dataset.image_path(name).is_file()
    assert dataset.captions[name][0] == ["a", "dog", "runs", "on", "the", "grass"]
    assert any("image_id 99999 not in images" in line for line in dataset.bad_lines)
    assert any("no caption" in line for line in dataset.bad_lines)
    assert "layout coco, 32 photos, 96 captions; splits: train 24, dev 4, test 4" in dataset.summary()


def test_coco_with_karpathy_splits(tmp_path):
    dataset = load_dataset(write_coco(tmp_path / "coco", karpathy=True))
    assert len(dataset.splits["train"]) == 24  # train and restval
    assert len(dataset.splits["dev"]) + len(dataset.splits["test"]) == 8 and dataset.splits["test"]
    assert all(name.startswith("val2017/") for name in dataset.splits["dev"] + dataset.splits["test"])


def test_coco_missing_photos_are_reported(tmp_path):
    root = write_coco(tmp_path / "coco")
    missing = sorted((root / "train2017").iterdir())[0]
    missing.unlink()
    dataset = load_dataset(root)
    assert dataset.missing_images == [f"train2017/{missing.name}"] and len(dataset.splits["train"]) == 23


def write_flickr30k_results(root, count=16):
    folder = root / "flickr30k_images" / "flickr30k_images"  # as Kaggle's copy nests it
    folder.mkdir(parents=True)
    lines = ["image_name| comment_number| comment"]
    for index, photo in enumerate(_photos(count)):
        name = f"{1000092795 + index}.jpg"
        (folder / name).write_bytes(photo.read_bytes())
        lines += [f"{name}| {k}| {caption}" for k, caption in enumerate(CAPTIONS)]
    lines.append("broken line without separators")
    (root / "results.csv").write_text("\n".join(lines) + "\n")
    return root


def test_flickr30k_results_csv(tmp_path):
    dataset = load_dataset(write_flickr30k_results(tmp_path / "f30k"))
    assert dataset.layout == "flickr30k" and len(dataset.captions) == 16
    assert dataset.image_dir == tmp_path / "f30k" / "flickr30k_images" / "flickr30k_images"
    assert sum(len(dataset.splits[s]) for s in ("train", "dev", "test")) == 16
    assert dataset.bad_lines == [f"{tmp_path / 'f30k' / 'results.csv'}:50: expected 3 '|'-separated fields, found 1"]


def test_flickr30k_karpathy_json_gives_the_splits(tmp_path):
    root = write_flickr30k_results(tmp_path / "f30k")
    names = sorted(p.name for p in (root / "flickr30k_images" / "flickr30k_images").iterdir())
    splits = ["train"] * 12 + ["val"] * 2 + ["test"] * 2
    images = [{"filename": n, "split": s, "sentences": [{"raw": "A man rides a bike", "tokens": []}]}
              for n, s in zip(names, splits)]
    (root / "dataset_flickr30k.json").write_text(json.dumps({"images": images, "dataset": "flickr30k"}))
    dataset = load_dataset(root)
    assert [len(dataset.splits[s]) for s in ("train", "dev", "test")] == [12, 2, 2]
    assert dataset.captions[names[0]] == [["a", "man", "rides", "a", "bike"]]


def test_a_wrong_header_or_json_is_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.csv").write_text("image,caption\nx.jpg,a dog\n")
    with pytest.raises(DatasetError, match="results.csv: first line must be the header"):
        load_dataset(tmp_path / "a")
    (tmp_path / "b" / "annotations").mkdir(parents=True)
    (tmp_path / "b" / "annotations" / "captions_train2017.json").write_text("{not json")
    with pytest.raises(DatasetError, match="captions_train2017.json: not valid JSON"):
        load_dataset(tmp_path / "b")


def test_training_reads_photos_from_coco_folders(tmp_path):
    """Names with their folder reach the features and the model: a short real run on the COCO layout."""
    from ml.training.config import TrainConfig
    from ml.training.pipeline import train_model

    root = write_coco(tmp_path / "coco")
    config = TrainConfig(encoder="efficientnet-lite0", epochs=1, units=32, min_word_count=1, self_critical_epochs=0)
    card = train_model(root, tmp_path / "coco.captioner", config, run_dir=tmp_path / "run")
    assert card["dataset"]["layout"] == "coco" and card["dataset"]["photos"] == {"train": 24, "dev": 4, "test": 4}


def test_coco_without_val2017_is_one_line(tmp_path):
    """Issue 24 N15: COCO with train2017 alone (no val2017, no Karpathy file) was reported as a bug."""
    import shutil

    root = write_coco(tmp_path / "coco")
    shutil.rmtree(root / "val2017")
    (root / "annotations" / "captions_val2017.json").unlink()
    with pytest.raises(DatasetError, match="no photos for the dev and test splits") as caught:
        load_dataset(root)
    assert str(root) in str(caught.value) and "\n" not in str(caught.value)


def test_a_csv_field_longer_than_the_csv_reader_takes_is_one_line(tmp_path):
    """Issue 24 N15: a 200 KB caption field ended in the csv module's own error, reported as a bug."""
    (tmp_path / "Images").mkdir()
    photos = _photos(4)
    for photo in photos:
        (tmp_path / "Images" / photo.name).write_bytes(photo.read_bytes())
    rows = [f"{p.name},a dog runs" for p in photos] + [f'{photos[0].name},"{"x" * 200_000}"']
    (tmp_path / "captions.txt").write_text("image,caption\n" + "\n".join(rows) + "\n")
    dataset = load_dataset(tmp_path)  # the long row is skipped and named, the others kept
    assert len(dataset.captions) == 4 and any("captions.txt:6" in line for line in dataset.bad_lines)
