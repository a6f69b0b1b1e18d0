"""Evaluation throughput over the whole test split: the lesson's evaluation against the project's.

    python bench/evaluation.py           # about 2 minutes on 2 cores
    python bench/evaluation.py --quick   # a smoke run

(a) the lesson's way: batches of 8 in file order, padded to the longest, autograd left on (no no_grad);
    the attention mask is passed, unlike in the lesson, so that both give the same predictions and the
    timing compares the evaluation loops alone;
(b) the project's way: torchnlp.predict, inference mode, length-bucketed batches of 64.
Uses the fine-tuned checkpoint of notebook 05 if there is one, else the pre-trained model with a new head.
The predictions are asserted identical. Rounds alternate A B; figures are medians.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402

import torchnlp  # noqa: E402


def lesson_predictions(model, test, collate):
    loader = torch.utils.data.DataLoader(test, batch_size=8, collate_fn=collate)
    predictions = []
    for _labels, ids in loader:
        out = model(ids, attention_mask=(ids != 0).long())
        predictions.append(out.logits.argmax(-1))
    return torch.cat(predictions)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from transformers import AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    _, test, _ = common.header("Evaluation throughput: lesson evaluation vs project evaluation")
    checkpoint = torchnlp.CHECKPOINT_DIR / "bert-ag-news"
    if torchnlp.latest_checkpoint(checkpoint) is not None:
        model, tokenizer, _ = torchnlp.load_fine_tuned(checkpoint)
        print(f"weights: fine-tuned, {checkpoint}")
    else:
        torchnlp.set_seed(0)
        model = torchnlp.sequence_classifier(torchnlp.DEFAULT_HEAD, num_labels=4)
        tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
        print("weights: pre-trained with a new head (run notebook 05 for the fine-tuned ones)")
    model.eval()
    test = test[:64] if args.quick else test
    rounds = 1 if args.quick else 3
    features = torchnlp.encode_for_bert(test, tokenizer, 128)
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    lesson_collate = common.lesson_pad_bert(tokenizer)
    seconds = {"lesson": [], "project": []}
    for _ in range(rounds):
        start = time.perf_counter()
        a = lesson_predictions(model, test, lesson_collate)
        seconds["lesson"].append(time.perf_counter() - start)
        start = time.perf_counter()
        b = torchnlp.predict(model, features, collate, batch_size=64).argmax(1)
        seconds["project"].append(time.perf_counter() - start)
        assert torch.equal(a, b), f"{(a != b).sum()} predictions differ"
    print(f"{len(test):,} test rows, {rounds} round(s); predictions identical: yes")
    print(f"{'evaluation':<11}{'seconds':>9}{'samples/s':>11}")
    for name, values in seconds.items():
        print(f"{name:<11}{common.median(values):>9.1f}{len(test) / common.median(values):>11.1f}")
    print(f"ratio project / lesson: {common.median(seconds['lesson']) / common.median(seconds['project']):.2f}x")
    print(f"peak RSS of this process: {common.peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
