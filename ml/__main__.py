"""Command line: python -m ml {caption, caption-cluster, train, evaluate, features, calibrate, ensemble} --help.

caption: describe photos (no TensorFlow); caption-cluster: a large collection on a Dask cluster; train: a model
from a data set folder; evaluate: BLEU/CIDEr on a split; features: compute and cache encoder features; calibrate:
fit a model's confidence on dev; ensemble: combine models trained on one vocabulary into one file (their word
probabilities averaged).

Exit status: 0 all done; 1 some photos (or what was to be written for them) failed, each said in one line,
the rest done; 2 nothing done: bad input or options, in one line; 70 a bug (one line, the traceback in the
log); 130 interrupted (finished work kept)."""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

from ml.core import defaults as config  # noqa: E402
from ml.core.errors import UserError  # noqa: E402
from ml.core.native_log import silence_native_stderr  # noqa: E402
from ml.core.progress import Cancelled, Phase, Progress  # noqa: E402
from ml.data.images import IMAGE_SUFFIXES, ImageError, list_images  # noqa: E402
from ml.encoders.registry import ENCODERS  # noqa: E402
from ml.model_file.card import metric_key  # noqa: E402

# What the user can cause and fix: the project's own errors, and the system's word on a file (missing,
# unreadable, disk full), which names the file. Anything else is a bug and is logged with its traceback.
USER_ERRORS = (UserError, OSError)
# Exit status (see the module docstring).
EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT, EXIT_BUG = 0, 1, 2, 70


