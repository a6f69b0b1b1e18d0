"""What the attention explorer shows, without a front end: each part works, and is tested, on its own.

* adapters turn a text into an :class:`Attention` record (tokens, every layer's and head's weights with padding
  removed, the word each token belongs to, the class probabilities): :class:`BertAttention` for a Hugging Face
  BERT (base encoder or fine-tuned classifier) and :class:`WordLevelAttention` for notebook 02's
  ``TransformerClassifier``;
* :func:`select` picks a layer and a head (or their mean), :func:`word_groups` and :func:`merge_word_pieces`
  map word pieces back to words, :func:`view` gathers what one view shows and :func:`draw` draws it.

The front ends that use them (the explorer and the headline playground) are in ``course/explorer.py``.
"""
import io
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from matplotlib.figure import Figure

import torchnlp
from course.i18n import tr

VIEWS = ("from", "matrix", "heads")  # from one token, token × token, all heads of a layer
MEAN = "mean"  # the head selector's value for the average over the heads
DEFAULT_TEXT = "Federer beats Nadal in the Wimbledon final. The crowd cheered."


# ---------------------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Attention:
    """What a model's attention looked like for one text, padding removed.

    ``weights`` has shape (layers, heads, T, T): row ``q`` of ``weights[l, h]`` is where position ``q``
    looked in layer ``l``, head ``h``; it sums to 1. ``word_ids[t]`` is the index into ``words`` of the word
    that position ``t`` is part of, or None for a special token such as ``[CLS]``.
    """
    text: str
    tokens: list
    weights: np.ndarray
    word_ids: list
    words: list
    probabilities: np.ndarray | None = None
    classes: list | None = None
    model_name: str = "model"
    notes: list = field(default_factory=list)

    @property
    def num_layers(self):
        return self.weights.shape[0]

    @property
    def num_heads(self):
        return self.weights.shape[1]

    def in_words(self):
        """The same attention over words: a word's weight as a key is the sum over its pieces, as a query the
        mean over its pieces (Clark et al., 2019), so every row still sums to 1. Special tokens stay."""
        groups = word_groups(self.word_ids)
        labels = [self.tokens[positions[0]] if self.word_ids[positions[0]] is None
                  else self.words[self.word_ids[positions[0]]] for positions in groups]
        word_ids = [None if self.word_ids[positions[0]] is None else self.word_ids[positions[0]]
                    for positions in groups]
        return replace(self, tokens=labels, weights=merge_word_pieces(self.weights, groups), word_ids=word_ids)


def check_input(text, what="text"):
    """Refuse None, non-strings (torchnlp.check_text) and empty texts, each with a message saying what to do."""
    torchnlp.check_text(text, what)
    if not text.strip():
        raise ValueError(f"{what} is empty: type a sentence or a headline")


def softmax(logits):
    return torch.softmax(logits.detach().float().cpu(), -1).numpy().astype(np.float64)


