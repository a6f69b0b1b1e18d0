"""Which head fits the checkpoint: the [CLS] pooler against mean pooling, 3 seeds each, chosen on validation.

    python bench/heads.py --json bench/heads-results.json   # about 50 minutes on 2 cores
    python bench/heads.py --quick                           # a smoke run

Each run fine-tunes the checkpoint in bert/ at notebook 05's budget (3 epochs, batch 16, AdamW 5e-5 with 6%
warmup and linear decay, truncation at 128) on the training part of a stratified 90/10 split of the device's
sample of the training rows (torchnlp.training_sample, every row of the offline variant; torchnlp.validation_split,
seed 0), and reports accuracy on the validation part after every epoch and on
the test split once, at the end. The head is chosen by mean validation accuracy (a tie goes to the head
whose seeds spread less on validation); the test figures are reported, never used to choose. With --json,
each finished run is written at once and a rerun skips the runs already there (same settings), so an
interrupted benchmark loses one run at most.
"""
import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402

import torchnlp  # noqa: E402

MAX_SEQ_LEN = 128


def accuracy(model, features):
    collate = torchnlp.PaddingCollator(0)
    predictions = torchnlp.predict(model, features, collate).argmax(1)
    return (predictions == torch.tensor([f["labels"] for f in features])).float().mean().item()


def run(head, seed, train_features, validation_features, test_features, config):
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torchnlp.set_seed(seed)
    model = torchnlp.sequence_classifier(head)
    steps_per_epoch = len(torchnlp.LengthBucketSampler([len(f["input_ids"]) for f in train_features],
                                                       config.batch_size))
    validation = []

    def after_step(step, model):
        if step % steps_per_epoch == 0:
            validation.append(accuracy(model, validation_features))

    start = time.perf_counter()
    torchnlp.fine_tune(model, train_features, config, collate=torchnlp.PaddingCollator(0), progress=False,
                       log=lambda *_: None, on_step=after_step)
    seconds = time.perf_counter() - start
    return {"head": head, "seed": seed, "validation_by_epoch": validation, "validation": validation[-1],
            "test": accuracy(model, test_features), "seconds": seconds}


def choose(validation):
    """The head with the higher mean validation accuracy; on a tie (equal to 6 decimals: the same number of
    validation texts right), the one whose seeds spread less on validation. Test figures are never read."""
    return max(validation, key=lambda head: (round(validation[head][0], 6), -validation[head][1]))


def summary(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="write (and resume from) the results here")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    train, test, _ = common.header("Heads: the [CLS] pooler against mean pooling, on a validation split")
    sample = torchnlp.training_sample(train, torchnlp.train_samples(), seed=0)  # as notebook 05 takes it
    train_part, validation_part = torchnlp.validation_split(sample, fraction=0.1, seed=0)
    seeds = (0, 1) if args.quick else (0, 1, 2)
    config = torchnlp.TrainConfig(epochs=1 if args.quick else 3, batch_size=16, lr=5e-5, seed=0)
    if args.quick:
        train_part, validation_part, test = train_part[::60], validation_part[::10], test[::25]
    tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
    features = [torchnlp.encode_for_bert(part, tokenizer, MAX_SEQ_LEN) for part in (train_part, validation_part, test)]
    print(f"split: {len(train_part):,} train / {len(validation_part):,} validation (stratified, seed 0) / "
          f"{len(test):,} test rows; budget: {config.epochs} epochs, batch {config.batch_size}, lr {config.lr}")

    settings = {"quick": args.quick, "rows": [len(train_part), len(validation_part), len(test)],
                "epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr}
    saved = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    runs = saved.get("runs", []) if saved.get("settings") == settings else []
    for seed in seeds:  # seed-major, so that a partial run already compares the heads
        for head in ("cls", "mean"):
            if any(r["head"] == head and r["seed"] == seed for r in runs):
                continue
            runs.append(run(head, seed, *features, dataclasses.replace(config, seed=seed)))
            print(f"  {head} seed {seed}: validation {runs[-1]['validation']:.4f}, test {runs[-1]['test']:.4f}, "
                  f"{runs[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps({"settings": settings, "runs": runs}, indent=2) + "\n")

    print(f"{'head':<6}{'seed':>5}{'validation by epoch':>26}{'test':>8}{'seconds':>9}")
    for r in runs:
        by_epoch = " ".join(f"{v:.4f}" for v in r["validation_by_epoch"])
        print(f"{r['head']:<6}{r['seed']:>5}{by_epoch:>26}{r['test']:>8.4f}{r['seconds']:>9.0f}")
    print(f"{'head':<6}{'validation mean ± sd':>24}{'test mean ± sd':>20}   ({len(seeds)} seeds)")
    validation = {}
    for head in ("cls", "mean"):
        mine = [r for r in runs if r["head"] == head]
        (v, v_sd), (t, t_sd) = summary([r["validation"] for r in mine]), summary([r["test"] for r in mine])
        validation[head] = v, v_sd
        print(f"{head:<6}{v:>16.4f} ± {v_sd:.4f}{t:>12.4f} ± {t_sd:.4f}")
    chosen = choose(validation)
    print(f"chosen on validation: {chosen}")
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, "runs": runs, "chosen": chosen}, indent=2) + "\n")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
