"""Vocabulary JSON, numpy decoding steps equal to the Keras model, greedy and beam search, BLEU."""
import numpy as np
import pytest

from ml.core.defaults import NO_REPEAT_NGRAM
from ml.data.metrics import bleu_scores, caption_metrics
from ml.data.vocab import Vocabulary, VocabularyError
from ml.decoders.keras_models import build_decoder
from ml.decoders.numpy_step import StepDecoder
from ml.decoders.search import beam_decode, decode_captions, greedy_decode, repeating_words

CAPTIONS = [["a", "dog", "runs"], ["a", "dog", "jumps"], ["a", "cat", "sleeps"], ["the", "dog", "runs"]]


def test_vocabulary_counts_specials_and_round_trips_json():
    vocab = Vocabulary.build(CAPTIONS, min_count=2, max_length=4)
    assert vocab.words == ["<pad>", "<unk>", "<start>", "<end>", "a", "dog", "runs"]
    assert vocab.encode(["a", "cat", "runs"]) == [2, 4, 1, 6, 3]
    assert vocab.decode([4, 5, 3, 6]) == ["a", "dog"]
    again = Vocabulary.from_json(vocab.to_json())
    assert again.words == vocab.words and again.max_length == 4


def test_teacher_forcing_targets_are_inputs_shifted():
    vocab = Vocabulary.build(CAPTIONS, 1, max_length=2)
    inputs, targets = vocab.teacher_forcing_arrays([["a", "dog", "runs"]])  # cut to 2 words
    assert inputs.tolist() == [[2, vocab.index["a"], vocab.index["dog"]]]
    assert targets.tolist() == [[vocab.index["a"], vocab.index["dog"], 3]]


@pytest.mark.parametrize("text", ["not json", '{"format": "other"}', '["a"]',
                                  '{"format": "image-captioner-vocabulary", "words": ["x"], "max_length": 3}'])
def test_bad_vocabulary_json(text):
    with pytest.raises(VocabularyError):
        Vocabulary.from_json(text)


@pytest.fixture(scope="module", params=["merge", "inject", "attention"])
def small_model(request):
    import keras

    keras.utils.set_random_seed(1)
    vocab = Vocabulary.build(CAPTIONS, 1, max_length=6)
    return build_decoder(request.param, len(vocab), 16, 12, 0.0), vocab


def _features(model, rows, seed):
    """Pooled vectors, or 5-region grids for the attention decoder."""
    shape = (rows, 5, 16) if "grid" in model.input else (rows, 16)
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_numpy_steps_equal_the_keras_model(small_model):
    model, vocab = small_model
    features = _features(model, 3, 0)
    words = np.array([[2, 4, 5, 6, 7, 3]] * 3, np.int32)
    key = "grid" if "grid" in model.input else "image"
    expected = model({key: features, "words": words}, training=False).numpy()
    expected = expected - np.log(np.exp(expected).sum(-1, keepdims=True))
    steps = StepDecoder.of_model(model)
    projected, state = steps.start(features)
    for position in range(words.shape[1]):
        log_probs, state = steps.step(projected, state, words[:, position])
        np.testing.assert_allclose(log_probs, expected[:, position], atol=1e-4)


def _sequence_log_prob(steps, vocab, feature, words):
    projected, state = steps.start(feature)
    ids = vocab.encode(words)
    total = 0.0
    for current, following in zip(ids[:-1], ids[1:]):
        log_probs, state = steps.step(projected, state, np.array([current]))
        total += log_probs[0, following]
    return total


def test_beam_of_one_is_greedy_and_wider_beams_score_at_least_as_well(small_model):
    model, vocab = small_model
    steps = StepDecoder.of_model(model)
    features = _features(model, 4, 1)
    assert greedy_decode(steps, vocab, features) == decode_captions(steps, vocab, features, beam_width=1)
    greedy = greedy_decode(steps, vocab, features, ngram=0)  # the search alone; repeat bans are tested below
    for row, greedy_words in zip(features, greedy):
        beam_words = beam_decode(steps, vocab, row[None], beam_width=4, length_penalty=0.0, ngram=0)
        assert _sequence_log_prob(steps, vocab, row[None], beam_words) >= \
            _sequence_log_prob(steps, vocab, row[None], greedy_words) - 1e-5


def test_bleu_of_perfect_and_disjoint_captions():
    references = {"x.jpg": [["a", "dog", "runs", "on", "the", "grass"]], "y.jpg": [["two", "men", "ride", "bikes", "down", "hills"]]}
    perfect = bleu_scores({k: v[0] for k, v in references.items()}, references)
    assert perfect == {"bleu1": 100.0, "bleu2": 100.0, "bleu3": 100.0, "bleu4": 100.0}
    wrong = caption_metrics({"x.jpg": ["cats"], "y.jpg": ["sleep"]}, references)
    assert wrong["bleu1"] == 0.0 and wrong["cider"] == 0.0
    assert caption_metrics({k: v[0] for k, v in references.items()}, references)["cider"] > 100


def test_ensemble_averages_members_and_pools_grids_for_non_attention_members():
    import keras

    from ml.decoders.numpy_step import EnsembleStepDecoder

    keras.utils.set_random_seed(2)
    vocab = Vocabulary.build(CAPTIONS, 1, max_length=6)
    merge = StepDecoder.of_model(build_decoder("merge", len(vocab), 16, 12, 0.0))
    attention = StepDecoder.of_model(build_decoder("attention", len(vocab), 16, 8, 0.0))
    ensemble = EnsembleStepDecoder([merge, attention])
    grids = np.random.default_rng(3).normal(size=(2, 5, 16)).astype(np.float32)
    tokens = np.array([2, 2])
    memory, state = ensemble.start(grids)
    mixed, _ = ensemble.step(memory, state, tokens)
    merge_log_probs, _ = merge.step(*merge.start(grids.mean(axis=1)), tokens)
    attention_log_probs, _ = attention.step(*attention.start(grids), tokens)
    mean_probability = (np.exp(merge_log_probs) + np.exp(attention_log_probs)) / 2
    np.testing.assert_allclose(np.exp(mixed), mean_probability, atol=1e-6)
    np.testing.assert_allclose(np.exp(mixed).sum(axis=-1), 1.0, atol=1e-5)
    assert len(decode_captions(ensemble, vocab, grids, beam_width=3)) == 2


def test_repeating_words_are_those_that_would_end_a_second_copy():
    said = [2, 10, 11, 12, 9, 10, 11]  # <start> a brown dog and a brown
    assert repeating_words(said, 3) == [12]  # not "dog" again after "a brown"
    assert repeating_words(said[:-1], 2) == [11] and repeating_words(said[:-1], 3) == []  # after "... and a"
    assert repeating_words(said, 0) == [] and repeating_words([2], 3) == []


def _repeats_a_run(words, length=NO_REPEAT_NGRAM):
    runs = [tuple(words[i:i + length]) for i in range(len(words) - length + 1)]
    return len(runs) != len(set(runs))


def test_captions_never_repeat_a_run_of_words(small_model):
    model, vocab = small_model
    steps = StepDecoder.of_model(model)
    vocab = Vocabulary(vocab.words, 20)  # long captions from an untrained model loop: what must be cut
    features = _features(model, 12, 2)
    unblocked = greedy_decode(steps, vocab, features, ngram=0)
    assert any(_repeats_a_run(words) for words in unblocked)  # so the check below can fail
    blocked = greedy_decode(steps, vocab, features) + [beam_decode(steps, vocab, row[None], 3) for row in features]
    assert not any(_repeats_a_run(words) for words in blocked)
