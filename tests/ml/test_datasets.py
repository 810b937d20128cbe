"""Data set layouts users have, caption cleaning, and clear errors for broken input."""
import pytest

from ml.data.datasets import DatasetError, clean_caption, derive_splits, load_dataset


def test_clean_caption_keeps_one_letter_words_drops_digits_and_punctuation():
    assert clean_caption("A dog's 2 balls, in the U.S.A. !") == ["a", "dogs", "balls", "in", "the", "u", "s", "a"]
    assert clean_caption("Two kids play at 3pm .") == ["two", "kids", "play", "at"]


def test_original_flickr8k_layout(flickr8k):
    dataset = load_dataset(flickr8k)
    assert dataset.layout == "flickr8k"
    assert len(dataset.captions) == 8091
    assert {s: len(n) for s, n in dataset.splits.items()} == {"train": 6000, "dev": 1000, "test": 1000}
    assert dataset.missing_images == ["2258277193_586949ec62.jpg.1"]
    assert all(len(caps) == 5 for caps in dataset.captions.values())
    assert "missing photos" in dataset.summary() and "8091 photos" in dataset.summary()


def _kaggle_copy(flickr8k, folder, names):
    """An Images/ + captions.txt folder (links to the shared photos, never copies)."""
    (folder / "Images").mkdir()
    lines = (flickr8k / "captions.txt").read_text().splitlines()
    keep = [lines[0]] + [line for line in lines[1:] if line.split(",", 1)[0] in names]
    (folder / "captions.txt").write_text("\n".join(keep) + "\n")
    for name in names:
        (folder / "Images" / name).symlink_to(flickr8k / "Flicker8k_Dataset" / name)
    return folder


def test_kaggle_layout_with_seeded_split(flickr8k, tmp_path):
    names = sorted(p.name for p in (flickr8k / "Flicker8k_Dataset").glob("*.jpg"))[:40]
    dataset = load_dataset(_kaggle_copy(flickr8k, tmp_path, names))
    assert dataset.layout == "csv" and len(dataset.captions) == 40
    assert sum(len(c) for c in dataset.captions.values()) == 200
    sizes = {s: len(n) for s, n in dataset.splits.items()}
    assert sizes == {"train": 30, "dev": 5, "test": 5}
    assert dataset.splits == load_dataset(tmp_path).splits  # reproducible
    # "Two kids, playing" style captions hold commas inside quotes; they must survive intact
    assert all(words for caps in dataset.captions.values() for words in caps)


def test_own_folder_with_csv_and_malformed_rows(tmp_path, odd_photos):
    rows = ["image,caption", "gray.jpg,a gray photo", "gray.jpg,\"a photo, gray\"", "cmyk.jpg,a cmyk photo",
            "rgba.png,", "ghost.jpg,a missing photo", "palette.png,a palette photo"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    dataset = load_dataset(tmp_path)
    assert dataset.captions["gray.jpg"] == [["a", "gray", "photo"], ["a", "photo", "gray"]]
    assert dataset.missing_images == ["ghost.jpg"]
    assert len(dataset.bad_lines) == 1 and "labels.csv:5" in dataset.bad_lines[0]
    assert sum(len(v) for v in dataset.splits.values()) == 3


def test_unquoted_commas_in_caption_are_kept(tmp_path, odd_photos):
    (tmp_path / "c.csv").write_text("image,caption\ngray.jpg,a man, a dog, a ball\ncmyk.jpg,x\nrgba.png,y\n")
    assert load_dataset(tmp_path).captions["gray.jpg"] == [["a", "man", "a", "dog", "a", "ball"]]


def test_non_utf8_caption_file(tmp_path):
    (tmp_path / "captions.txt").write_bytes(b"image,caption\nx.jpg,caf\xe9\n")
    with pytest.raises(DatasetError, match=r"captions.txt: not UTF-8"):
        load_dataset(tmp_path)


def test_missing_folder_and_missing_captions(tmp_path):
    with pytest.raises(DatasetError, match="folder not found"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no Flickr8k files, captions.txt or .csv"):
        load_dataset(tmp_path)


def test_wrong_header(tmp_path):
    (tmp_path / "captions.txt").write_text("file;text\n")
    with pytest.raises(DatasetError, match="header 'image,caption'"):
        load_dataset(tmp_path)


def test_empty_split_file_is_an_error(flickr8k, tmp_path):
    text = tmp_path / "Flickr8k_text"
    text.mkdir()
    (tmp_path / "Flicker8k_Dataset").symlink_to(flickr8k / "Flicker8k_Dataset")
    token_lines = (flickr8k / "Flickr8k_text" / "Flickr8k.token.txt").read_text().splitlines()[:50]
    (text / "Flickr8k.token.txt").write_text("\n".join(token_lines + ["no tab here"]) + "\n")
    names = sorted({line.split("#")[0] for line in token_lines})
    (text / "Flickr_8k.trainImages.txt").write_text("\n".join(names[:6]))
    (text / "Flickr_8k.devImages.txt").write_text("\n".join(names[6:8]))
    (text / "Flickr_8k.testImages.txt").write_text("\n")
    with pytest.raises(DatasetError, match="testImages.txt: the test split names no photo"):
        load_dataset(tmp_path)
    (text / "Flickr_8k.testImages.txt").write_text("\n".join(names[8:]))
    dataset = load_dataset(tmp_path)
    assert len(dataset.bad_lines) == 1 and "no tab" in dataset.bad_lines[0]


def test_derived_split_needs_three_photos():
    with pytest.raises(DatasetError, match="need at least 3"):
        derive_splits(["a.jpg", "b.jpg"])
