"""Reference solution to the assignment (notebooks/08_assignment.ipynb): AG News topics from the title alone.

The lesson's assignment asks for the Hugging Face run scripts on another data set; this is the course's substitute,
which runs without a network and builds a new task from the data the course already has: the same four topics,
predicted from the headline's title only (the course's other notebooks read title and description joined).
Titles are short (median 11 WordPiece tokens, at most 33), so the task is harder and every step is cheaper.

    python solutions/assignment.py      # the quick budget the notebook quotes: 640 titles, 3 epochs

The functions are what the notebook's starter cells ask for; tests/test_exercises.py runs them on a tiny
slice with a tiny BERT.
"""
import csv
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: torchnlp sits in the repository root

import torchnlp  # noqa: E402

MAX_TITLE_LEN = 40  # WordPiece tokens: the longest title of the offline variant has 33, [CLS] and [SEP] included


# Notebook 05's quick budget: 640 texts (160 per class), 3 epochs, batch 16, lr 1e-4.
QUICK_CONFIG = torchnlp.TrainConfig(epochs=3, batch_size=16, lr=1e-4, warmup_ratio=0.06, weight_decay=0.01,
                                    max_grad_norm=1.0, seed=0, save_every=10_000, report_freq=10)


def build_title_dataset(dataset, split, data_dir=None):
    """``(label, title)`` for every ``(label, text)`` item of ``torchnlp.load_dataset``'s ``split``.

    ``load_dataset`` joins title and description into one text and the join cannot be undone reliably (a title
    may contain ". "), so the titles come from the same CSV rows, in the same order, cleaned the same way; each
    is checked against its item (same label, and the text starts with it).
    """
    path = torchnlp.ensure_ag_news(data_dir) / f"{split}.csv"
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    if len(rows) != len(dataset):
        raise ValueError(f"{path} has {len(rows)} rows but the {split} split has {len(dataset)} items: pass the "
                         f"{split} split of the same data")
    titles = []
    for i, ((label, text), row) in enumerate(zip(dataset, rows)):
        title = torchnlp.clean_text(row[1])
        if int(row[0]) - 1 != label or not text.startswith(title):
            raise ValueError(f"item {i} of the {split} split does not match row {i + 1} of {path}")
        if title:  # a row without a title has nothing to classify here (none in the offline variant)
            titles.append((label, title))
    return titles


def tokenize_titles(titles, tokenizer, max_length=MAX_TITLE_LEN):
    """Features for ``fine_tune`` and ``predict``: titles are short, so a small ``max_length`` loses nothing."""
    return torchnlp.encode_for_bert(titles, tokenizer, max_length)


def balanced_slice(items, per_class):
    """The first ``per_class`` items of every class, class by class (the quick budget of notebook 05)."""
    classes = sorted({item_label(item) for item in items})
    return [item for c in classes for item in [i for i in items if item_label(i) == c][:per_class]]


def item_label(item):
    return item["labels"] if isinstance(item, dict) else item[0]


def train_on_titles(features, tokenizer, config=QUICK_CONFIG, per_class=160, model=None, checkpoint_dir=None,
                    device=None, progress=True):
    """Fine-tune the course's BERT (or ``model``) on ``per_class`` title features of each class; return the model."""
    if per_class is not None:
        features = balanced_slice(features, per_class)
    if model is None:
        torchnlp.set_seed(config.seed)  # the new head's random initialisation is part of the run
        model = torchnlp.sequence_classifier(torchnlp.DEFAULT_HEAD, num_labels=4)
    device = device or torchnlp.choose_device()
    model.to(device)
    torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(tokenizer.pad_token_id),
                       tokenizer=tokenizer, checkpoint_dir=checkpoint_dir, device=device, progress=progress,
                       log=lambda *_: None)
    return model


def course_pad_token_id():
    """The pad id of the course's tokenizer (the checkpoint's, as notebooks 03-04 read it; never assumed to be 0)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(torchnlp.bert_model_path()).pad_token_id


def evaluate_titles(model, features, pad_token_id=None, batch_size=64):
    """Accuracy of ``model`` on ``features``, as a float. Batches are padded with ``pad_token_id``, by default the
    course tokenizer's (notebooks 03-04: a vocabulary need not pad with 0); the notebook's two-argument call
    ``evaluate_titles(model, features)`` works as it is."""
    if pad_token_id is None:
        pad_token_id = course_pad_token_id()
    probabilities = torchnlp.predict(model, features, torchnlp.PaddingCollator(pad_token_id), batch_size=batch_size)
    labels = torch.tensor([f["labels"] for f in features])
    return (probabilities.argmax(1) == labels).float().mean().item()


def main():
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    start = time.perf_counter()
    train_dataset, test_dataset, classes, _ = torchnlp.load_dataset()
    tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
    train_titles = build_title_dataset(train_dataset, "train")
    test_titles = build_title_dataset(test_dataset, "test")
    train_features, test_features = tokenize_titles(train_titles, tokenizer), tokenize_titles(test_titles, tokenizer)
    model = train_on_titles(train_features, tokenizer, progress=False)
    trained = time.perf_counter() - start
    accuracy = evaluate_titles(model, test_features, tokenizer.pad_token_id)
    print(f"AG News ({torchnlp.describe_variant(torchnlp.DATA_DIR)}), titles only: trained on {4 * 160} titles "
          f"({QUICK_CONFIG.epochs} epochs, batch {QUICK_CONFIG.batch_size}, lr {QUICK_CONFIG.lr:g}) in "
          f"{trained:.0f} s on {torch.get_num_threads()} threads; test accuracy {accuracy:.4f} on "
          f"{len(test_features):,} titles; {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