class TqdmProgress:
    """Progress reports drawn as tqdm bars on stderr, one bar per phase."""

    def __init__(self):
        self.bars = {}

    def __call__(self, progress: Progress) -> None:
        from tqdm import tqdm

        if progress.phase == Phase.EPOCH:
            values = progress.values
            tqdm.write(f"epoch {progress.done}/{progress.total}: loss {values['loss']:.3f} "
                       f"dev loss {values['val_loss']:.3f} ({values['seconds']} s)", file=sys.stderr)
            return
        bar = self.bars.get(progress.phase)
        if bar is None:
            bar = self.bars[progress.phase] = tqdm(total=progress.total, desc=progress.phase, file=sys.stderr,
                                                   initial=progress.done - 1, dynamic_ncols=True)
        bar.update(progress.done - bar.n)
        if progress.message:
            bar.set_postfix_str(progress.message, refresh=False)
        if progress.done >= progress.total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _expand_images(items: list[str]) -> list[Path]:
    """The photos named: files as given, folders' photos by name; a folder without photos is an error."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise ImageError(f"{path}: no photos in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def _print_result(result, args: argparse.Namespace) -> None:
    """One result as soon as it is made: errors on stderr, captions as a line of text or of JSON."""
    if result.error:
        print(result.error, file=sys.stderr, flush=True)
    if args.jsonl:
        print(json.dumps(result.record()), flush=True)
    elif not args.json and not result.error:
        print(f"{result.path}\t{result.text}", flush=True)


def cmd_caption(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ml.captioning.captioner import Captioner
    from ml.model_file.reader import read_card

    paths = _expand_images(args.images)
    read_card(args.model)  # a missing or foreign model file is told first, in a moment
    if not any(path.is_file() for path in paths):  # nothing to caption: say so before loading the model
        for path in paths:
            print(f"{path}: file not found", file=sys.stderr)
        return EXIT_BAD_INPUT
    captioner = Captioner.load(args.model, encoder_weights_path=args.encoder_weights)
    if args.attention_map and not captioner.attends:
        print(f"{args.model}: this model has no attention members, so no attention maps", file=sys.stderr)
        return EXIT_BAD_INPUT
    results = []
    maps_failed = False
    bar = tqdm(total=len(paths), unit="photo", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)
    # Ctrl+C stops after the batch being captioned is printed, so the count said is exactly what was printed.
    interrupted = threading.Event()
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        for batch in captioner.caption_batches(paths, args.beam, cancel=interrupted):
            for result in batch:
                _print_result(result, args)
                results.append(result)
                if args.attention_map and not result.error:
                    maps_failed |= not _write_attention_map(captioner, result, args.attention_map)
            bar.update(len(batch))
    except Cancelled:
        print(f"interrupted: {len(results)} of {len(paths)} photos captioned (printed above)", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        bar.close()
        if args.json:
            print(json.dumps([r.record() for r in results], indent=2))
        if args.sidecars:
            _write_sidecars(results, paths, args.overwrite)
        written = (_write_metadata(results, args.replace_descriptions, "skip" if args.skip_unsure else "hedge")
                   if args.write_metadata else True)
    ok = written and not maps_failed and all(not r.error for r in results)
    return EXIT_OK if ok else EXIT_SOME_FAILED


def _free_name(folder: Path, photo: Path) -> Path:
    """FOLDER/x.jpg.attention.png, or x.jpg.attention-2.png and on where that name is taken (by another
    photo named x.jpg from another folder, or by a file of the user's): nothing is written over."""
    target, number = folder / f"{photo.name}.attention.png", 1
    while target.exists():
        number += 1
        target = folder / f"{photo.name}.attention-{number}.png"
    return target


def _write_attention_map(captioner, result, folder: Path) -> bool:
    """A new file in FOLDER: one panel per word of the caption, where the model looked for it. A map that
    cannot be written is one line, and the batch goes on; False then."""
    from ml.data.images import open_rgb
    from ml.honesty.attention import save_attention_sheet

    maps = captioner.attention_maps(result.path, result.caption)
    try:
        target = save_attention_sheet(_free_name(folder, result.path), open_rgb(result.path), maps,
                                      result.caption.split())
    except OSError as error:
        print(f"{result.path}: attention map: cannot write in {folder} ({error.strerror or error})", file=sys.stderr)
        return False
    print(f"{result.path}: attention map in {target}", file=sys.stderr)
    return True


def _write_metadata(results, replace: bool, unsure: str) -> bool:
    """Each caption into its photo as its description (EXIF/XMP, or a .xmp sidecar); a photo's own
    description is kept unless `replace` (each said in one line); unsure captions hedged or skipped
    (`unsure`); failures in one line. False when any failed."""
    from ml.outputs.metadata import write_captions

    report = write_captions(results, replace, unsure)
    for line in [str(kept) for kept in report.kept] + report.failed:
        print(line, file=sys.stderr)
    written = len(report.photos) + len(report.sidecars)
    kept = len(report.kept)
    whose = "photos' own descriptions" if kept != 1 else "photo's own description"
    advice = f"; kept {kept} {whose} (--replace-descriptions replaces them)" if kept else ""
    if report.skipped_unsure:
        advice += f"; skipped {report.skipped_unsure} unsure caption{'s' * (report.skipped_unsure != 1)}"
    print(f"Saved {written} caption{'s' * (written != 1)} into the photos' metadata{advice}", file=sys.stderr)
    return not report.failed


def _write_sidecars(results, paths: list[Path], overwrite: bool) -> None:
    from ml.outputs.sidecars import write_sidecars

    report = write_sidecars(results, overwrite, all_photos=paths)
    advice = "; --overwrite replaces them" if report.kept else ""
    print(report.summary() + advice, file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from ml.training.config import TrainConfig
    from ml.training.distribute import prepare_devices
    from ml.training.pipeline import train_model

    prepare_devices()  # before anything starts TensorFlow (IMAGE_CAPTIONER_CPU_DEVICES, ml/training/distribute.py)

    train_config = TrainConfig(encoder=args.encoder, decoder=args.decoder, epochs=args.epochs,
                               batch_size=args.batch_size, learning_rate=args.learning_rate,
                               sampled_words=args.sampled_words, units=args.units,
                               dropout=args.dropout, self_critical_epochs=args.self_critical_epochs)
    progress = TqdmProgress()
    try:
        card = train_model(args.data, args.output, train_config, run_dir=args.run_dir,
                           max_train_photos=args.max_train_photos, on_progress=progress,
                           weights_path=args.encoder_weights, command=" ".join(["python -m ml"] + sys.argv[1:]))
    finally:
        progress.close()  # before an error is said, so it starts a line of its own
    print(f"saved {args.output}: best epoch {card['best_epoch']}, "
          f"dev {card['metrics'][metric_key('dev', 1)]}, test {card['metrics'][metric_key('test', 1)]}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ml.captioning.captioner import Captioner
    from ml.training.pipeline import evaluate_model

    captioner = Captioner.load(args.model, encoder_weights_path=args.encoder_weights)
    progress = TqdmProgress()
    scores = evaluate_model(captioner, args.data, args.split, args.beam, on_progress=progress,
                            weights_path=args.encoder_weights)
    progress.close()
    print(json.dumps({"model": str(args.model), "split": args.split, "beam": args.beam, **scores}))
    return 0


def cmd_caption_cluster(args: argparse.Namespace) -> int:
    """Caption a collection on a Dask cluster (ml/captioning/cluster.py): a local one of --workers processes,
    or the one at --scheduler."""
    try:
        from distributed import Client
    except ImportError:
        print("caption-cluster needs Dask: pip install -r requirements-cluster.txt", file=sys.stderr)
        return EXIT_BAD_INPUT
    from ml.captioning.cluster import caption_on_cluster, local_cluster, photos_in
    from ml.model_file.reader import read_card

    read_card(args.model)
    photos_in(args.sources)  # a bad source is told before any cluster starts
    cluster = None if args.scheduler else local_cluster(args.workers)
    began = time.perf_counter()

    def say_progress(report) -> None:
        print(f"captioned {report.captioned} of {report.total - report.skipped} photos "
              f"({report.photos_per_second:.1f} photos/s)", file=sys.stderr, flush=True)

    try:
        with Client(args.scheduler or cluster) as client:
            report = caption_on_cluster(client, args.sources, args.output, args.model, args.beam, args.chunk, say_progress)
    except KeyboardInterrupt:
        print(f"interrupted: the shards in {args.output} hold every photo finished; run again to go on", file=sys.stderr)
        return 130
    finally:
        if cluster is not None:
            cluster.close()
    for error in report.errors:
        print(error, file=sys.stderr)
    print(f"{report.captioned} photos captioned, {report.skipped} already in {args.output} skipped, "
          f"{len(report.errors)} failed ({time.perf_counter() - began:.1f} s)", file=sys.stderr)
    return EXIT_SOME_FAILED if report.errors else EXIT_OK


def cmd_features(args: argparse.Namespace) -> int:
    from ml.data.datasets import load_dataset
    from ml.features.for_dataset import dataset_features

    dataset = load_dataset(args.data)
    print(dataset.summary())
    names = [n for split in args.splits for n in dataset.splits[split]]
    progress = TqdmProgress()
    features, errors = dataset_features(dataset, args.encoder, names, progress, weights_path=args.encoder_weights)
    progress.close()
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(features)} photos have {args.encoder} features; {len(errors)} unreadable")
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    from ml.model_file.combine import combine_bundles

    combine_bundles(args.models, args.output)
    print(f"saved {args.output}: ensemble of {len(args.models)} models (evaluate it to score it)")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ml.honesty.calibration import calibrate_model

    command = f"python -m ml calibrate --model {args.model.name} --data {args.data.name} --beam {args.beam}"
    entry = calibrate_model(args.model, args.data, args.beam, command)
    print(f"calibrated {args.model}: Spearman's rho of confidence and sentence CIDEr {entry['dev_spearman']} "
          f"on dev, {entry.get('test_spearman', 'n/a')} on test; unsure below {entry['threshold']:.3f}")
    return 0


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from low to high, or a one-line usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml", description="Describe photos in words.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {config.VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)
    # Each command's --help shows the defaults (it showed none).
    add_command = functools.partial(commands.add_parser, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    weights_help = "Xception ImageNet weights file (.h5), for machines without internet"

    caption = add_command("caption", help="caption photos (files or folders)")
    caption.add_argument("images", nargs="+", help="photo files or folders of photos")
    caption.add_argument("--model", type=Path, default=config.active_model_path(),
                         help="model file (.captioner; default: the app's active model, else the shipped one)")
    caption.add_argument("--beam", type=whole_number(1, 20), default=config.BEAM_WIDTH, help="beam width; 1 is greedy")
    output = caption.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON list at the end instead of lines")
    output.add_argument("--jsonl", action="store_true", help="print one JSON object per photo as it is captioned")
    caption.add_argument("--sidecars", action="store_true",
                         help="also write each caption next to its photo (photo.txt; photo.jpg.txt where names collide)")
    caption.add_argument("--overwrite", action="store_true",
                         help="with --sidecars: replace existing files that hold other text (kept otherwise)")
    caption.add_argument("--write-metadata", action="store_true",
                         help="also write each caption into its photo as its description (EXIF ImageDescription, "
                              "XMP dc:description, PNG iTXt Description; a .xmp sidecar for other formats)")
    caption.add_argument("--replace-descriptions", action="store_true",
                         help="with --write-metadata: replace a description a photo already has (kept otherwise)")
    caption.add_argument("--skip-unsure", action="store_true",
                         help="with --write-metadata: leave out unsure captions (written hedged otherwise, "
                              "\"I'm not sure; …\", never as fact)")
    caption.add_argument("--attention-map", type=Path, metavar="FOLDER",
                         help="also write FOLDER/PHOTO.jpg.attention.png: where the model looked for each word")
    caption.add_argument("--encoder-weights", type=Path, help=weights_help)
    caption.set_defaults(run=cmd_caption)

    on_cluster = add_command("caption-cluster", help="caption a large collection on a Dask cluster, into JSONL shards "
                                                     "(resumes: photos already in the shards are skipped)")
    on_cluster.add_argument("sources", nargs="+", help="folders (searched below too) or .txt lists of photo paths")
    on_cluster.add_argument("--output", type=Path, required=True, help="folder of the JSONL shards (part-*.jsonl)")
    on_cluster.add_argument("--model", type=Path, default=config.active_model_path(), help="model file (.captioner)")
    on_cluster.add_argument("--beam", type=whole_number(1, 20), default=config.BEAM_WIDTH, help="beam width")
    on_cluster.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://HOST:8786); "
                                                "default: a local cluster on this machine")
    on_cluster.add_argument("--workers", type=whole_number(1, 256), default=os.cpu_count() or 1,
                            help="worker processes of the local cluster")
    on_cluster.add_argument("--chunk", type=whole_number(1, 10000), default=64, help="photos per task and per shard")
    on_cluster.set_defaults(run=cmd_caption_cluster)

    train = add_command("train", help="train a model on a data set folder (resumes if interrupted)")
    train.add_argument("--data", type=Path, required=True, help="data set folder (Flickr8k or image,caption CSV)")
    train.add_argument("--output", type=Path, required=True, help="model file to write (.captioner)")
    train.add_argument("--encoder", choices=sorted(ENCODERS), default=config.DEFAULT_ENCODER)
    train.add_argument("--decoder", choices=config.DECODER_TYPES, default=config.DEFAULT_DECODER)
    train.add_argument("--epochs", type=int, default=config.EPOCHS)
    train.add_argument("--batch-size", type=int, default=config.BATCH_SIZE)
    train.add_argument("--learning-rate", type=float, default=config.LEARNING_RATE)
    train.add_argument("--sampled-words", type=int, default=config.SAMPLED_WORDS,
                       help="words the training loss compares each true word with (sampled softmax; 0: all)")
    train.add_argument("--units", type=int, default=config.DECODER_UNITS)
    train.add_argument("--dropout", type=float, default=config.DROPOUT)
    train.add_argument("--self-critical-epochs", type=float, default=config.SELF_CRITICAL_EPOCHS,
                       help="passes of self-critical fine-tuning after training (0: none)")
    train.add_argument("--max-train-photos", type=whole_number(10, 10**9),
                       help="use only this many training photos (quick runs)")
    train.add_argument("--run-dir", type=Path, help="checkpoint folder (default: in the user data folder)")
    train.add_argument("--encoder-weights", type=Path, help=weights_help)
    train.set_defaults(run=cmd_train)

    evaluate = add_command("evaluate", help="BLEU-1..4 and CIDEr of a model on a data set split")
    evaluate.add_argument("--model", type=Path, default=config.active_model_path(),
                          help="model file (default: the app's active model, else the shipped one)")
    evaluate.add_argument("--data", type=Path, required=True)
    evaluate.add_argument("--split", choices=["train", "dev", "test"], default="test")
    evaluate.add_argument("--beam", type=whole_number(1, 20), default=config.BEAM_WIDTH)
    evaluate.add_argument("--encoder-weights", type=Path, help=weights_help)
    evaluate.set_defaults(run=cmd_evaluate)

    features = add_command("features", help="extract and cache encoder features of a data set")
    features.add_argument("--data", type=Path, required=True)
    features.add_argument("--encoder", choices=sorted(ENCODERS), default=config.DEFAULT_ENCODER)
    features.add_argument("--splits", nargs="+", choices=["train", "dev", "test"], default=["train", "dev", "test"])
    features.add_argument("--encoder-weights", type=Path, help=weights_help)
    features.set_defaults(run=cmd_features)
    ensemble = add_command("ensemble", help="combine models trained on one vocabulary into one file")
    ensemble.add_argument("--output", type=Path, required=True)
    ensemble.add_argument("models", nargs="+", type=Path)
    ensemble.set_defaults(run=cmd_ensemble)

    calibrate = add_command("calibrate", help="fit a model's confidence on a data set's dev split")
    calibrate.add_argument("--model", type=Path, required=True, help="model file to calibrate (rewritten)")
    calibrate.add_argument("--data", type=Path, required=True, help="data set folder with a dev split")
    calibrate.add_argument("--beam", type=whole_number(1, 20), default=config.BEAM_WIDTH)
    calibrate.set_defaults(run=cmd_calibrate)
    return parser


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"warning: {message}" if record.levelno >= logging.WARNING else message


def show_reports() -> None:
    """The pipeline's reports on stderr: what a data set holds before work starts, and warnings (an
    unreadable photo, a damaged file set aside) one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    logger = logging.getLogger("ml")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    silence_native_stderr()
    show_reports()
    try:
        return args.run(args)
    except Cancelled:
        print("cancelled; finished work is kept, run the same command again to resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped reading (`| head`): it has what it wanted, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return EXIT_OK
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: one line here, the traceback in the log
        log_file = log_traceback(error)
        print(f"error: unexpected {type(error).__name__}: {error} (a bug; details in {log_file})", file=sys.stderr)
        if os.environ.get("IMAGE_CAPTIONER_DEBUG") == "1":
            traceback.print_exception(error, file=sys.stderr)
        return EXIT_BUG


def log_traceback(error: BaseException) -> str:
    """Append the error's traceback to cli.log in the user log folder; returns where it went."""
    log_file = config.user_log_dir() / "cli.log"
    text = "".join(traceback.format_exception(error))
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a", encoding="utf-8") as log:
            log.write(f"python -m ml {' '.join(sys.argv[1:])}\n{text}\n")
    except OSError:
        return "nowhere: the log folder is not writable; set IMAGE_CAPTIONER_DEBUG=1 to see it"
    return str(log_file)


if __name__ == "__main__":
    sys.exit(main())
