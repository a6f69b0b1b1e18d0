"""Test accuracy against training budget: fine-tuned BERT against TF-IDF + logistic regression.

    python bench/budget.py           # about 8 minutes on 2 cores
    python bench/budget.py --quick   # a smoke run

One fine-tuning run of 2 epochs (batch 16, AdamW 5e-5, warmup 6% and linear decay over the 2 epochs,
bucketed batches, truncation at 128) on the device's sample of the training rows (torchnlp.training_sample:
every row of the offline variant) is evaluated on the whole test split after 500, 1,000 and 2,000 samples,
after one epoch and at the end (2 epochs): the accuracy reached with that many samples seen, in the middle of
one schedule. The baseline is fitted on the first N rows of the sample (all of them for the larger budgets).
Writes bench/budget.png.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402

import torchnlp  # noqa: E402


def tfidf_accuracy(train, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2 if len(train) > 1000 else 1, sublinear_tf=True)
    X = vectorizer.fit_transform([t for _, t in train])
    classifier = LogisticRegression(C=10, max_iter=2000).fit(X, [label for label, _ in train])
    return (classifier.predict(vectorizer.transform([t for _, t in test])) == [label for label, _ in test]).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--head", choices=sorted(torchnlp.HEADS), default=torchnlp.DEFAULT_HEAD,
                        help="the classification head (default: %(default)s)")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from transformers import AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    train, test, _ = common.header("Accuracy against training budget")
    train = torchnlp.training_sample(train, torchnlp.train_samples(), seed=0)
    variant = torchnlp.describe_variant(torchnlp.ensure_ag_news())
    batch_size = 16
    if args.quick:
        train, test, budgets_samples = train[:64], test[:64], [32, 64]
    else:
        budgets_samples = [500, 1000, 2000, len(train), 2 * len(train)]
    tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
    features = torchnlp.encode_for_bert(train, tokenizer, 128)
    test_features = torchnlp.encode_for_bert(test, tokenizer, 128)
    labels = torch.tensor([label for label, _ in test])
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    torchnlp.set_seed(0)
    model = torchnlp.sequence_classifier(args.head)
    steps_per_epoch = len(torchnlp.LengthBucketSampler([len(f["input_ids"]) for f in features], batch_size))
    epochs = max(budgets_samples) / len(train)
    eval_steps = {max(1, round(n / batch_size)): n for n in budgets_samples}  # 500 samples: step 31 = 496
    config = torchnlp.TrainConfig(epochs=epochs, batch_size=batch_size, lr=5e-5, report_freq=10**9)

    bert_accuracy = {}

    def evaluate_at_budgets(step, model):
        if step in eval_steps:
            predictions = torchnlp.predict(model, test_features, collate).argmax(1)
            bert_accuracy[eval_steps[step]] = (predictions == labels).float().mean().item()

    torchnlp.fine_tune(model, features, config, collate=collate, progress=False, on_step=evaluate_at_budgets)
    print(f"{steps_per_epoch} steps per epoch of {len(train):,} samples, batch {batch_size}\n")
    print(f"{'samples seen':>13}{'BERT':>9}{'TF-IDF+LR':>11}")
    baseline = {}
    for n in budgets_samples:
        baseline[n] = tfidf_accuracy(train[:n], test)
        print(f"{n:>13,}{bert_accuracy[n]:>9.4f}{baseline[n]:>11.4f}")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(budgets_samples, [bert_accuracy[n] for n in budgets_samples], marker="o", label="fine-tuned BERT")
    ax.plot(budgets_samples, [baseline[n] for n in budgets_samples], marker="s", label="TF-IDF + logistic regression")
    ax.set_xscale("log")
    ax.set_xlabel("training samples seen")
    ax.set_ylabel(f"test accuracy ({len(test):,} rows)")
    ax.set_title(f"AG News, {variant}")
    ax.legend()
    fig.tight_layout()
    out = Path(__file__).resolve().parent / ("budget-quick.png" if args.quick else "budget.png")
    fig.savefig(out, dpi=100)
    print(f"plot: {out.relative_to(torchnlp.ROOT)}")


if __name__ == "__main__":
    main()
