"""What training on a sample costs: validation accuracy against the number of training texts, 3 seeds each.

    python bench/sample_size.py --json bench/sample-size-results.json      # every missing run, in turn
    python bench/sample_size.py --json bench/sample-size-results.json --size 500 --seed 0   # one run
    python bench/sample_size.py --quick                                     # a smoke run

Notebook 05 trains on a stratified, seeded sample of the training rows (torchnlp.training_sample; its size
depends on the device, torchnlp.train_samples). This benchmark measures what a smaller sample costs. Every run
is one of bench/heads.py's, with the default head: the device's sample is split 90/10 as in notebook 05
(torchnlp.validation_split, seed 0), and the validation part stays fixed, so that every size is measured on
the same texts; the training part is cut to SIZE rows with torchnlp.training_sample (seed = the run's seed, so
the spread over seeds includes the choice of texts), then fine-tuned at notebook 05's budget (3 epochs, batch
16, AdamW 5e-5 with 6% warmup and linear decay, truncation at 128). At the largest size (the whole training
part) the runs are bench/heads.py's runs of the same head and seeds, which its results file holds already: they
are read from bench/heads-results.json when its settings match, not trained again. With --json, each finished run
is written at once and a rerun skips the runs already there (same settings); one run takes at most a few
minutes on 2 cores, so that a shared machine can interleave other work between runs.
"""
import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402
import heads  # noqa: E402

import torchnlp  # noqa: E402

SIZES = (500, 1500)  # plus the whole training part
SEEDS = (0, 1, 2)
HEADS_RESULTS = Path(__file__).resolve().parent / "heads-results.json"


def from_heads_bench(settings, full_size):
    """bench/heads.py's runs of the default head, when they used exactly these settings; else []."""
    if not HEADS_RESULTS.exists():
        return []
    saved = json.loads(HEADS_RESULTS.read_text())
    same = saved.get("settings") == {"quick": settings["quick"], "rows": [full_size, *settings["rows"][1:]],
                                     "epochs": settings["epochs"], "batch_size": settings["batch_size"],
                                     "lr": settings["lr"]}
    if not same:
        return []
    return [{**run, "size": full_size, "source": "bench/heads.py"} for run in saved.get("runs", [])
            if run["head"] == settings["head"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="write (and resume from) the results here")
    parser.add_argument("--size", type=int, help="run only this sample size (with --seed)")
    parser.add_argument("--seed", type=int, help="run only this seed (with --size)")
    args = parser.parse_args()
    if (args.size is None) != (args.seed is None):
        parser.error("--size and --seed go together")
    from transformers import AutoTokenizer

    train, test, _ = common.header("Sample size: validation accuracy against the number of training texts")
    # The device's sample, as notebook 05 takes it (every row of the offline variant), then its 90/10 split
    sample = torchnlp.training_sample(train, torchnlp.train_samples(), seed=0)
    train_part, validation_part = torchnlp.validation_split(sample, fraction=0.1, seed=0)
    config = torchnlp.TrainConfig(epochs=1 if args.quick else 3, batch_size=16, lr=5e-5, seed=0)
    sizes, seeds = ((64, 128), (0,)) if args.quick else (SIZES, SEEDS)
    if args.quick:
        train_part, validation_part, test = train_part[::20], validation_part[::10], test[::25]
    full_size = len(train_part)
    sizes = sorted({*(s for s in sizes if s < full_size), full_size})
    head = torchnlp.DEFAULT_HEAD
    settings = {"quick": args.quick, "variant": torchnlp.describe_variant(torchnlp.ensure_ag_news()),
                "rows": [full_size, len(validation_part), len(test)], "head": head, "epochs": config.epochs,
                "batch_size": config.batch_size, "lr": config.lr}
    print(f"split: {full_size:,} train / {len(validation_part):,} validation (stratified, seed 0) / {len(test):,} "
          f"test rows; sizes {', '.join(f'{s:,}' for s in sizes)}; {head} head; budget: {config.epochs} epochs, "
          f"batch {config.batch_size}, lr {config.lr}")

    saved = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    runs = saved.get("runs", []) if saved.get("settings") == settings else []
    if not any(r["size"] == full_size for r in runs):
        runs += from_heads_bench(settings, full_size)
    wanted = [(args.size, args.seed)] if args.size is not None else [(s, seed) for s in sizes for seed in seeds]
    tokenizer = None
    for size, seed in wanted:
        if any(r["size"] == size and r["seed"] == seed for r in runs):
            continue
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
            validation_features, test_features = (torchnlp.encode_for_bert(part, tokenizer, heads.MAX_SEQ_LEN)
                                                  for part in (validation_part, test))
        sample = torchnlp.training_sample(train_part, size, seed=seed)
        features = torchnlp.encode_for_bert(sample, tokenizer, heads.MAX_SEQ_LEN)
        result = heads.run(head, seed, features, validation_features, test_features,
                           dataclasses.replace(config, seed=seed))
        runs.append({**result, "size": len(sample), "source": "bench/sample_size.py"})
        print(f"  {len(sample):,} rows, seed {seed}: validation {result['validation']:.4f}, test "
              f"{result['test']:.4f}, {result['seconds']:.0f} s", file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(json.dumps({"settings": settings, "runs": runs}, indent=2) + "\n")

    print(f"{'rows':>7}{'seeds':>6}{'validation mean ± sd':>24}{'test mean ± sd':>20}{'train s':>9}")
    for size in sorted({r["size"] for r in runs}):
        mine = [r for r in runs if r["size"] == size]
        (v, v_sd), (t, t_sd) = (heads.summary([r[key] for r in mine]) for key in ("validation", "test"))
        seconds = statistics.mean(r["seconds"] for r in mine)
        print(f"{size:>7,}{len(mine):>6}{v:>16.4f} ± {v_sd:.4f}{t:>12.4f} ± {t_sd:.4f}{seconds:>9.0f}")
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, "runs": runs}, indent=2) + "\n")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
