"""Fine-tune BERT on AG News: notebook 05's training as a script, in one process or under torchrun.

    python finetune.py --epochs 3 --batch-size 16 --lr 5e-5
    torchrun --nproc_per_node 4 finetune.py --epochs 3 --batch-size 16 --lr 5e-5

Under torchrun each process trains a DistributedDataParallel replica on its share of every length-bucketed
batch (NCCL on GPUs, gloo on CPUs); rank 0 shows the progress bar, writes the checkpoints and prints the
test accuracy. Run the same command again to resume an interrupted run from --checkpoint-dir.

Every option is checked before anything loads: a bad one ends the script with status 2 and one line naming
the option, the value and what is allowed; a damaged model or data file ends it with status 1 and one line
naming the file and the fix.
"""
import argparse
import math
import os
from pathlib import Path

import torch

import torchnlp
from course import ag_news
from course.training import TrainConfig


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad option on one line, ``finetune.py: error: ...``, with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def ranged(kind, low, high=None):
    """An argparse type for an option that is not a ``TrainConfig`` field: a ``kind`` number from ``low`` up to
    ``high``."""
    word = "an integer" if kind is int else "a number"
    allowed = f"{word} from {low} to {high}" if high is not None else f"{word} at least {low}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be {allowed}") from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {allowed}")
        return value

    return parse


def sample_size(text):
    """An argparse type for --train-samples: a number of rows (at least 1), or 'all'."""
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be a number of rows (at least 1) or 'all'")
    return value


def folder(text):
    """An argparse type for a folder: a name, never empty (``Path("")`` would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name: name a folder (use . for the current one)")
    return Path(text)


def config_option(name, kind):
    """An argparse type for the ``TrainConfig`` field ``name``: parsed as ``kind``, allowed as TrainConfig allows."""
    allowed = f"{'an integer' if kind is int else 'a number'} {TrainConfig.RULES[name][2]}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be {allowed}") from None
        try:
            return TrainConfig.check(name, value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {allowed}") from None

    return parse


def build_parser():
    defaults = TrainConfig()  # the course's run
    parser = Parser(prog="finetune.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint folder or hub name (default: BERT_MODEL or bert/)")
    parser.add_argument("--data-dir", type=folder, default=None,
                        help="an existing AG News folder (default: data/ag_news, provisioned when missing)")
    parser.add_argument("--head", choices=sorted(torchnlp.HEADS), default=torchnlp.DEFAULT_HEAD,
                        help="classify from the [CLS] pooler (cls) or the mean of the token vectors (mean); "
                             "default %(default)s, chosen on a validation split (bench/heads.py)")
    parser.add_argument("--epochs", type=config_option("epochs", float), default=defaults.epochs,
                        help="at least 1 (fractions allowed)")
    parser.add_argument("--batch-size", type=config_option("batch_size", int), default=defaults.batch_size,
                        help="per process, >= 1")
    parser.add_argument("--lr", type=config_option("lr", float), default=defaults.lr, help="> 0")
    parser.add_argument("--max-length", type=ranged(int, 2), default=128,
                        help="2 to the model's max_position_embeddings (512 for bert/)")
    parser.add_argument("--checkpoint-dir", type=folder, default=torchnlp.CHECKPOINT_DIR / "finetune",
                        help="a new, empty or course checkpoint folder, writable")
    parser.add_argument("--save-every", type=config_option("save_every", int), default=defaults.save_every,
                        help="steps, >= 1")
    parser.add_argument("--seed", type=config_option("seed", int), default=defaults.seed)
    parser.add_argument("--train-samples", type=sample_size, default=None,
                        help="train on a stratified, seeded sample of this many training rows, or 'all' (default: "
                             "TRAIN_SAMPLES, else by device as in notebook 05: 6,000 on a CPU, 40,000 on a GPU); the "
                             "validation split is carved from the sample")
    parser.add_argument("--train-limit", type=ranged(int, 1), default=None, help="train on the first N rows only")
    parser.add_argument("--validation-fraction", type=ranged(float, 0, 0.5), default=0.1,
                        help="share of the training rows held out for validation, stratified (0 to 0.5; "
                             "default %(default)s, as in notebook 05)")
    parser.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    return parser


def parse_args(argv=None):
    """Parse and check every option before anything loads; a bad one exits with status 2 and one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    return args


def check_options(parser, args):
    """The checks that need the file system: the model's name and positions, the data and checkpoint folders."""
    if args.train_samples is None:
        try:
            torchnlp.train_samples("cpu")  # a TRAIN_SAMPLES that is no number of rows is refused here, not later
        except ValueError as error:
            parser.error(str(error))
    source = "--model" if args.model else "BERT_MODEL" if os.environ.get("BERT_MODEL") else "bert/"
    try:
        model = args.model or torchnlp.bert_model_path()
        config = torchnlp.model_config(model, "--model" if args.model else "BERT_MODEL")
    except torchnlp.DataError as error:
        parser.error(f"argument --model: {error}" if args.model else str(error))
    positions = config.get("max_position_embeddings")
    if positions and args.max_length > positions:
        parser.error(f"argument --max-length: {args.max_length} is out of range: must be an integer from 2 to "
                     f"{positions} (the max_position_embeddings of {source} {model})")
    if args.data_dir is not None:
        if not args.data_dir.exists():
            parser.error(f"argument --data-dir: {args.data_dir} does not exist (only the default, data/ag_news, is "
                         "created and provisioned): name the folder that holds train.csv, test.csv and classes.txt")
        if not args.data_dir.is_dir():
            parser.error(f"argument --data-dir: {args.data_dir} is a file, not a folder")
    elif not all((ag_news.DATA_DIR / name).exists() for name in ("train.csv", "test.csv")):
        try:
            torchnlp.check_writable_folder(ag_news.DATA_DIR, "data folder")
        except torchnlp.DataError as error:
            parser.error(str(error))
    try:
        torchnlp.check_checkpoint_dir(args.checkpoint_dir)
    except torchnlp.DataError as error:
        parser.error(f"argument --checkpoint-dir: {error}")
    args.model_name = model