class BertAttention:
    """Text -> :class:`Attention` for a Hugging Face BERT: the base encoder (``AutoModel``, no probabilities) or a
    classifier (``torchnlp.load_fine_tuned``, ``torchnlp.sequence_classifier``).

    The model is switched to the eager attention implementation (PyTorch's fused kernel does not return its
    weights) and to ``eval()``. The tokenizer must be a fast one: its ``word_ids`` and offsets give the words.
    """

    def __init__(self, model, tokenizer, classes=None, max_length=128, name=None):
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError("BertAttention needs a fast tokenizer (AutoTokenizer's default): its word_ids map "
                            "word pieces back to words")
        torchnlp.check_max_length(max_length, model)
        if getattr(model.config, "_attn_implementation", "eager") != "eager":
            model.set_attn_implementation("eager")
        self.model, self.tokenizer, self.max_length = model.eval(), tokenizer, max_length
        labels = getattr(model.config, "id2label", None) or {}
        self.classes = list(classes) if classes is not None else [labels[i] for i in sorted(labels)]
        self.name = name or type(model).__name__

    @classmethod
    def from_pretrained(cls, path=None, **kwargs):
        """The base encoder of a checkpoint folder (default: ``torchnlp.bert_model_path()``), attention only."""
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging

        path = path or torchnlp.bert_model_path()
        bar = logging.is_progress_bar_enabled()
        logging.disable_progress_bar()  # its "Loading weights" bar would land on a notebook's stderr
        try:
            model = AutoModel.from_pretrained(path, attn_implementation="eager")
        finally:
            if bar:
                logging.enable_progress_bar()
        kwargs.setdefault("name", tr("pre-trained encoder ({folder})", folder=os.path.basename(os.path.normpath(path))))
        return cls(model, AutoTokenizer.from_pretrained(path), **kwargs)

    def encode(self, text, pad_to=None):
        check_input(text)
        return self.tokenizer(text, truncation=True, max_length=pad_to or self.max_length,
                              padding="max_length" if pad_to else False, return_offsets_mapping=True,
                              return_tensors="pt")

    def __call__(self, text, pad_to=None):
        """``pad_to`` pads the input to that many positions, as in a batch; the padding is removed again."""
        encoding = self.encode(text, pad_to)
        offsets = encoding.pop("offset_mapping")[0].tolist()
        word_ids = encoding.word_ids(0)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            output = self.model(**{k: v.to(device) for k, v in encoding.items()}, output_attentions=True)
        if not output.attentions or output.attentions[0] is None:
            raise RuntimeError(f"{self.name} returned no attention weights: load it with attn_implementation='eager'")
        keep = encoding["attention_mask"][0].bool().nonzero().squeeze(1)
        weights = torch.stack([layer[0] for layer in output.attentions]).float().cpu()
        weights = weights[:, :, keep][:, :, :, keep].numpy().astype(np.float64)
        ids = encoding["input_ids"][0, keep].tolist()
        word_ids = [word_ids[i] for i in keep.tolist()]
        spans = {}
        for position, word in zip(keep.tolist(), word_ids):
            if word is not None:
                start, end = offsets[position]
                low, high = spans.get(word, (start, end))
                spans[word] = (min(low, start), max(high, end))
        words = [text[spans[w][0]:spans[w][1]] for w in sorted(spans)]
        renumber = {w: i for i, w in enumerate(sorted(spans))}
        logits = getattr(output, "logits", None)
        notes = []
        if len(self.tokenizer(text)["input_ids"]) > self.max_length:
            notes.append(tr("truncated to {max_length} tokens", max_length=self.max_length))
        return Attention(text=text, tokens=self.tokenizer.convert_ids_to_tokens(ids), weights=weights,
                         word_ids=[None if w is None else renumber[w] for w in word_ids], words=words,
                         probabilities=None if logits is None else softmax(logits[0]),
                         classes=self.classes if logits is not None else None, model_name=self.name, notes=notes)


class WordLevelAttention:
    """Text -> :class:`Attention` for notebook 02's ``TransformerClassifier`` (a word-level vocabulary).

    The model's interface: ``model(ids, return_attention=True)`` returns ``(logits, maps)`` with one map of
    shape (batch, heads, T, T) per layer, and ``torchnlp.PAD_IDX`` marks padding. Tokens are the words
    themselves; a word the vocabulary lacks shows as ``word (unk)``, since the model saw only ``<unk>``.
    """

    def __init__(self, model, vocab, classes, max_len=64, name=None):
        self.model, self.vocab, self.classes, self.max_len = model, vocab, list(classes), max_len
        self.name = name or tr("small Transformer (notebook 02b)")

    def __call__(self, text, pad_to=None):
        check_input(text)
        words = torchnlp.tokenize(text)[:self.max_len]
        if not words:
            raise ValueError(f"text {text!r:.60} has no words the tokenizer keeps")
        ids = self.vocab.lookup_indices(words)
        ids = torch.tensor([ids + [torchnlp.PAD_IDX] * max(0, (pad_to or 0) - len(ids))])
        was_training = self.model.training
        self.model.eval()
        try:
            device = next(self.model.parameters()).device
            with torch.inference_mode():
                logits, maps = self.model(ids.to(device), return_attention=True)
        finally:
            self.model.train(was_training)
        keep = (ids[0] != torchnlp.PAD_IDX).nonzero().squeeze(1)
        weights = torch.stack([m[0] for m in maps]).float().cpu()
        weights = weights[:, :, keep][:, :, :, keep].numpy().astype(np.float64)
        tokens = [word if i != torchnlp.UNK_IDX else f"{word} (unk)" for word, i in zip(words, ids[0].tolist())]
        return Attention(text=text, tokens=tokens, weights=weights, word_ids=list(range(len(words))), words=words,
                         probabilities=softmax(logits[0]), classes=self.classes, model_name=self.name)


