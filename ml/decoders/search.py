"""Turn a photo's features into words: greedy or beam search over the numpy step decoder."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ml.core.defaults import LENGTH_PENALTY, NO_REPEAT_NGRAM
from ml.core.types import TokenIds
from ml.data.vocab import END, PAD, START, UNK

if TYPE_CHECKING:
    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import StepDecoderLike


def next_word_log_probs(step_decoder: StepDecoderLike, vocab: Vocabulary, memory: tuple, state: tuple,
                        tokens: np.ndarray, first: bool = False) -> tuple[np.ndarray, tuple]:
    """One decoding step with padding, start and unknown words ruled out (a caption never shows them),
    and <end> too at the first word, so a caption is never empty."""
    log_probs, state = step_decoder.step(memory, state, tokens)
    log_probs[:, [vocab.index[PAD], vocab.index[UNK], vocab.index[START]]] = -np.inf
    if first:
        log_probs[:, vocab.index[END]] = -np.inf
    return log_probs, state


def repeating_words(ids: TokenIds, ngram: int = NO_REPEAT_NGRAM) -> list:
    """Words that would end a second copy of an ngram already in ids: repeats like "a brown dog and a
    brown dog" read as broken, and banning them raised dev BLEU and CIDEr a little (docs/experiments.md)."""
    if ngram < 2 or len(ids) < ngram - 1:
        return []
    prefix = list(ids[len(ids) - ngram + 1:])
    return [ids[i + ngram - 1] for i in range(len(ids) - ngram + 1) if list(ids[i:i + ngram - 1]) == prefix]


def _ban_repeats(log_probs, histories, ngram):
    """Rule out, row by row, the words that would repeat an ngram of that row's history."""
    for row, ids in enumerate(histories):
        banned = repeating_words(ids, ngram)
        if banned:
            log_probs[row, banned] = -np.inf


def greedy_decode(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray,
                  ngram: int = NO_REPEAT_NGRAM) -> list:
    """Most likely word at each step, for a batch of photos at once; returns one word list each."""
    memory, state = step_decoder.start(features)
    rows = len(memory[0])
    tokens = np.full(rows, vocab.index[START], np.int64)
    end = vocab.index[END]
    chosen = np.zeros((rows, vocab.max_length + 1), np.int64)
    finished = np.zeros(rows, bool)
    for position in range(vocab.max_length + 1):
        log_probs, state = next_word_log_probs(step_decoder, vocab, memory, state, tokens, position == 0)
        _ban_repeats(log_probs, [chosen[row, :position] for row in range(rows)], ngram)
        tokens = log_probs.argmax(axis=-1)
        chosen[:, position] = np.where(finished, end, tokens)
        finished |= tokens == end
        if finished.all():
            break
    return [vocab.decode(row) for row in chosen]


def _normalized(score, length, length_penalty):
    return score / max(length, 1) ** length_penalty


def beam_decode(step_decoder: StepDecoderLike, vocab: Vocabulary, feature: np.ndarray, beam_width: int,
                length_penalty: float = LENGTH_PENALTY, ngram: int = NO_REPEAT_NGRAM) -> list:
    """Best caption for one photo by beam search; scores are log-probability / length**penalty."""
    memory, state = step_decoder.start(feature)
    end = vocab.index[END]
    beams = [([vocab.index[START]], 0.0)]  # (token ids, summed log-probability)
    hidden, cell = state
    finished = []
    for _ in range(vocab.max_length + 1):
        tokens = np.array([ids[-1] for ids, _ in beams])
        rows = tuple(np.repeat(part, len(beams), axis=0) for part in memory)
        log_probs, (hidden, cell) = next_word_log_probs(step_decoder, vocab, rows, (hidden, cell), tokens,
                                                        first=len(beams[0][0]) == 1)
        _ban_repeats(log_probs, [ids for ids, _ in beams], ngram)
        totals = np.array([score for _, score in beams])[:, None] + log_probs
        best = np.argsort(totals, axis=None)[::-1][: 2 * beam_width]
        next_beams, keep = [], []
        for flat in best:
            beam, word = divmod(int(flat), log_probs.shape[1])
            if not np.isfinite(totals[beam, word]):
                break  # the rest are ruled out too
            ids, score = beams[beam][0] + [word], float(totals[beam, word])
            if word == end:
                finished.append((ids, _normalized(score, len(ids) - 1, length_penalty)))
            else:
                next_beams.append((ids, score))
                keep.append(beam)
            if len(next_beams) == beam_width:
                break
        best_open = max((_normalized(s, len(i) - 1, length_penalty) for i, s in next_beams), default=-np.inf)
        if not next_beams or (len(finished) >= beam_width and max(s for _, s in finished) >= best_open):
            break
        beams, hidden, cell = next_beams, hidden[keep], cell[keep]
    if not finished:
        finished = [(ids, _normalized(s, len(ids) - 1, length_penalty)) for ids, s in beams]
    best_ids = max(finished, key=lambda item: item[1])[0]
    return vocab.decode(best_ids[1:])


