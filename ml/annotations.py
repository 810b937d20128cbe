"""Names for what ml's public functions take and give, so their signatures say what they hold."""
from typing import Sequence, Union

import numpy as np

from .atomic import PathLike  # defined there: the speech worker imports atomic without numpy

__all__ = ["CaptionArrays", "FeaturesByName", "PathLike", "References", "TokenIds", "Words"]
Words = list[str]  # one caption as cleaned words, e.g. ["a", "dog", "runs"]
References = dict[str, list[Words]]  # photo name -> its human captions
FeaturesByName = dict[str, np.ndarray]  # photo name -> its encoder features (pooled vector or grid)
CaptionArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # features, photo index, inputs, targets
TokenIds = Union[Sequence[int], np.ndarray]  # word ids of one caption