# ---------------------------------------------------------------------------------------------------------
# Selection, word pieces to words, views
# ---------------------------------------------------------------------------------------------------------

def select(weights, layer, head=MEAN):
    """The (T, T) map of one layer (0-based; -1 is the last) and one head, or the mean over heads (``"mean"``
    or None)."""
    num_layers, num_heads = weights.shape[:2]
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -num_layers <= layer < num_layers:
        raise ValueError(f"layer must be an integer from 0 to {num_layers - 1} (or -1 for the last), got {layer!r}")
    if head is None or head == MEAN:
        return weights[layer].mean(0)
    if isinstance(head, bool) or not isinstance(head, (int, np.integer)) or not -num_heads <= head < num_heads:
        raise ValueError(f"head must be an integer from 0 to {num_heads - 1} or {MEAN!r}, got {head!r}")
    return weights[layer, head]


def word_groups(word_ids):
    """Positions grouped by word, in order of first appearance; a special token (word id None) is its own group."""
    groups, index = [], {}
    for position, word in enumerate(word_ids):
        if word is None:
            groups.append([position])
        elif word in index:
            groups[index[word]].append(position)
        else:
            index[word] = len(groups)
            groups.append([position])
    return groups


def merge_word_pieces(weights, groups):
    """(..., T, T) -> (..., W, W): attention to a word is the sum over its pieces, from a word the mean."""
    weights = np.asarray(weights, dtype=np.float64)
    membership = np.zeros((weights.shape[-1], len(groups)))
    for g, positions in enumerate(groups):
        membership[positions, g] = 1.0
    to_words = weights @ membership
    return np.einsum("tg,...tw->...gw", membership / membership.sum(0), to_words)


@dataclass
class View:
    """What one view shows: ``data`` is (T,) for "from", (T, T) for "matrix", (heads, T, T) for "heads"."""
    kind: str
    data: np.ndarray
    labels: list
    title: str
    layer: int
    head: object
    token: int
    probabilities: np.ndarray | None
    classes: list | None
    model_name: str


def view(attention, kind="from", layer=-1, head=MEAN, token=0, words=False):
    """Gather the data of one view of ``attention`` (a pure function: the widget and the tests share it)."""
    if kind not in VIEWS:
        raise ValueError(f"view must be one of {sorted(VIEWS)}, got {kind!r}")
    shown = attention.in_words() if words else attention
    layer = range(shown.num_layers)[layer] if isinstance(layer, (int, np.integer)) else layer
    matrix = select(shown.weights, layer, head)
    head_name = tr("mean of heads") if head is None or head == MEAN else tr("head {head}", head=head)
    if kind == "heads":
        data, title = shown.weights[layer], tr("layer {layer}: every head (rows attend to columns)", layer=layer + 1)
    elif kind == "matrix":
        data, title = matrix, tr("layer {layer}, {head}", layer=layer + 1, head=head_name)
    else:
        if not 0 <= token < len(shown.tokens):
            raise ValueError(f"token must be a position from 0 to {len(shown.tokens) - 1}, got {token!r}")
        data, title = matrix[token], tr("attention from {token!r}: layer {layer}, {head}", token=shown.tokens[token],
                                        layer=layer + 1, head=head_name)
    return View(kind=kind, data=data, labels=list(shown.tokens), title=title, layer=layer, head=head, token=token,
                probabilities=attention.probabilities, classes=attention.classes, model_name=attention.model_name)