def _best_first(totals: np.ndarray, count: int) -> np.ndarray:
    """The flat indices of the `count` largest totals, largest first: argpartition, then a sort of only
    those (beam_decode sorts the whole beams x vocabulary array at every step)."""
    flat = totals.ravel()
    count = min(count, flat.size)
    candidates = np.argpartition(-flat, count - 1)[:count]
    return candidates[np.argsort(-flat[candidates], kind="stable")]


def batched_beam_decode(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray, beam_width: int,
                        length_penalty: float = LENGTH_PENALTY, ngram: int = NO_REPEAT_NGRAM) -> list:
    """beam_decode for a batch of photos at once: every open beam of every photo goes through the decoder
    in one step (one set of matrix products for the batch, not one per photo), and each photo keeps its
    own beams, finished captions and stopping rule exactly as beam_decode does, so the captions are the
    same (tests/ml/test_batched_beam.py)."""
    memory, (hidden, cell) = step_decoder.start(features)
    photos, end = len(memory[0]), vocab.index[END]
    beams: list[list] = [[([vocab.index[START]], 0.0)] for _ in range(photos)]  # (token ids, log-probability)
    finished: list[list] = [[] for _ in range(photos)]
    open_photos, row_photo = list(range(photos)), np.arange(photos)  # the photo of each decoder row
    for position in range(vocab.max_length + 1):
        open_beams = [beam for photo in open_photos for beam in beams[photo]]
        tokens = np.array([ids[-1] for ids, _ in open_beams])
        rows = tuple(part[row_photo] for part in memory)
        log_probs, (hidden, cell) = next_word_log_probs(step_decoder, vocab, rows, (hidden, cell), tokens,
                                                        first=position == 0)
        _ban_repeats(log_probs, [ids for ids, _ in open_beams], ngram)
        keep_rows: list[int] = []
        still_open: list[int] = []
        offset = 0
        for photo in open_photos:
            count = len(beams[photo])
            totals = np.array([score for _, score in beams[photo]])[:, None] + log_probs[offset:offset + count]
            next_beams, keep = [], []
            for flat in _best_first(totals, 2 * beam_width):
                beam, word = divmod(int(flat), totals.shape[1])
                if not np.isfinite(totals[beam, word]):
                    break  # the rest are ruled out too
                ids, score = beams[photo][beam][0] + [word], float(totals[beam, word])
                if word == end:
                    finished[photo].append((ids, _normalized(score, len(ids) - 1, length_penalty)))
                else:
                    next_beams.append((ids, score))
                    keep.append(offset + beam)
                if len(next_beams) == beam_width:
                    break
            offset += count
            best_open = max((_normalized(s, len(i) - 1, length_penalty) for i, s in next_beams), default=-np.inf)
            if not next_beams or (len(finished[photo]) >= beam_width
                                  and max(s for _, s in finished[photo]) >= best_open):
                continue  # this photo is done; its last beams stay for the fallback below
            beams[photo] = next_beams
            keep_rows += keep
            still_open.append(photo)
        if not still_open:
            break
        hidden, cell = hidden[keep_rows], cell[keep_rows]
        open_photos = still_open
        row_photo = np.repeat(still_open, [len(beams[photo]) for photo in still_open])
    captions = []
    for photo in range(photos):
        done = finished[photo] or [(ids, _normalized(s, len(ids) - 1, length_penalty)) for ids, s in beams[photo]]
        captions.append(vocab.decode(max(done, key=lambda item: item[1])[0][1:]))
    return captions


