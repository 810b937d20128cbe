"""Encoders for captioning without TensorFlow: each Keras encoder converted once to a LiteRT (.tflite) file.

The default encoder's file ships in assets/encoders/ (converted from the Apache-2.0 EfficientNet-Lite
weights); another encoder is converted on first use where TensorFlow is installed, and kept in the user's
data folder. Every file holds the encoder's spatial grid; pooled features are its mean, so one file
serves pooled and attention decoders alike. Where LiteRT has no wheel (Windows), captioning runs the
Keras encoder instead (`tensorflow_encoder`).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from ml.core.atomic import replace_atomically, set_aside
from ml.core.defaults import asset_path, installed, user_data_dir
from ml.core.types import PathLike
from ml.encoders.registry import EncoderError, EncoderSpec, build_encoder, compiled_forward, get_spec

log = logging.getLogger(__name__)

# What captioning calls: float pixels (N, size, size, 3) in [0, 255] -> feature grids (N, regions, dim).
GridEncoder = Callable[[np.ndarray], np.ndarray]


def pooled(grids: np.ndarray) -> np.ndarray:
    """Pooled features from feature grids (N, regions, dim): the regions' mean, as the Keras pooled encoder
    computes it; features already pooled (N, dim) are returned as they are."""
    return grids.mean(axis=1) if grids.ndim == 3 else grids


def shipped_encoder_path(name: str) -> Path:
    return asset_path("encoders", f"{name}.tflite")


def converted_encoder_path(name: str) -> Path:
    return user_data_dir() / "encoders" / f"{name}.tflite"


def litert_available() -> bool:
    return installed("ai_edge_litert")


def encoder_file(name: str, weights_path: Optional[PathLike] = None) -> Path:
    """The encoder's .tflite: the shipped one, one converted earlier, or one converted now (needs TensorFlow)."""
    get_spec(name)
    for candidate in (shipped_encoder_path(name), converted_encoder_path(name)):
        if candidate.is_file():
            return candidate
    if not installed("tensorflow"):
        raise EncoderError(f"the {name} encoder is not converted for captioning yet, and converting it needs "
                           "TensorFlow (pip install tensorflow, or open this model once in the full app)")
    return convert_encoder(name, converted_encoder_path(name), weights_path)


def convert_encoder(name: str, target: PathLike, weights_path: Optional[PathLike] = None) -> Path:
    """Convert the Keras encoder (grid output, any batch size) to a .tflite file, written atomically.

    TensorFlow's converter from a concrete function: `from_keras_model` fails under Keras 3."""
    import tensorflow as tf


    log.info("converting the %s encoder for captioning (once): %s", name, target)
    encoder = build_encoder(name, weights_path=weights_path, grid=True)
    size = get_spec(name).image_size
    forward = tf.function(lambda pixels: encoder(pixels, training=False), autograph=False)
    concrete = forward.get_concrete_function(tf.TensorSpec([None, size, size, 3], tf.float32))
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([concrete], encoder).convert()
    return replace_atomically(target, lambda temp: Path(temp).write_bytes(flatbuffer), ".tflite")


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hide what native code prints straight to the process's stderr (LiteRT announces its XNNPACK
    delegate there once), so the CLI's stderr holds only its own lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_shapes(path: PathLike, spec: EncoderSpec, inputs: list, outputs: list) -> None:
    """A .tflite file must take this encoder's pixels and give its feature grid: a foreign model loaded, then
    failed mid-caption (issue 24 N17)."""
    size = spec.image_size
    takes = len(inputs) == 1 and list(inputs[0]["shape"][1:]) == [size, size, 3] and inputs[0]["dtype"] == np.float32
    gives = len(outputs) == 1 and len(outputs[0]["shape"]) == 3 and outputs[0]["shape"][-1] == spec.feature_dim
    if not (takes and gives):
        raise EncoderError(f"{path}: not a {spec.name} encoder (it takes {[list(i['shape']) for i in inputs]} "
                           f"and gives {[list(o['shape']) for o in outputs]})")


INVOKE_PHOTOS = 2  # photos per interpreter call


class LiteEncoder:
    """A .tflite encoder under LiteRT; one call at a time (the interpreter is not thread-safe)."""

    def __init__(self, path: PathLike, threads: Optional[int] = None, spec: Optional[EncoderSpec] = None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count() or 1)
        except ValueError as error:
            raise EncoderError(f"{path}: not a usable encoder file ({str(error)[:100]})") from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if spec is not None:
            _check_shapes(path, spec, inputs, outputs)
        self.input_index, self.output_index = inputs[0]["index"], outputs[0]["index"]
        with _quiet_native_stderr():
            self.interpreter.allocate_tensors()
        self.batch_size = 1
        self.lock = threading.Lock()

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """The grids of a batch of photos, INVOKE_PHOTOS at a time: on one thread 20.0 ms a photo two at a time
        against 23.5 ms 32 at a time (a small batch's activations stay in the cache); on two, the same."""
        pixels = np.ascontiguousarray(pixels, np.float32)
        with self.lock:
            return np.concatenate([self._invoke(pixels[start:start + INVOKE_PHOTOS])
                                   for start in range(0, len(pixels), INVOKE_PHOTOS)])

    def _invoke(self, pixels: np.ndarray) -> np.ndarray:
        if len(pixels) != self.batch_size:
            self.interpreter.resize_tensor_input(self.input_index, pixels.shape)
            self.interpreter.allocate_tensors()
            self.batch_size = len(pixels)
        self.interpreter.set_tensor(self.input_index, pixels)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index).copy()


def tensorflow_encoder(name: str, weights_path: Optional[PathLike] = None) -> GridEncoder:
    """The Keras encoder (grid output) as one compiled call per batch: training's path, and captioning's
    where LiteRT is missing."""

    forward = compiled_forward(build_encoder(name, weights_path=weights_path, grid=True))
    return lambda pixels: forward(np.asarray(pixels, np.float32)).numpy()


def grid_encoder(name: str, weights_path: Optional[PathLike] = None, backend: str = "auto",
                 threads: Optional[int] = None) -> GridEncoder:
    """The encoder captioning uses: LiteRT where it is installed ("auto"), or the one named. `threads`: LiteRT's
    (default every core; one per process where several processes share the cores, as a cluster's workers do)."""
    if backend == "tensorflow" or (backend == "auto" and not litert_available()):
        return tensorflow_encoder(name, weights_path)
    path = encoder_file(name, weights_path)
    try:
        return LiteEncoder(path, threads, spec=get_spec(name))
    except EncoderError as error:
        if path != converted_encoder_path(name):
            raise  # the shipped file is the package's: never moved
        set_aside(path, error)  # a converted copy is ours to redo: damaged or foreign, it goes aside once
        if not installed("tensorflow"):
            raise EncoderError(f"{error}; it was set aside, and converting the encoder again needs TensorFlow "
                               "(open this model once in the full app)") from None
        return LiteEncoder(convert_encoder(name, path, weights_path), threads, spec=get_spec(name))
