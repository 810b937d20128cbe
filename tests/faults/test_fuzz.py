"""Property-based fuzzing (Hypothesis, derandomized so CI is repeatable, bounded example counts): whatever a
user's caption file, model card, vocabulary or model file holds, the readers raise only the project's own
one-line errors, never a TypeError, KeyError, MemoryError or a hang."""
import contextlib
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.data.datasets import DatasetError, load_dataset
from ml.data.vocab import Vocabulary, VocabularyError
from ml.model_file import BundleError, load_bundle, read_card
from ml.model_file.card import validate_card

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
SLOW_FUZZ = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)
PHOTO_NAMES = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
caption_lines = st.lists(
    st.one_of(st.sampled_from(PHOTO_NAMES), st.text(max_size=300)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from([",", "\t", "#0\t", ";", ""]), st.text(max_size=60))),
    max_size=30)


@contextlib.contextmanager
def _photo_folder() -> Iterator[Path]:
    """A data set folder with a few photos, removed after the example (hypothesis runs hundreds)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "Images").mkdir()
        for name in PHOTO_NAMES:
            (folder / "Images" / name).write_bytes(b"\xff\xd8\xff")  # the loader only checks that photos exist
        yield folder


@FUZZ
@given(lines=caption_lines, header=st.sampled_from(["image,caption", "caption,image", "img,text", ""]))
def test_any_csv_caption_file_loads_or_fails_in_one_line(lines, header):
    with _photo_folder() as folder:
        body = "\n".join(f"{name}{separator}{text}" for name, separator, text in lines)
        (folder / "captions.txt").write_text(f"{header}\n{body}\n", encoding="utf-8", errors="surrogatepass")
        try:
            dataset = load_dataset(folder)
        except DatasetError as error:
            assert "\n" not in str(error)
            return
        assert set(dataset.captions) <= set(PHOTO_NAMES) and dataset.summary()


@FUZZ
@given(lines=caption_lines, raw=st.binary(max_size=200))
def test_any_flickr8k_token_file_loads_or_fails_in_one_line(lines, raw):
    with _photo_folder() as folder:
        (folder / "Images").rename(folder / "Flicker8k_Dataset")
        (folder / "Flickr8k_text").mkdir()
        body = "\n".join(f"{name}{separator}{text}" for name, separator, text in lines).encode("utf-8", "surrogatepass")
        (folder / "Flickr8k_text" / "Flickr8k.token.txt").write_bytes(body + b"\n" + raw)
        try:
            load_dataset(folder)
        except DatasetError as error:
            assert "\n" not in str(error)


@FUZZ
@given(card=json_values | st.fixed_dictionaries(
    {"format": st.just("image-captioner-model")},
    optional={"encoder": json_values | st.just("efficientnet-lite0"), "feature_dim": json_values | st.just(1280),
              "features": json_values, "metrics": json_values, "created": json_values, "decoders": json_values,
              "history": json_values, "name": json_values}))
def test_any_card_is_valid_or_refused_in_one_line(card):
    try:
        validate_card("m.captioner", card)
    except BundleError as error:
        assert "\n" not in str(error)


@FUZZ
@given(vocab=json_values | st.fixed_dictionaries(
    {"format": st.just("image-captioner-vocabulary")},
    optional={"words": json_values | st.lists(st.text(max_size=8), max_size=10).map(
        lambda words: ["<pad>", "<unk>", "<start>", "<end>", *words]), "max_length": json_values}))
def test_any_vocabulary_is_valid_or_refused_in_one_line(vocab):
    try:
        loaded = Vocabulary.from_json(json.dumps(vocab))
    except VocabularyError as error:
        assert "\n" not in str(error)
        return
    assert 1 <= loaded.max_length <= 100


@pytest.fixture(scope="module")
def members(tiny_model):
    with zipfile.ZipFile(tiny_model[0]) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@SLOW_FUZZ
@given(data=st.data())
def test_any_model_file_loads_or_fails_in_one_line(members, data):
    """Real members, some replaced by random bytes or cut short, some renamed, some added."""
    contents = dict(members)
    for name in data.draw(st.lists(st.sampled_from(sorted(members)), max_size=3, unique=True)):
        contents[name] = data.draw(st.one_of(st.binary(max_size=300),
                                             st.integers(0, len(members[name])).map(lambda n, m=members[name]: m[:n])))
    if data.draw(st.booleans()):
        contents[data.draw(st.sampled_from(["decoder-1.keras", "../evil.py", "extra.json", "decoder-7.keras"]))] = b"x"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in contents.items():
            archive.writestr(name, content)
    with tempfile.TemporaryDirectory() as scratch:  # removed after each example
        path = Path(scratch) / "fuzzed.captioner"
        path.write_bytes(buffer.getvalue() if data.draw(st.booleans()) else buffer.getvalue()[:data.draw(st.integers(0, 400))])
        for reader in (read_card, load_bundle):
            try:
                reader(path)
            except BundleError as error:
                assert str(path) in str(error) and "\n" not in str(error)
