"""Turn a photo's features into words: greedy or beam search over the numpy step decoder."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ml.core.defaults import LENGTH_PENALTY, NO_REPEAT_NGRAM
from ml.core.types import TokenIds
from ml.data.vocab import END, PAD, START, UNK
from ml.decoders.numpy_step import members_of, mixture

if TYPE_CHECKING:
    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import StepDecoderLike


def next_word_log_probs(step_decoder: StepDecoderLike, vocab: Vocabulary, memory: tuple, state: tuple,
                        tokens: np.ndarray, first: bool = False, beams: int = 1) -> tuple[np.ndarray, tuple]:
    """One decoding step with padding, start and unknown words ruled out (a caption never shows them),
    and <end> too at the first word, so a caption is never empty."""
    log_probs, state = step_decoder.step(memory, state, tokens, beams)
    return _rule_out_unsayable(log_probs, vocab, first), state


def _rule_out_unsayable(log_probs: np.ndarray, vocab: Vocabulary, first: bool) -> np.ndarray:
    log_probs[:, [vocab.index[PAD], vocab.index[UNK], vocab.index[START]]] = -np.inf
    if first:
        log_probs[:, vocab.index[END]] = -np.inf
    return log_probs


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
        ban_repeats(log_probs, chosen[:, :position], ngram)
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


def ban_repeats(log_probs: np.ndarray, histories: np.ndarray, ngram: int = NO_REPEAT_NGRAM) -> None:
    """repeating_words for every row of a (rows, length) array of histories at once: rule out each word
    that would end a second copy of an ngram already in that row."""
    length = histories.shape[1]
    if ngram < 2 or length < ngram:
        return
    windows = length - ngram + 1
    repeats = np.ones((len(histories), windows), bool)
    for offset in range(ngram - 1):
        repeats &= histories[:, offset:offset + windows] == histories[:, [windows + offset]]
    rows, starts = np.nonzero(repeats)
    log_probs[rows, histories[rows, starts + ngram - 1]] = -np.inf


def _best_first(totals: np.ndarray, count: int, vocabulary: int) -> np.ndarray:
    """Per row of (photos, beams x vocabulary) totals, the indices of the `count` largest, largest first.

    The `count`-th best total of a photo's first beam is a floor that at least `count` candidates reach,
    so only those at or above it are sorted: far less work than a partition of every row (beam_decode
    sorts the whole array at every step)."""
    count = min(count, totals.shape[1])
    first_beam = totals[:, :vocabulary]
    if count > vocabulary:
        floor = np.full(len(totals), -np.inf)
    else:
        floor = np.partition(first_beam, vocabulary - count, axis=1)[:, vocabulary - count]
    if not np.isfinite(floor).all():  # a first beam with too few words left: sort every candidate
        floor = np.full(len(totals), -np.inf)
    rows, columns = np.nonzero(totals >= floor[:, None])
    order = np.lexsort((-totals[rows, columns], rows))
    rows, columns = rows[order], columns[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, np.arange(len(totals)))[rows]
    best = np.zeros((len(totals), count), np.int64)
    kept = rank < count
    best[rows[kept], rank[kept]] = columns[kept]
    return best


class _Finished:
    """Each photo's best finished caption so far (ids, normalised score, the members' log-probabilities of
    its words) and how many of its captions have finished."""

    def __init__(self, photos: int, length: int, members: int, end: int):
        self.ids = np.full((photos, length), end, np.int64)
        self.member_scores = np.zeros((photos, members, length), np.float32)
        self.score = np.full(photos, -np.inf)
        self.count = np.zeros(photos, np.int64)

    def add(self, photos: np.ndarray, ids: np.ndarray, member_scores: np.ndarray, scores: np.ndarray) -> None:
        """Offer finished captions (one row each, a photo's best first); on a tie the earlier one stays."""
        np.add.at(self.count, photos, 1)
        for photo, row, row_scores, score in zip(photos, ids, member_scores, scores):
            if score > self.score[photo]:
                self.ids[photo, :len(row)], self.score[photo] = row, score
                self.member_scores[photo, :, :row_scores.shape[1]] = row_scores


def batched_beam_decode(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray, beam_width: int,
                        length_penalty: float = LENGTH_PENALTY, ngram: int = NO_REPEAT_NGRAM) -> list:
    """beam_decode for a batch of photos at once (batched_beam_search's word lists)."""
    return batched_beam_search(step_decoder, vocab, features, beam_width, length_penalty, ngram)[0]


def batched_beam_search(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray, beam_width: int,
                        length_penalty: float = LENGTH_PENALTY, ngram: int = NO_REPEAT_NGRAM) -> tuple[list, list]:
    """beam_decode for a batch of photos at once, as array programs: every open beam of every photo goes
    through the decoder in one step, each photo's memory read in place; the next beams of all photos are
    chosen from (photos, beams x vocabulary) at once; finished captions and the stopping rule are kept per
    photo with masks, exactly as beam_decode keeps them, so the captions are the same
    (tests/ml/test_batched_beam.py). A photo whose search has stopped leaves the arrays.

    Returns the word lists and, for each, the members' log-probabilities of its words and <end>
    (members, words + 1), which the confidence needs and would otherwise compute again; None for a caption
    that never reached <end>."""
    memory, (hidden, cell) = step_decoder.start(features)
    photos, end, steps = len(memory[0]), vocab.index[END], vocab.max_length + 1
    members = len(members_of(step_decoder))
    finished = _Finished(photos, steps + 1, members, end)
    unfinished = np.full((photos, steps + 1), end, np.int64)  # the best beam of a photo none of whose captions ended
    open_photos = np.arange(photos)  # the photos still searching, by their index in `features`
    histories = np.full((photos, 1, 1), vocab.index[START], np.int64)  # (open photos, beams, ids so far)
    word_scores = np.zeros((photos, 1, members, 0), np.float32)  # the members' log-probabilities of those words
    scores = np.zeros((photos, 1))  # each beam's summed log-probability; -inf marks an empty slot
    for position in range(steps):
        count, beams = histories.shape[:2]
        member_log_probs, (hidden, cell) = step_decoder.member_step(memory, (hidden, cell), histories[:, :, -1].ravel(), beams)
        log_probs = _rule_out_unsayable(mixture(member_log_probs) if members > 1 else member_log_probs[0].copy(),
                                        vocab, position == 0)
        ban_repeats(log_probs, histories.reshape(count * beams, -1), ngram)
        vocabulary = log_probs.shape[1]
        totals = (scores[:, :, None] + log_probs.reshape(count, beams, vocabulary)).reshape(count, -1)
        best = _best_first(totals, 2 * beam_width, vocabulary)
        best_totals = np.take_along_axis(totals, best, axis=1)
        parent, word = np.divmod(best, vocabulary)
        best_member_scores = member_log_probs[:, np.arange(count)[:, None] * beams + parent, word].transpose(1, 2, 0)
        usable = np.isfinite(best_totals)
        goes_on = usable & (word != end)
        slot = np.cumsum(goes_on, axis=1) - goes_on  # the new beam a candidate becomes: beams ranked above it
        ends = usable & (word == end) & (slot < beam_width)
        goes_on &= slot < beam_width
        length_norm = float(max(position + 1, 1)) ** length_penalty
        row, rank = np.nonzero(ends)
        finished.add(open_photos[row], np.concatenate([histories[row, parent[row, rank]], word[row, rank, None]], axis=1),
                     np.concatenate([word_scores[row, parent[row, rank]], best_member_scores[row, rank, :, None]], axis=2),
                     best_totals[row, rank] / length_norm)
        next_scores = np.full((count, beam_width), -np.inf)
        next_parent = np.zeros((count, beam_width), np.int64)
        next_word = np.full((count, beam_width), end, np.int64)
        next_member_scores = np.zeros((count, beam_width, members), np.float32)
        row, rank = np.nonzero(goes_on)
        next_scores[row, slot[row, rank]] = best_totals[row, rank]
        next_parent[row, slot[row, rank]] = parent[row, rank]
        next_word[row, slot[row, rank]] = word[row, rank]
        next_member_scores[row, slot[row, rank]] = best_member_scores[row, rank]
        open_photo_count, best_open = finished.count[open_photos], next_scores.max(axis=1) / length_norm
        done = ~goes_on.any(axis=1) | ((open_photo_count >= beam_width) & (finished.score[open_photos] >= best_open))
        keep_beams(unfinished, open_photos, histories, scores, done & (open_photo_count == 0))
        going = np.flatnonzero(~done)
        if not len(going):
            break
        rows = (going[:, None] * beams + next_parent[going]).ravel()
        hidden, cell = hidden[rows], cell[rows]
        histories = np.concatenate([np.take_along_axis(histories[going], next_parent[going, :, None], axis=1),
                                    next_word[going, :, None]], axis=2)
        word_scores = np.concatenate([np.take_along_axis(word_scores[going], next_parent[going, :, None, None], axis=1),
                                      next_member_scores[going, :, :, None]], axis=3)
        scores, open_photos = next_scores[going], open_photos[going]
        if len(going) < count:
            memory = tuple(part[going] for part in memory)
    else:
        keep_beams(unfinished, open_photos, histories, scores, finished.count[open_photos] == 0)
    word_lists, member_scores = [], []
    for photo in range(photos):
        ended = finished.count[photo] > 0
        word_lists.append(vocab.decode((finished.ids if ended else unfinished)[photo, 1:]))
        member_scores.append(finished.member_scores[photo, :, :len(word_lists[-1]) + 1] if ended else None)
    return word_lists, member_scores


def keep_beams(unfinished: np.ndarray, open_photos: np.ndarray, histories: np.ndarray, scores: np.ndarray,
               which: np.ndarray) -> None:
    """For the open photos marked `which` (their search stopped with no caption ended), keep the ids of their
    best open beam: all are the same length, so the highest summed log-probability (the first on a tie)."""
    for row in np.flatnonzero(which):
        best = histories[row, int(np.argmax(scores[row]))]
        unfinished[open_photos[row], :len(best)] = best


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