def probability_panel(ax, probabilities, classes):
    ax.set_title(tr("predicted"), fontsize=10)
    if probabilities is None:
        ax.text(0.5, 0.5, tr("no classifier:\nthe pre-trained\nencoder only"), ha="center", va="center", fontsize=9)
        ax.set_axis_off()
        return
    rows = np.arange(len(classes))
    colours = ["tab:orange" if i == probabilities.argmax() else "tab:gray" for i in rows]
    ax.barh(rows, probabilities, color=colours)
    ax.set_yticks(rows, classes, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.5, 1])
    for row, p in zip(rows, probabilities):
        inside = p > 0.7  # a long bar carries its label inside, so that the label stays within the panel
        ax.text(p - 0.03 if inside else p + 0.03, row, f"{p:.2f}", va="center", ha="right" if inside else "left",
                color="white" if inside else "black", fontsize=8)


def _heatmap(ax, matrix, labels, fontsize, show_x=True, show_y=True):
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(labels)), labels if show_x else [], rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels if show_y else [], fontsize=fontsize)
    return image


def draw(shown):
    """A matplotlib Figure of a :class:`View`, the predicted probabilities beside it. Not a pyplot figure, so a
    notebook shows it only where it is displayed."""
    n = len(shown.labels)
    height = 4.6 if shown.kind == "from" else max(4.6, 2.2 + 0.22 * n)
    figure = Figure(figsize=(11.5, height), dpi=90, layout="constrained")
    main, side = figure.subfigures(1, 2, width_ratios=[5, 1])
    fontsize = 8 if n <= 30 else 6
    if shown.kind == "from":
        ax = main.subplots()
        colours = ["tab:orange" if i == shown.token else "tab:blue" for i in range(n)]
        ax.bar(range(n), shown.data, color=colours)
        ax.set_xticks(range(n), shown.labels, rotation=90, fontsize=fontsize)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(0, max(0.05, float(shown.data.max()) * 1.1))
        ax.set_ylabel(tr("attention weight"))
        ax.set_title(shown.title, fontsize=10)
    elif shown.kind == "matrix":
        ax = main.subplots()
        image = _heatmap(ax, shown.data, shown.labels, fontsize)
        ax.set_xlabel(tr("attended to (key)"))
        ax.set_ylabel(tr("attending (query)"))
        ax.set_title(shown.title, fontsize=10)
        main.colorbar(image, ax=ax, fraction=0.04)
    else:
        heads = shown.data.shape[0]
        columns = min(heads, 6)
        rows = math.ceil(heads / columns)
        axes = np.atleast_1d(main.subplots(rows, columns)).reshape(rows, columns)
        small = 6 if n <= 16 else 4
        for h, ax in enumerate(axes.flat):
            if h >= heads:
                ax.set_axis_off()
                continue
            row, column = divmod(h, columns)
            _heatmap(ax, shown.data[h], shown.labels, small, show_x=row == rows - 1, show_y=column == 0)
            selected = shown.head is not None and shown.head != MEAN and h == range(heads)[shown.head]
            ax.set_title(tr("head {head}", head=h), fontsize=8, color="tab:red" if selected else "black",
                         fontweight="bold" if selected else "normal")
            if selected:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:red")
                    spine.set_linewidth(2)
        main.suptitle(shown.title, fontsize=10)
    probability_panel(side.subplots(), shown.probabilities, shown.classes)
    figure.suptitle(shown.model_name, fontsize=9, x=0.01, ha="left", color="dimgray")
    return figure


def png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


