"""Issue 27, item 1: beam search for a whole batch at once gives the same captions as one photo at a time
(the per-photo search stays as the reference, and as the benchmark's baseline)."""
import numpy as np
import pytest

from ml.captioning.captioner import Captioner
from ml.core.defaults import default_model_path
from ml.data.images import load_pixels
from ml.decoders.search import _best_first, ban_repeats, batched_beam_decode, batched_beam_search, beam_decode, repeating_words
from ml.honesty.confidence import caption_signals

DEV_PHOTOS = 64


@pytest.fixture(scope="module")
def dev_features(flickr8k):
    """The shipped model and the features of the first Flickr8k dev photos."""
    captioner = Captioner.load(default_model_path())
    names = (flickr8k / "Flickr8k_text" / "Flickr_8k.devImages.txt").read_text().split()[:DEV_PHOTOS]
    pixels = np.stack([load_pixels(flickr8k / "Flicker8k_Dataset" / name, captioner.spec.image_size)
                       for name in names])
    return captioner, captioner.features(pixels)


@pytest.mark.parametrize("beam_width", [2, 5])
def test_batched_beam_search_gives_the_per_photo_captions(dev_features, beam_width):
    captioner, features = dev_features
    one_at_a_time = [beam_decode(captioner.step_decoder, captioner.vocab, row[None], beam_width) for row in features]
    batched = batched_beam_decode(captioner.step_decoder, captioner.vocab, features, beam_width)
    assert batched == one_at_a_time


@pytest.mark.parametrize("ngram", [2, 3])
def test_banning_repeats_for_all_rows_at_once_bans_what_the_per_row_rule_bans(ngram):
    histories = np.random.default_rng(ngram).integers(0, 4, (50, 7))  # 4 words: many repeats
    at_once, row_by_row = np.zeros((50, 4)), np.zeros((50, 4))
    ban_repeats(at_once, histories, ngram)
    for row, ids in enumerate(histories):
        row_by_row[row, repeating_words(list(ids), ngram)] = -np.inf
    assert (at_once == row_by_row).all() and np.isinf(at_once).any()


def test_the_best_candidates_are_found_without_sorting_every_row():
    totals = np.random.default_rng(0).standard_normal((40, 3 * 50))
    totals[5, :50] = -np.inf  # a photo whose first beam has no word left
    totals[6, 3:50] = -np.inf  # one with three words left in its first beam
    best = _best_first(totals, 10, 50)
    assert (best == np.argsort(-totals, axis=1, kind="stable")[:, :10]).all()


def test_batches_captioned_on_two_workers_give_what_one_at_a_time_gives(flickr8k, tmp_path):
    """Batches run on threads with encoders of their own: same results, same order, an unreadable photo's
    error in its place, and numpy's matrix library back to its threads afterwards."""
    from threadpoolctl import threadpool_info

    captioner = Captioner.load(default_model_path())
    names = (flickr8k / "Flickr8k_text" / "Flickr_8k.devImages.txt").read_text().split()[:40]
    paths = [flickr8k / "Flicker8k_Dataset" / name for name in names]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    paths.insert(13, broken)
    blas_threads = [pool["num_threads"] for pool in threadpool_info()]
    one = [r.record() for batch in captioner.caption_batches(paths, 5, workers=1) for r in batch]
    batches = list(captioner.caption_batches(paths, 5, workers=2))
    two = [r.record() for batch in batches for r in batch]
    assert [len(batch) for batch in batches] == [8, 16, 17]
    assert two == one and "broken.jpg" in two[13]["error"] and all(r["caption"] for r in two if r is not two[13])
    assert [pool["num_threads"] for pool in threadpool_info()] == blas_threads


def test_the_confidence_reuses_what_beam_search_scored(dev_features):
    """The members' log-probabilities the search kept give the signals that scoring the captions again gives;
    a caption without them (renamed, or never ended) is scored again."""
    captioner, features = dev_features
    word_lists, kept = batched_beam_search(captioner.step_decoder, captioner.vocab, features, 5)
    assert all(scores is not None and scores.shape == (5, len(words) + 1) for words, scores in zip(word_lists, kept))
    typical = np.ones(len(word_lists))
    scored_again = caption_signals(captioner.step_decoder, captioner.vocab, features, word_lists, typical)
    reused = caption_signals(captioner.step_decoder, captioner.vocab, features, word_lists, typical, kept)
    partly = caption_signals(captioner.step_decoder, captioner.vocab, features, word_lists, typical,
                             [None if index % 3 else scores for index, scores in enumerate(kept)])
    assert np.allclose(reused, scored_again, atol=1e-5) and np.allclose(partly, scored_again, atol=1e-5)
