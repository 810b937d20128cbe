"""The narrow inference API the CLI and the app use: load a model file, caption photos.

Nothing here imports TensorFlow or Keras: the encoder runs under LiteRT (ml/encoders/litert.py) and the
decoders in numpy (ml/decoders/numpy_step.py), so the app is ready to describe a photo a moment after launch.
"""
from __future__ import annotations

import os
import queue
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ml.captioning.naming import SubjectNamer, rule_for_model
from ml.captioning.results import CaptionResult
from ml.core.defaults import BEAM_WIDTH, LENGTH_PENALTY
from ml.core.progress import CancelFlag, Phase, ProgressCallback, ProgressMeter, check_cancel
from ml.core.types import PathLike
from ml.data.images import ImageError, load_pixels
from ml.decoders.numpy_step import step_decoder_for
from ml.decoders.search import batched_beam_search, decode_captions
from ml.encoders.imagenet import ImageNetHead
from ml.encoders.litert import GridEncoder, grid_encoder, pooled
from ml.encoders.people import PeopleProbe
from ml.encoders.registry import get_spec
from ml.encoders.words import ImageNetWords
from ml.honesty.attention import attention_maps
from ml.honesty.confidence import Calibration, caption_signals, dog_probability, typicality
from ml.honesty.hedging import contradicted, with_article
from ml.model_file.card import calibration_failed
from ml.model_file.reader import load_bundle

if TYPE_CHECKING:
    from ml.model_file.layout import Bundle


LARGEST_BATCH = 32  # photos captioned together once the first results are out
MAX_WORKERS = 4  # batches captioned at once on a machine with that many cores or more


@dataclass
class Recognition:
    """What a batch's encoder features say of each photo, worked out once for naming subjects and for judging."""

    pooled: np.ndarray  # (N, feature_dim)
    typicality: np.ndarray  # how like the training photos (1 for a model without centres)
    people: Optional[np.ndarray]  # the people probe's probability that someone is there; None without a probe
    classes: Optional[np.ndarray]  # ImageNet class probabilities; None without a head


