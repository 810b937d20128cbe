"""The LSTM caption decoder (merge, inject, attention).

keras_models  the decoders as Keras models, for training: imported by name (it loads TensorFlow)
numpy_step    the same weights as numpy arrays, one word a step: what captioning runs
search        greedy and beam search over a step decoder
"""
from ml.decoders.numpy_step import DecoderArrays, StepDecoder, step_decoder_for
from ml.decoders.search import decode_captions

__all__ = ["DecoderArrays", "StepDecoder", "decode_captions", "step_decoder_for"]