def setup_distributed():
    """Join the process group that torchrun describes in the environment; return (device, rank, world size)."""
    if "RANK" not in os.environ:
        return torchnlp.choose_device(), 0, 1
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    torch.distributed.init_process_group(backend)
    return device, torch.distributed.get_rank(), torch.distributed.get_world_size()


def load_tokenizer(args):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(args.model_name)
    except Exception as error:
        raise torchnlp.DataError(f"{'--model' if args.model else 'BERT_MODEL'}={args.model_name}: the tokenizer does "
                                 f"not load ({type(error).__name__}: {error})") from None


def load_model(args, classes, device):
    """A classifier with a new head, seeded: the head's initialisation is part of the run."""
    torchnlp.set_seed(args.seed)
    try:
        return torchnlp.sequence_classifier(args.head, args.model_name, num_labels=len(classes)).to(device)
    except Exception as error:
        raise torchnlp.DataError(f"{'--model' if args.model else 'BERT_MODEL'}={args.model_name}: the model does "
                                 f"not load ({type(error).__name__}: {error})") from None


def run_settings(args, train_samples):
    """What defines this run besides TrainConfig and the model: the data (its variant and checksum) and the
    options that shape the training set."""
    data_dir = torchnlp.ensure_ag_news(args.data_dir)
    record = data_dir / ("manifest.json" if (data_dir / "manifest.json").exists() else "train.csv")
    return {"data": f"{torchnlp.describe_variant(data_dir)}, {record.name} sha256 {torchnlp.file_digest(record)}",
            "train_samples": train_samples, "train_limit": args.train_limit, "max_length": args.max_length,
            "validation_fraction": args.validation_fraction}


def evaluate(model, tokenizer, collate, splits, args, device):
    """Print the accuracy on each non-empty split of ``splits`` (name, dataset)."""
    variant = torchnlp.describe_variant(torchnlp.ensure_ag_news(args.data_dir))
    for split, dataset in splits:
        if dataset:
            features = torchnlp.encode_for_bert(dataset, tokenizer, args.max_length)
            predictions = torchnlp.predict(model, features, collate, device=device).argmax(1)
            labels = torch.tensor([label for label, _ in dataset])
            print(f"{split} accuracy: {(predictions == labels).float().mean():.4f} on {len(labels):,} rows "
                  f"({variant})")


def train(args, device, rank):
    """Load the data and the model, fine-tune (resuming from --checkpoint-dir), evaluate on rank 0."""
    tokenizer = load_tokenizer(args)
    train_dataset, test_dataset, classes, _ = torchnlp.load_dataset(args.data_dir, verbose=rank == 0)
    # notebook 05's policy: a sample of the training rows sized for the device (every row of the offline variant)
    samples = args.train_samples if args.train_samples is not None else torchnlp.train_samples(device)
    samples = None if samples == "all" else samples
    train_dataset = torchnlp.training_sample(train_dataset, samples, seed=0)
    validation_dataset = []
    if args.validation_fraction > 0:
        train_dataset, validation_dataset = torchnlp.validation_split(train_dataset, args.validation_fraction)
    train_features = torchnlp.encode_for_bert(train_dataset[: args.train_limit], tokenizer, args.max_length)
    model = load_model(args, classes, device)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         save_every=args.save_every)
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    torchnlp.fine_tune(model, train_features, config, collate=collate, tokenizer=tokenizer,
                       checkpoint_dir=args.checkpoint_dir, device=device,
                       log=print if rank == 0 else lambda *_: None, run=run_settings(args, samples))
    if rank == 0 and not args.no_eval:
        evaluate(model, tokenizer, collate, (("validation", validation_dataset), ("test", test_dataset)), args,
                 device)
    return model


def main(argv=None):
    from transformers.utils import logging as transformers_logging

    args = parse_args(argv)
    try:
        # The weights before anything loads them: bert/ by its checksum, like provisioning; others by header.
        if Path(args.model_name).expanduser().is_dir():
            torchnlp.verify_model_folder(args.model_name, "--model" if args.model else "BERT_MODEL")
    except torchnlp.DataError as error:
        raise SystemExit(f"finetune.py: error: {error}") from None
    device, rank, world = setup_distributed()
    finished = False
    if rank != 0:
        transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        model = train(args, device, rank)
        finished = True
        return model
    except torchnlp.DataError as error:  # a damaged file, a checkpoint in use or from other settings: one line
        raise SystemExit(f"finetune.py: error: {error}") from None
    finally:
        # Only a run that ended normally tears the process group down. After an interrupt, gloo may still hold
        # work whose clean-up needs the interpreter lock that destroy_process_group keeps while it waits for
        # that clean-up: a deadlock, seen in the resume test. The process is ending anyway; torchrun reaps it.
        if world > 1 and finished:
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
