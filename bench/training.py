"""Training throughput: the lesson's loop against the project's, and the project's achieved FLOP/s.

    python bench/training.py            # about 5 minutes on 2 cores
    python bench/training.py --quick    # a smoke run

(a) the lesson's loop as written: random batches of 8 padded with 0 to the longest, no truncation, no
    attention mask, Adam 2e-5, the loss summed as tensors (which keeps every step's autograd graph alive);
(b) the project's loop (torchnlp.fine_tune): length-bucketed batches of 16, masked collate truncated at 128,
    AdamW with warmup and decay, gradient clipping, loss accumulated as floats.
Same model, same number of samples. Each variant runs in its own process, so its peak resident memory is
its own; rounds alternate A B A B and the figures are medians over rounds.
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402

import torchnlp  # noqa: E402


def load_model(head):
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torchnlp.set_seed(0)
    return torchnlp.sequence_classifier(head)


def run_variant(variant, samples, head):
    """One timed run in this process; returns a dict of measurements."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
    train, _, _, _ = torchnlp.load_dataset(verbose=False)
    train = train[:samples]
    model = load_model(head)
    model.train()
    if variant == "lesson":
        loader = torch.utils.data.DataLoader(train, batch_size=8, shuffle=True,
                                             collate_fn=common.lesson_pad_bert(tokenizer),
                                             generator=torch.Generator().manual_seed(0))
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-5)
        tokens = sum(len(ids) for ids in tokenizer([t for _, t in train])["input_ids"])
        start = time.perf_counter()
        acc_loss = 0
        for labels, texts in loader:
            optimizer.zero_grad()
            loss = model(texts, labels=labels).loss
            loss.backward()
            optimizer.step()
            acc_loss += loss  # as the lesson wrote it: a tensor sum
        seconds = time.perf_counter() - start
        positions = None
    else:
        features = torchnlp.encode_for_bert(train, tokenizer, 128)
        tokens = sum(len(f["input_ids"]) for f in features)
        config = torchnlp.TrainConfig(epochs=1, batch_size=16, lr=5e-5, report_freq=10**9)
        positions = sum(len(b) * max(len(features[i]["input_ids"]) for i in b)
                        for b in torchnlp.LengthBucketSampler([len(f["input_ids"]) for f in features], 16))
        start = time.perf_counter()
        torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(tokenizer.pad_token_id),
                           progress=False)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "samples": len(train), "tokens": tokens, "positions": positions,
            "peak_rss_mib": common.peak_rss_mib(), "config": model.config.to_dict()}


def matmul_flops(size=2048, repeats=5):
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def training_flops_per_position(config, length):
    """Matmul FLOPs to train on one position of a sequence of ``length`` tokens: 3 x the forward FLOPs
    (the backward pass costs about twice the forward). Per layer and position the forward does the Q, K, V
    and output projections (4 d^2 multiply-adds), the feed-forward network (2 d d_ff), and the attention
    scores and weighted values (2 length d); a multiply-add is 2 FLOPs. Embeddings, softmax, layer norms
    and the pooler/classifier (once per sequence) are left out."""
    d, d_ff, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return 3 * 2 * layers * (4 * d * d + 2 * d * d_ff + 2 * length * d)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variant", choices=["lesson", "project"], help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--head", choices=sorted(torchnlp.HEADS), default=torchnlp.DEFAULT_HEAD,
                        help="the classification head (default: %(default)s)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.samples, args.head)))
        return

    common.header("Training throughput: lesson loop vs project loop")
    samples, rounds = (32, 1) if args.quick else (480, 3)
    print(f"{samples} training samples per run, {rounds} round(s) of A B\n")
    runs = {"lesson": [], "project": []}
    for _ in range(rounds):
        for variant in runs:
            out = subprocess.run([sys.executable, __file__, "--variant", variant, "--samples", str(samples),
                                  "--head", args.head],
                                 check=True, capture_output=True, text=True).stdout
            runs[variant].append(json.loads(out.strip().splitlines()[-1]))
    rate = {}
    print(f"{'loop':<9}{'samples/s':>10}{'tokens/s':>10}{'peak RSS MiB':>14}")
    for variant, results in runs.items():
        seconds = common.median([r["seconds"] for r in results])
        rate[variant] = samples / seconds
        tokens = results[0]["tokens"]
        rss = common.median([r["peak_rss_mib"] for r in results])
        print(f"{variant:<9}{rate[variant]:>10.2f}{tokens / seconds:>10.0f}{rss:>14.0f}")
    print(f"ratio project / lesson: {rate['project'] / rate['lesson']:.2f}x samples/s")

    project = runs["project"][0]
    config = project["config"]
    mean_length = project["positions"] / samples
    flops = training_flops_per_position(config, mean_length) * project["positions"]
    achieved = flops / common.median([r["seconds"] for r in runs["project"]])
    peak = matmul_flops()
    print(f"\nproject loop: {project['positions']:,} positions computed (mean padded length {mean_length:.1f}), "
          f"{training_flops_per_position(config, mean_length) / 1e6:.1f} MFLOP per position to train")
    print(f"achieved {achieved / 1e9:.1f} GFLOP/s; a 2048x2048 fp32 matmul reaches {peak / 1e9:.1f} GFLOP/s "
          f"on {torch.get_num_threads()} threads; ratio {achieved / peak:.1%}")


if __name__ == "__main__":
    main()
