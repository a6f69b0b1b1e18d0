"""Inference on a CPU: the lesson's evaluation against the levers a practitioner reaches for, side by side.

    python bench/inference.py           # about 10 minutes on 2 cores
    python bench/inference.py --quick   # a smoke run (64 rows, no torch.compile)

Every way classifies the whole test split with the fine-tuned checkpoint of notebook 05 (else the
pre-trained model with a new head, and the accuracies mean nothing). Each way runs in a process of its own,
so that its peak resident memory is its own and one way's thread setting or compiled code cannot leak into
the next; the model is loaded, one warm-up pass runs, then the timed passes (figures are medians).

    lesson         batches of 8 in file order, autograd on (no no_grad), given the attention mask
    project        torchnlp.predict: inference_mode, length-bucketed batches of 64, fp32, SDPA attention
    batch 16/128   the same with smaller or larger bucketed batches
    eager          the same with the written-out ("eager") attention instead of SDPA
    compile        the same after torch.compile (dynamic shapes); compile time reported apart
    int8           Linear layers quantized to int8 (dynamic quantization: int8 weights, activations
                   quantized on the fly), via torchnlp.quantize_for_cpu
    ... 1 thread   the same on one thread instead of all cores

Agreement is the share of test rows whose predicted class equals the fp32 project way's. Then the latency a
learner feels when typing one headline (batch of 1, median and 95th percentile over 200 headlines), for
the lesson's way and the chosen way.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402

import torchnlp  # noqa: E402

WAYS = {  # name: (batch size, attention, compile, int8, threads or None for all)
    "lesson": (8, "sdpa", False, False, None),
    "project": (64, "sdpa", False, False, None),
    "project, batch 16": (16, "sdpa", False, False, None),
    "project, batch 128": (128, "sdpa", False, False, None),
    "project, eager attention": (64, "eager", False, False, None),
    "project, torch.compile": (64, "sdpa", True, False, None),
    "project, 1 thread": (64, "sdpa", False, False, 1),
    "int8": (64, "sdpa", False, True, None),
    "int8, batch 16": (16, "sdpa", False, True, None),
    "int8, 1 thread": (64, "sdpa", False, True, 1),
}
QUICK_WAYS = ["lesson", "project", "project, eager attention", "int8", "int8, 1 thread"]


def load(attention):
    from transformers import AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    checkpoint = torchnlp.CHECKPOINT_DIR / "bert-ag-news"
    latest = torchnlp.latest_checkpoint(checkpoint)  # verified against its checksums
    if latest is not None:
        model = torchnlp.classifier_class(latest).from_pretrained(latest, attn_implementation=attention)
        return model.eval(), AutoTokenizer.from_pretrained(latest), f"fine-tuned, {checkpoint}"
    torchnlp.set_seed(0)
    model = torchnlp.sequence_classifier(torchnlp.DEFAULT_HEAD, num_labels=4, attn_implementation=attention)
    return (model.eval(), AutoTokenizer.from_pretrained(torchnlp.bert_model_path()),
            "pre-trained with a new head (run notebook 05 for the fine-tuned ones; accuracies mean nothing)")


def lesson_predict(model, test, tokenizer):
    """The lesson's loop: file order, batches of 8, autograd on; given the mask so that answers compare."""
    loader = torch.utils.data.DataLoader(test, batch_size=8, collate_fn=common.lesson_pad_bert(tokenizer))
    predictions = []
    for _labels, ids in loader:
        predictions.append(model(ids[:, :512], attention_mask=(ids[:, :512] != 0).long()).logits.argmax(-1))
    return torch.cat(predictions)


def measure(name, rows, rounds):
    """One way, in this process: seconds (median), accuracy, predictions, peak RSS."""
    batch_size, attention, compile_, int8, threads = WAYS[name]
    if threads:
        torch.set_num_threads(threads)
    _, test, _, _ = torchnlp.load_dataset(verbose=False)
    test = test[:rows]
    model, tokenizer, weights = load(attention)
    if int8:
        model = torchnlp.quantize_for_cpu(model)
    features = torchnlp.encode_for_bert(test, tokenizer, 128)
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    compile_seconds = None
    if compile_:
        model = torch.compile(model, dynamic=True)
    if name == "lesson":
        run = lambda: lesson_predict(model, test, tokenizer)  # noqa: E731
    else:
        run = lambda: torchnlp.predict(model, features, collate, batch_size=batch_size).argmax(1)  # noqa: E731
    start = time.perf_counter()
    run()  # warm-up; for torch.compile this pass compiles
    if compile_:
        compile_seconds = time.perf_counter() - start
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        predictions = run()
        seconds.append(time.perf_counter() - start)
    labels = torch.tensor([label for label, _ in test])
    return {"name": name, "seconds": statistics.median(seconds), "rows": len(test),
            "accuracy": (predictions == labels).float().mean().item(), "predictions": predictions.tolist(),
            "peak_rss_mib": common.peak_rss_mib(), "compile_seconds": compile_seconds,
            "threads": torch.get_num_threads(), "weights": weights}


