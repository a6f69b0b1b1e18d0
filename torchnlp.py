"""The lesson's own helpers, shared by the Attention & Transformers notebooks.

What the notebooks teach and then reuse: a basic-English tokenizer, a vocabulary with ``<pad>`` and ``<unk>``,
AG News as ``(label, text)`` items with a stratified validation split, the collates ``padify`` and
``offsetify`` for the classic (non-BERT) models, ``masked_softmax``, ``positional_encoding``,
``plot_attention``, the notebooks' self-check ``expect`` and notebook 02's results.

The machinery below it (files and checksums, AG News on disk, the BERT checkpoint, checkpoints, training) lives
in the ``course`` package, one concern per module; the names the notebooks call are re-exported at the end of
this file, so a notebook needs only ``import torchnlp``.

Run ``python -m torchnlp provision`` to provision data and model from the command line.
"""
from __future__ import annotations

import collections
import json
import math
import os
import random
import re
import sys

import torch

from course.ag_news import ensure_ag_news, read_ag_news_csv, read_classes, unknown_counts_warning
from course.bert import ensure_bert
from course.checkpoints import CHECKPOINT_DIR
from course.files import DataError

#: One switch shrinks every notebook's training for CI; the stored outputs come from a full run.
QUICK = os.environ.get("COURSE_QUICK", "") not in ("", "0")

PAD, UNK = "<pad>", "<unk>"
PAD_IDX, UNK_IDX = 0, 1


# ---------------------------------------------------------------------------------------------------------
# Tokens and vocabulary
# ---------------------------------------------------------------------------------------------------------