def caption_workers() -> int:
    """How many batches to caption at once: one per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def _growing_batches(paths: Sequence[Path], batch_size: int) -> Iterator[list[Path]]:
    """The paths in batches of batch_size, doubling up to LARGEST_BATCH."""
    start = 0
    while start < len(paths):
        yield list(paths[start:start + batch_size])
        start, batch_size = start + batch_size, min(2 * batch_size, max(batch_size, LARGEST_BATCH))



class Captioner:
    """A model bundle with its encoder, ready to caption photos.

    backend: "auto" runs the encoder under LiteRT where installed, "tensorflow" runs the Keras encoder
    (for comparing the two, and where LiteRT has no wheel)."""

    def __init__(self, bundle: Bundle, encoder: Optional[GridEncoder] = None,
                 encoder_weights_path: Optional[PathLike] = None, backend: str = "auto",
                 encoder_threads: Optional[int] = None):
        self.bundle, self.vocab, self.card = bundle, bundle.vocab, bundle.card
        self.step_decoder = step_decoder_for(bundle.decoder_arrays)
        self.spec = get_spec(self.card["encoder"])
        self.uses_grid = self.card.get("features") == "grid"
        self._encoder = encoder
        self._encoder_weights_path = encoder_weights_path
        self.backend, self.encoder_threads = backend, encoder_threads
        self.imagenet_head = ImageNetHead.for_encoder(self.spec.name)
        self.people_probe = PeopleProbe.for_encoder(self.spec.name)
        self.calibration = Calibration.from_card(self.card) if bundle.centroids is not None else None
        self.failed_calibration_rho = calibration_failed(self.card)
        self.naming_rule = rule_for_model(self.calibration.typical_threshold if self.calibration else None)
        self.namer = (SubjectNamer(ImageNetWords.shipped(), self.vocab, self.naming_rule)
                      if self.imagenet_head is not None else None)

    @classmethod
    def load(cls, model_path: PathLike, encoder_weights_path: Optional[PathLike] = None,
             backend: str = "auto", encoder_threads: Optional[int] = None) -> Captioner:
        return cls(load_bundle(model_path), encoder_weights_path=encoder_weights_path, backend=backend,
                   encoder_threads=encoder_threads)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Encoder features for a batch of pixel arrays (N, size, size, 3): grids for attention models,
        else their mean over the regions (what the pooled encoder computes)."""
        if self._encoder is None:
            self._encoder = grid_encoder(self.spec.name, self._encoder_weights_path, self.backend, self.encoder_threads)
        return self._features_from(self._encoder, pixels)

    def _features_from(self, encoder: GridEncoder, pixels: np.ndarray) -> np.ndarray:
        grids = encoder(np.asarray(pixels, np.float32))
        return grids if self.uses_grid else pooled(grids)

    def warm_up(self) -> None:
        """Load the encoder and run it once now, so the user's first caption is as fast as the next."""
        size = self.spec.image_size
        self.features(np.zeros((1, size, size, 3), np.float32))

    def recognise(self, features: np.ndarray) -> Recognition:
        """Pooled vectors, typicality, the people probe's and the ImageNet head's probabilities for a batch."""
        pooled_vectors = pooled(features)
        return Recognition(pooled_vectors, self.typicality(pooled_vectors),
                           self.people_probe.probabilities(pooled_vectors) if self.people_probe is not None else None,
                           self.imagenet_head.probabilities(pooled_vectors) if self.imagenet_head is not None else None)

    def judge(self, results: Sequence[CaptionResult], features: np.ndarray,
              member_scores: Optional[Sequence[Optional[np.ndarray]]] = None,
              recognition: Optional[Recognition] = None) -> None:
        """Set captioned results' tags, confidence, whether each is unsure and why, from their photos' features
        (one row each), for the whole batch at once: the captions scored together, except those whose members'
        word scores beam search kept (member_scores). `recognition`: the batch's, where the caller has it."""
        recognition = recognition or self.recognise(features)
        typical, people, probabilities = recognition.typicality, recognition.people, recognition.classes
        dogs = None
        if probabilities is not None:
            dogs = dog_probability(probabilities)
            words = ImageNetWords.shipped()
            for result, row, tags, photo_typicality in zip(results, probabilities, words.plain_tags(probabilities), typical):
                result.tags = tags
                seen = contradicted(words, result.caption.split(), row, photo_typicality < self.naming_rule.unusual_below)
                if seen is not None:
                    result.looks_like = seen.word
                    result.reasons.append(f"the encoder sees {with_article(seen.word)} ({round(100 * seen.probability)} %), "
                                          "not what the caption names")
        if self.failed_calibration_rho is not None:
            for result in results:
                result.reasons.append(f"this model cannot tell how good its captions are (its confidence "
                                      f"calibration failed: Spearman's rho {self.failed_calibration_rho:.2f} on dev)")
        elif self.calibration is not None and self.bundle.centroids is not None:
            signals = caption_signals(self.step_decoder, self.vocab, features, [r.caption.split() for r in results], typical,
                                      member_scores, people, dogs)
            for result, confidence, unusual in zip(results, self.calibration.confidence(signals),
                                                   self.calibration.unusual(signals)):
                result.confidence = round(float(confidence), 3)
                if confidence < self.calibration.threshold:
                    result.reasons.append("the model finds its own words unlikely")
                if unusual:
                    result.reasons.append("the photo is unlike the photos the model learned from")
        for result in results:
            result.unsure = bool(result.reasons)

    def typicality(self, pooled_vectors: np.ndarray) -> np.ndarray:
        """How like the training photos each photo is (ml/honesty/confidence.py); 1 for a model without centres."""
        if self.bundle.centroids is None:
            return np.ones(len(pooled_vectors))
        return typicality(pooled_vectors, self.bundle.centroids)

    @property
    def attends(self) -> bool:
        """Whether the model has attention members (and so maps of where it looked)."""
        return self.uses_grid and self.step_decoder.attends

    def attention_maps(self, path: PathLike, caption: str) -> Optional[np.ndarray]:
        """Where the attention members looked for each word of a caption of this photo: (words, side, side),
        or None for a model without attention. Asked for after the caption, never on its path."""
        if not self.attends or not caption:
            return None
        grid = self.features(load_pixels(path, self.spec.image_size)[None])[0]
        return attention_maps(self.step_decoder, self.vocab, grid, caption.split())

    def caption_features(self, features: np.ndarray, beam_width: int = BEAM_WIDTH,
                         length_penalty: float = LENGTH_PENALTY) -> list:
        """Caption strings for precomputed feature vectors."""
        word_lists = decode_captions(self.step_decoder, self.vocab, features, beam_width, length_penalty)
        return [" ".join(words) for words in word_lists]

    def name_subjects(self, results: Sequence[CaptionResult], features: np.ndarray, beam_width: int,
                      recognition: Optional[Recognition] = None) -> None:
        """Recaption the photos whose caption does not name what the encoder surely recognises (ml/captioning/naming.py)."""
        if self.namer is None or self.imagenet_head is None:
            return
        recognition = recognition or self.recognise(features)
        if recognition.classes is None:
            return
        people = recognition.people if recognition.people is not None else np.ones(len(features))
        for result, feature, row, photo_typicality, photo_people in zip(results, features, recognition.classes,
                                                                         recognition.typicality, people):
            result.caption, _ = self.namer.named(self.step_decoder, feature, result.caption, row, beam_width,
                                                 float(photo_typicality), float(photo_people))

    def caption_batches(self, paths: Sequence[PathLike], beam_width: int = BEAM_WIDTH, batch_size: int = 8,
                        cancel: Optional[CancelFlag] = None, workers: Optional[int] = None) -> Iterator[list[CaptionResult]]:
        """Each batch's results, in the order of `paths`, as soon as it is captioned (so a caller can show
        or print them at once); an unreadable photo gets its one-line error and the rest go on. Batches
        start at `batch_size` (the first results soon) and double up to LARGEST_BATCH: the batched beam
        search goes faster on larger batches.

        `workers` batches are captioned at once, each on a thread with an encoder of its own and a share of
        the cores, numpy's matrix library held to one thread meanwhile (its threads and ours would fight over
        the cores): on 2 cores, 43.7 photos/s against 31.7 one batch at a time. None: one per core, at most
        MAX_WORKERS."""
        workers = caption_workers() if workers is None else max(1, workers)
        batches = list(_growing_batches([Path(p) for p in paths], batch_size))
        if workers == 1:
            for batch in batches:
                check_cancel(cancel)
                yield self._caption_batch(batch, beam_width, self.features)
            return
        encoder_threads = max(1, (os.cpu_count() or 1) // workers)  # each worker's share of the cores
        encoders: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(workers):
            encoders.put(None)  # made by the first batch that needs it, then passed on from batch to batch
        with threadpool_limits(1, "blas"), ThreadPoolExecutor(workers, thread_name_prefix="caption") as pool:
            pending: deque = deque()
            for batch in batches:
                check_cancel(cancel)
                pending.append(pool.submit(self._caption_batch_on_worker, batch, beam_width, encoders,
                                           encoder_threads))
                if len(pending) == workers:
                    yield pending.popleft().result()
            while pending:
                check_cancel(cancel)
                yield pending.popleft().result()

    def _caption_batch_on_worker(self, batch: Sequence[Path], beam_width: int, encoders: queue.SimpleQueue,
                                 threads: int) -> list[CaptionResult]:
        """_caption_batch with an encoder of the worker's own (an encoder runs one batch at a time)."""
        encoder = encoders.get() or grid_encoder(self.spec.name, self._encoder_weights_path, self.backend, threads)
        try:
            return self._caption_batch(batch, beam_width, lambda pixels: self._features_from(encoder, pixels))
        finally:
            encoders.put(encoder)

    def _caption_batch(self, batch: Sequence[Path], beam_width: int,
                       features: Callable[[np.ndarray], np.ndarray]) -> list[CaptionResult]:
        """One batch's results: read, encode, caption, name subjects and judge."""
        results: list[CaptionResult] = [CaptionResult(path) for path in batch]
        readable = []
        for index, path in enumerate(batch):
            try:
                readable.append((index, load_pixels(path, self.spec.image_size)))
            except ImageError as error:
                results[index].error = str(error)
        if readable:
            vectors = features(np.stack([pixels for _, pixels in readable]))
            captioned = [results[index] for index, _ in readable]
            word_lists, member_scores = self._search(vectors, beam_width)
            for result, words in zip(captioned, word_lists):
                result.caption = " ".join(words)
            searched = [result.caption for result in captioned]
            recognition = self.recognise(vectors)
            self.name_subjects(captioned, vectors, beam_width, recognition)
            self.judge(captioned, vectors, [scores if result.caption == text else None  # renamed: scored anew
                                            for result, text, scores in zip(captioned, searched, member_scores)],
                       recognition)
        return results

    def _search(self, features: np.ndarray, beam_width: int) -> tuple[list, list]:
        """Word lists for the photos' features, and the members' log-probabilities of their words where beam
        search kept them (greedy keeps none)."""
        if beam_width <= 1:
            word_lists = decode_captions(self.step_decoder, self.vocab, features, beam_width)
            return word_lists, [None] * len(word_lists)
        return batched_beam_search(self.step_decoder, self.vocab, features, beam_width)

    def caption(self, paths: Sequence[PathLike], beam_width: int = BEAM_WIDTH,
                on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                batch_size: int = 8, workers: Optional[int] = None) -> list[CaptionResult]:
        """Caption each photo; unreadable photos get an error and the rest go on."""
        results: list[CaptionResult] = []
        meter = ProgressMeter(Phase.CAPTION, len(paths), on_progress)
        for batch in self.caption_batches(paths, beam_width, batch_size, cancel, workers):
            results.extend(batch)
            meter.advance(len(batch))
        return results
