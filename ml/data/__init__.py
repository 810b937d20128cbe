"""Caption data sets and their words.

captions        Dataset (photos, cleaned captions, splits, what was wrong) and the helpers layouts share
datasets        load_dataset: finds the layout (Flickr8k, CSV) or hands over to coco_flickr30k
coco_flickr30k  MS-COCO 2017 and Flickr30k layouts
images          opening any photo a user has, or one clear line why not; encoder pixels
vocab           Vocabulary: word <-> id, saved as JSON
metrics         corpus BLEU (NLTK) and CIDEr: imported by name, as it loads NLTK (training only)
"""
from ml.data.captions import Dataset, DatasetError
from ml.data.datasets import load_dataset
from ml.data.images import ImageError, list_images, open_rgb
from ml.data.vocab import Vocabulary

__all__ = ["Dataset", "DatasetError", "ImageError", "Vocabulary", "list_images", "load_dataset", "open_rgb"]