def latency(name, headlines):
    """Per-headline latency in milliseconds, batch of 1: the lesson's way or the chosen (int8) way."""
    _, test, _, _ = torchnlp.load_dataset(verbose=False)
    model, tokenizer, _ = load("sdpa")
    if name != "lesson":
        model = torchnlp.quantize_for_cpu(model)
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    texts = [text for _, text in test[:headlines]]
    times = []
    for i, text in enumerate([texts[0]] * 5 + texts):
        start = time.perf_counter()
        if name == "lesson":
            ids = torch.tensor([tokenizer.encode(text)])
            model(ids).logits.argmax(-1)
        else:
            features = torchnlp.encode_for_bert([(0, text)], tokenizer, 128)
            torchnlp.predict(model, features, collate, batch_size=1)
        if i >= 5:  # the first five are warm-up
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"name": name, "median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


def in_subprocess(args):
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench/inference.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--way", help=argparse.SUPPRESS)  # internal: measure one way in this process
    parser.add_argument("--latency", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    if args.way:
        print(json.dumps(measure(args.way, args.rows, args.rounds)))
        return
    if args.latency:
        print(json.dumps(latency(args.latency, args.rows)))
        return

    _, test, _ = common.header("Inference on a CPU: the lesson's evaluation against the levers")
    rows, rounds, headlines = (64, 1, 20) if args.quick else (len(test), 2, 200)
    ways = QUICK_WAYS if args.quick else list(WAYS)
    results = {}
    for name in ways:
        results[name] = in_subprocess(["--way", name, "--rows", str(rows), "--rounds", str(rounds)])
        print(f"  measured {name}", file=sys.stderr, flush=True)
    reference = results["project"]["predictions"]
    lesson = results["lesson"]
    print(f"weights: {lesson['weights']}")
    print(f"{rows:,} test rows, {rounds} timed pass(es) per way after one warm-up, medians; each way in its own "
          f"process")
    print(f"{'way':<27}{'threads':>8}{'seconds':>9}{'samples/s':>11}{'speed-up':>10}{'peak RSS':>10}"
          f"{'accuracy':>10}{'agrees':>8}")
    for name, r in results.items():
        agreement = sum(a == b for a, b in zip(r["predictions"], reference)) / rows
        r["agreement"] = agreement
        r["speedup"] = lesson["seconds"] / r["seconds"]
        extra = f"   (compiling: {r['compile_seconds']:.0f} s)" if r["compile_seconds"] else ""
        print(f"{name:<27}{r['threads']:>8}{r['seconds']:>9.1f}{rows / r['seconds']:>11.1f}{r['speedup']:>9.2f}x"
              f"{r['peak_rss_mib']:>6.0f} MiB{r['accuracy']:>10.4f}{agreement:>8.1%}{extra}")
    # The chosen way: the fastest that loses at most 0.3 points of accuracy against the fp32 project way.
    allowed = [n for n, r in results.items() if r["accuracy"] >= results["project"]["accuracy"] - 0.003]
    chosen = min(allowed, key=lambda n: results[n]["seconds"])
    print(f"chosen: {chosen}, {results[chosen]['speedup']:.2f}x the lesson's way, accuracy "
          f"{results[chosen]['accuracy']:.4f} vs {results['project']['accuracy']:.4f} (fp32)")
    per_headline = {way: in_subprocess(["--latency", way, "--rows", str(headlines)]) for way in ("lesson", "int8")}
    print(f"per-headline latency, batch of 1, {headlines} headlines:")
    for way, r in per_headline.items():
        print(f"  {way:<8} median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms")
    print(f"peak RSS of this process: {common.peak_rss_mib():.0f} MiB")
    if args.json:
        for r in results.values():
            del r["predictions"]
        args.json.write_text(json.dumps({"rows": rows, "ways": results, "chosen": chosen,
                                         "latency": per_headline}, indent=2) + "\n")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
