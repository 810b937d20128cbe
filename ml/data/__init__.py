"""Caption data sets: their layouts on disk (Flickr8k, CSV, COCO, Flickr30k), photos, the vocabulary, and how a caption is scored against human captions (BLEU, CIDEr)."""
