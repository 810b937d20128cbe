"""Headless image captioning, in packages by concern, each importing only those listed before it:

core        errors, atomic writes, type names, progress and cancel, defaults, JSON Schema checks
data        caption data sets (Flickr8k, CSV, COCO, Flickr30k), photos, vocabulary, BLEU/CIDEr
encoders    encoder registry, EfficientNet-Lite (Keras), LiteRT encoders, the ImageNet head
features    the on-disk feature cache, the feature table training reads, a data set's features
decoders    Keras decoder models (training), the numpy step decoder (captioning), greedy and beam search
model_file  the .captioner file: card, writer, and the reader that checks everything a user hands in
honesty     confidence signals and calibration, hedged wording, attention maps
captioning  the inference API (Captioner) and what it gives back (CaptionResult)
outputs     .txt sidecars and captions written into the photos' metadata
training    settings, tf.distribute, run folders, the Keras loop, self-critical fine-tuning, whole jobs

`python -m ml` (ml/__main__.py) is the command line over all of them. Never imports the app package, so
it runs in scripts, tests and worker threads alike; tests/test_import_graph.py holds it to this shape.
"""
