"""Names for what ml's public functions take and give, so their signatures say what they hold."""
from typing import Any, Mapping, Sequence, Union

import numpy as np

from ml.core.atomic import PathLike  # defined there: the speech worker imports atomic without numpy

__all__ = ["CaptionArrays", "FeaturesByName", "PathLike", "References", "TokenIds", "Words"]
Words = list[str]  # one caption as cleaned words, e.g. ["a", "dog", "runs"]
References = dict[str, list[Words]]  # photo name -> its human captions
# photo name -> its encoder features (pooled vector or grid): a dict, or a FeatureTable read from disk
FeaturesByName = Mapping[str, np.ndarray]
# features (an array, or a FeatureTable's rows), photo index (row) of each caption, input ids, target ids
CaptionArrays = tuple[Any, np.ndarray, np.ndarray, np.ndarray]
TokenIds = Union[Sequence[int], np.ndarray]  # word ids of one caption