def decode_captions(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray, beam_width: int = 1,
                    length_penalty: float = LENGTH_PENALTY) -> list:
    """Word lists for a batch of feature vectors (or grids); beam_width 1 means greedy."""
    features = np.asarray(features)
    if features.ndim == (2 if step_decoder.attends else 1):  # one photo
        features = features[None]
    if beam_width <= 1:
        return greedy_decode(step_decoder, vocab, features)
    return batched_beam_decode(step_decoder, vocab, features, beam_width, length_penalty)


def constrained_beam_decode(step_decoder: StepDecoderLike, vocab: Vocabulary, feature: np.ndarray, beam_width: int,
                            required: Sequence[int], banned: Sequence[int] = (), within: Optional[int] = None,
                            prefix: Sequence[int] = (), not_after_prefix: Sequence[int] = (),
                            length_penalty: float = LENGTH_PENALTY, ngram: int = NO_REPEAT_NGRAM) -> Optional[list]:
    """Best caption for one photo that uses one of the `required` words among its first `within` words (anywhere
    when None) and none of the `banned` ones, or None if no such caption ends within the length limit. A caption
    may be made to start with `prefix` and go on with none of `not_after_prefix` ("a bridge" but not "a bridge is").

    Constrained beam search with one constraint (Anderson et al. 2017): captions that have used a required word
    and captions that have not yet are kept in separate beams of `beam_width` each, and only the former may end,
    so the word appears where the decoder finds it most fluent instead of being forced at a fixed place."""
    memory, (hidden, cell) = step_decoder.start(feature)
    end, required_ids = vocab.index[END], np.asarray(list(required), np.int64)
    beams = [([vocab.index[START]], 0.0, not len(required_ids))]  # (token ids, summed log-probability, uses a required word)
    finished: list = []
    for position in range(vocab.max_length + 1):
        tokens = np.array([ids[-1] for ids, _, _ in beams])
        rows = tuple(np.repeat(part, len(beams), axis=0) for part in memory)
        log_probs, (hidden, cell) = next_word_log_probs(step_decoder, vocab, rows, (hidden, cell), tokens, position == 0)
        _ban_repeats(log_probs, [ids for ids, _, _ in beams], ngram)
        log_probs[:, list(banned)] = -np.inf
        if position < len(prefix):
            log_probs[:, np.arange(log_probs.shape[1]) != prefix[position]] = -np.inf
        elif position == len(prefix):
            log_probs[:, list(not_after_prefix)] = -np.inf
        totals = np.array([score for _, score, _ in beams])[:, None] + log_probs
        met = np.array([uses for _, _, uses in beams])
        into_met = np.where(met[:, None], totals, -np.inf)
        into_met[np.ix_(~met, required_ids)] = totals[np.ix_(~met, required_ids)]
        into_unmet = np.where(met[:, None], -np.inf, totals)
        into_unmet[:, required_ids] = -np.inf
        into_unmet[:, end] = -np.inf
        if within is not None and position + 1 >= within:
            into_unmet[:] = -np.inf  # the last place the required word may take
        next_beams, keep = [], []
        for group, uses in ((into_met, True), (into_unmet, False)):
            kept = 0
            for flat in np.argsort(group, axis=None)[::-1][: 2 * beam_width]:
                beam, word = divmod(int(flat), group.shape[1])
                if not np.isfinite(group[beam, word]):
                    break
                ids, score = beams[beam][0] + [word], float(group[beam, word])
                if word == end:
                    finished.append((ids, _normalized(score, len(ids) - 1, length_penalty)))
                    continue
                next_beams.append((ids, score, uses))
                keep.append(beam)
                kept += 1
                if kept == beam_width:
                    break
        best_open = max((_normalized(s, len(i) - 1, length_penalty) for i, s, uses in next_beams if uses), default=-np.inf)
        if not next_beams or (len(finished) >= beam_width and max(s for _, s in finished) >= best_open):
            break
        beams, hidden, cell = next_beams, hidden[keep], cell[keep]
    if not finished:
        return None
    best_ids = max(finished, key=lambda item: item[1])[0]
    return vocab.decode(best_ids[1:])
