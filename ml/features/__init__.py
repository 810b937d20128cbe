"""Encoder features of many photos, computed once.

cache        FeatureCache and extract_features: batched, cached on disk by photo, resumable, cancellable
table        FeatureTable: training photos' features in one file, read a batch of rows at a time
for_dataset  a data set's features by photo name (in memory, or as a table)
"""
from ml.features.cache import extract_features
from ml.features.for_dataset import dataset_feature_table, dataset_features
from ml.features.table import FeatureTable

__all__ = ["FeatureTable", "dataset_feature_table", "dataset_features", "extract_features"]