_BASIC_ENGLISH = [(re.compile(p), r) for p, r in [
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "), (r"\(", " ( "),
    (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "), (r"\:", " "), (r"\s+", " "),
]]


def tokenize(text):
    """torchtext's ``basic_english`` tokenizer: lower-case, split punctuation off, split on whitespace."""
    text = text.lower()
    for pattern, replacement in _BASIC_ENGLISH:
        text = pattern.sub(replacement, text)
    return text.split()


def with_ngrams(tokens, ngrams=1):
    """The tokens followed by their 2..n-grams, each n-gram joined with spaces (as torchtext did)."""
    out = list(tokens)
    for n in range(2, ngrams + 1):
        out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return out


class Vocab:
    """Token <-> index maps with ``<pad>`` = 0 and ``<unk>`` = 1; unknown tokens map to ``<unk>``."""

    def __init__(self, counter, min_freq=1):
        kept = sorted((t for t, c in counter.items() if c >= min_freq and t not in (PAD, UNK)),
                      key=lambda t: (-counter[t], t))  # frequency, then token: deterministic
        self._itos = [PAD, UNK, *kept]
        self._stoi = {t: i for i, t in enumerate(self._itos)}

    def __len__(self):
        return len(self._itos)

    def __getitem__(self, token):
        return self._stoi.get(token, UNK_IDX)

    def __contains__(self, token):
        return token in self._stoi

    def lookup_indices(self, tokens):
        return [self[t] for t in tokens]

    def lookup_tokens(self, ids):
        return [self._itos[int(i)] for i in ids]

    def get_itos(self):
        return list(self._itos)


def build_vocab(texts, ngrams=1, min_freq=1):
    counter = collections.Counter()
    for text in texts:
        counter.update(with_ngrams(tokenize(text), ngrams))
    return Vocab(counter, min_freq=min_freq)


#: The variant the stored outputs come from: the bounds that the notebooks' checks hold a run to were set on it.
STORED_VARIANT = "offline variant"


def stored_run_data(data_dir=None):
    """Whether the data in use is the stored run's variant. On other data the notebooks' checks against the
    stored run's bounds print a note instead of failing (``expect(..., course_settings=False)``)."""
    return describe_variant(data_dir or DATA_DIR) == STORED_VARIANT


def variant_label(variant=None):
    """Which AG News a figure comes from, in the course's language: ``variant`` as ``describe_variant`` names
    it, by default that of the data folder in use (``data/ag_news``, or ``AG_NEWS_DIR``)."""
    variant = variant or describe_variant(DATA_DIR)
    return {"offline variant": tr("offline variant"), "official release": tr("official release"),
            "unverified copy": tr("unverified copy")}[variant]


def load_dataset(data_dir=None, ngrams=1, min_freq=1, verbose=True):
    """AG News as ``(train_dataset, test_dataset, classes, vocab)``.

    Items are ``(label, text)`` with labels 0..3 indexing ``classes``; the vocabulary comes from the
    training split only.
    """
    data_dir = ensure_ag_news(data_dir)
    train = read_ag_news_csv(data_dir / "train.csv")
    test = read_ag_news_csv(data_dir / "test.csv")
    classes = read_classes(data_dir)  # classes.txt, or AG News's four where there is none (the Kaggle copy)
    vocab = build_vocab((text for _, text in train), ngrams=ngrams, min_freq=min_freq)
    if verbose:
        print(tr("AG News ({variant}): {train:,} train / {test:,} test rows, {classes} classes; vocabulary of "
                 "{tokens:,} tokens", variant=variant_label(describe_variant(data_dir)), train=len(train),
                 test=len(test), classes=len(classes), tokens=len(vocab)))
    return train, test, classes, vocab


def validation_split(dataset, fraction=0.1, seed=0):
    """Split ``(label, text)`` items into (train, validation), stratified by label and seeded.

    Every choice (head, learning rate, epochs) is made on the validation part; the test split is read once.
    """
    by_label = collections.defaultdict(list)
    for i, (label, _) in enumerate(dataset):
        by_label[label].append(i)
    rng = random.Random(seed)
    held_out = set()
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        held_out.update(indices[:round(fraction * len(indices))])
    return ([item for i, item in enumerate(dataset) if i not in held_out],
            [item for i, item in enumerate(dataset) if i in held_out])


#: How many training rows notebooks 02, 05 and 06, finetune.py and the benchmarks train on by default. On a CPU,
#: a sample whose 3 epochs notebook 05 trains in minutes on 2 cores: every row of the offline variant (5,200),
#: 6,000 of the official release's 120,000 (5,400 after the validation split: 1,014 steps of 16, about 0.45 s
#: each). On a GPU, 40,000 rows: 6,750 steps for 3 epochs, minutes on a current GPU, with most of the accuracy
#: that all 120,000 rows would give. ``TRAIN_SAMPLES`` in the environment (a number, or ``all``) overrides both.
TRAIN_SAMPLES_BY_DEVICE = {"cpu": 6_000, "accelerator": 40_000}


def train_samples(device=None):
    """The number of training rows to sample for ``device`` (None: every row), from ``TRAIN_SAMPLES`` when set.

    ``TRAIN_SAMPLES=all`` means every row; a number means that many (at most every row).
    """
    setting = os.environ.get("TRAIN_SAMPLES", "").strip()
    if setting:
        if setting.lower() == "all":
            return None
        try:
            value = int(setting.replace(",", "").replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"TRAIN_SAMPLES={setting!r}: must be a number of training rows (at least 1) or 'all'")
        return value
    device = torch.device(device) if device is not None else choose_device()
    return TRAIN_SAMPLES_BY_DEVICE["cpu" if device.type == "cpu" else "accelerator"]


def training_sample(dataset, size=None, seed=0):
    """``size`` of the ``(label, text)`` items, stratified by label and seeded, in their original order.

    With ``size`` None, or at least the number of items, every item is kept (a new list, same order), so a
    variant smaller than the sample trains on all its rows exactly as before. Each label keeps its share of the
    items (largest remainders round), so a balanced dataset gives a balanced sample.
    """
    if size is None or size >= len(dataset):
        return list(dataset)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"sample size {size!r}: must be a whole number of rows, at least 1 (or None for all)")
    by_label = collections.defaultdict(list)
    for i, (label, _) in enumerate(dataset):
        by_label[label].append(i)
    shares = {label: size * len(indices) / len(dataset) for label, indices in by_label.items()}
    counts = {label: math.floor(share) for label, share in shares.items()}
    for label in sorted(shares, key=lambda label: (counts[label] - shares[label], label))[:size - sum(counts.values())]:
        counts[label] += 1
    rng = random.Random(seed)
    chosen = []
    for label in sorted(by_label):
        chosen += rng.sample(by_label[label], counts[label])
    return [dataset[i] for i in sorted(chosen)]


# ---------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------
# Collates for the classic models
# ---------------------------------------------------------------------------------------------------------

def encode(text, vocab, ngrams=1):
    return vocab.lookup_indices(with_ngrams(tokenize(text), ngrams))


def padify(batch, vocab, ngrams=1, max_len=None):
    """Collate ``(label, text)`` items into ``(labels, ids)``, ids padded with ``<pad>`` (0) to the longest.

    The padding mask is ``ids != PAD_IDX``.
    """
    encoded = [torch.tensor(encode(text, vocab, ngrams)[:max_len], dtype=torch.long) for _, text in batch]
    labels = torch.tensor([label for label, _ in batch], dtype=torch.long)
    return labels, torch.nn.utils.rnn.pad_sequence(encoded, batch_first=True, padding_value=PAD_IDX)


def offsetify(batch, vocab, ngrams=1):
    """Collate ``(label, text)`` items for ``nn.EmbeddingBag``: ``(labels, ids concatenated, offsets)``."""
    encoded = [torch.tensor(encode(text, vocab, ngrams), dtype=torch.long) for _, text in batch]
    offsets = torch.tensor([0] + [len(e) for e in encoded[:-1]], dtype=torch.long).cumsum(0)
    labels = torch.tensor([label for label, _ in batch], dtype=torch.long)
    return labels, torch.cat(encoded), offsets


# ---------------------------------------------------------------------------------------------------------
# The notebooks' self-check and attention heatmaps (masked_softmax and positional_encoding: course/transformer.py)
# ---------------------------------------------------------------------------------------------------------

def expect(condition, note, *, course_settings=True):
    """A notebook's self-check that does not punish experimenting (returns nothing, so a cell shows nothing).

    The notebooks keep each knob's shipped value beside it (``COURSE_EPOCHS``, say) and pass
    ``course_settings=EPOCHS == COURSE_EPOCHS``. With the course's own settings a failed check raises
    ``AssertionError(note)``: the tests run the notebooks with those settings, so a regression still fails CI.
    With a changed knob it prints ``note`` and carries on: fewer steps give a lower accuracy and an explanation,
    not a traceback. ``COURSE_STRICT=1`` makes every failed check raise, whatever the settings.
    """
    if condition:
        return
    if course_settings or os.environ.get("COURSE_STRICT", "") not in ("", "0"):
        raise AssertionError(note)
    print(tr("Note: {note}", note=note))


def plot_attention(weights, x_labels=None, y_labels=None, ax=None, title=None, xlabel=None, ylabel=None,
                   cmap="viridis", colorbar=True):
    """Heatmap of an attention matrix (rows: queries/output steps, columns: keys/source positions)."""
    import matplotlib.pyplot as plt

    weights = torch.as_tensor(weights).detach().float().cpu()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3, 0.35 * weights.shape[1] + 1.5), max(2.5, 0.35 * weights.shape[0] + 1)))
    image = ax.imshow(weights.numpy(), cmap=cmap, vmin=0.0, aspect="auto")
    for labels, set_ticks, set_labels, rotation in ((x_labels, ax.set_xticks, ax.set_xticklabels, 90),
                                                    (y_labels, ax.set_yticks, ax.set_yticklabels, 0)):
        if labels is not None:
            set_ticks(range(len(labels)))
            set_labels(labels, rotation=rotation, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


# ---------------------------------------------------------------------------------------------------------
# Quick runs keep their own file, so that a test run never replaces the figures of a full run.
RESULTS_02 = CHECKPOINT_DIR / ("notebook02_results-quick.json" if QUICK else "notebook02_results.json")
# Test accuracies from the committed full run of notebook 02, for readers who have not run it.
STORED_RESULTS_02 = {"Transformer encoder (2 layers)": 0.79875, "bag of embeddings": 0.86375}


def save_notebook02_results(accuracies):
    RESULTS_02.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_02.write_text(json.dumps({"quick": QUICK, "accuracies": accuracies}, indent=2))


def notebook02_results():
    """``{model: (accuracy, source)}`` for notebook 02's classifiers: from a local run, else stored figures."""
    if RESULTS_02.exists():
        saved = json.loads(RESULTS_02.read_text())
        source = tr("notebook 02b, run on the same machine (quick mode)") if saved["quick"] else \
            tr("notebook 02b, run on the same machine")
        accuracies = saved["accuracies"]
    else:
        source, accuracies = tr("stored figure, notebook 02b's committed run"), STORED_RESULTS_02
    shown_name = {"Transformer encoder (2 layers)": tr("Transformer encoder (2 layers)"),
                  "bag of embeddings": tr("bag of embeddings")}
    return {shown_name.get(name, name): (value, source) for name, value in accuracies.items()}


def provision(verbose=True):
    """Provision AG News into ``data/ag_news`` and the checkpoint into ``bert/``; both verified."""
    data_dir = ensure_ag_news()
    bert_dir = ensure_bert()
    if verbose:
        if (data_dir / "manifest.json").exists():
            print(f"data: {data_dir} ({describe_variant(data_dir)}), verified")
        else:
            counts = check_ag_news_copy(data_dir)
            print(f"data: {data_dir} (unverified copy: no manifest.json, so no checksums to compare; every row "
                  f"read: {counts['train.csv']:,} train / {counts['test.csv']:,} test rows)")
            if warning := unknown_counts_warning(counts):
                print(warning)
        print(f"model: {bert_dir}, verified")


# ---------------------------------------------------------------------------------------------------------
# Re-exported from the course package: the names the notebooks (and finetune.py, bench/, solutions/) call as
# torchnlp.<name>. Each lives in one module of course/; this list only keeps their spelling in one place.
# ---------------------------------------------------------------------------------------------------------

# The lesson's code comes first in this file and the machinery it stands on after it, hence noqa E402; the
# names are imported to be re-exported, hence F401.
# isort: off
# Files and errors, and AG News on disk (course/files.py, course/ag_news.py)
from course.ag_news import AG_NEWS_FILES, DATA_DIR, check_ag_news_copy, clean_text, describe_variant  # noqa: E402, F401
from course.files import ROOT, file_digest  # noqa: E402, F401
# The BERT checkpoint, its inputs and its heads (course/bert.py, course/heads.py)
from course.bert import (  # noqa: E402, F401
    LengthBucketSampler,
    PaddingCollator,
    bert_model_path,
    check_max_length,
    check_text,
    encode_for_bert,
    model_config,
    verify_model_folder,
)
from course.heads import (  # noqa: E402, F401
    DEFAULT_HEAD,
    HEADS,
    BertForMeanPooledClassification,
    classifier_class,
    head_of,
    sequence_classifier,
)
# Checkpoints, training and inference (course/checkpoints.py, course/training.py, course/inference.py)
from course.checkpoints import (  # noqa: E402, F401
    CheckpointError,
    check_checkpoint_dir,
    check_writable_folder,
    latest_checkpoint,
    load_fine_tuned,
)
# The attention of notebooks 01 and 02a, which 02b builds its encoder layer from (course/transformer.py)
from course.transformer import MultiHeadAttention, masked_softmax, positional_encoding  # noqa: E402, F401
from course.training import TrainConfig, choose_device, fine_tune, set_seed  # noqa: E402, F401
from course.inference import classification_report_text, predict, predict_texts, quantize_for_cpu  # noqa: E402, F401
# What code shows a learner, in the course's language (course/i18n.py): notebooks call torchnlp.tr
from course.i18n import number, percent, table_row, tr  # noqa: E402, F401
# isort: on


if __name__ == "__main__":
    if sys.argv[1:] == ["provision"]:
        try:
            provision()
        except DataError as error:
            sys.exit(f"error: {error}")
    else:
        sys.exit("usage: python -m torchnlp provision")
