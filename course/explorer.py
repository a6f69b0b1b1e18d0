"""An attention explorer and a headline playground, offline: ipywidgets and matplotlib, nothing loaded from a CDN.

Pure parts first; each works, and is tested, without a front end:

* adapters turn a text into an :class:`Attention` record (tokens, every layer's and head's weights with padding
  removed, the word each token belongs to, the class probabilities): :class:`BertAttention` for a Hugging Face
  BERT (base encoder or fine-tuned classifier) and :class:`WordLevelAttention` for notebook 02's
  ``TransformerClassifier``;
* :func:`select` picks a layer and a head (or their mean), :func:`word_groups` and :func:`merge_word_pieces`
  map word pieces back to words, :func:`view` gathers what one view shows and :func:`draw` draws it;
* :func:`gradient_x_input` and :func:`read_headline` give the playground's saliency and attention per word.

Then the front ends: :class:`Explorer` (text box, layer and head selectors, a choice of view, the predicted
probabilities beside the figure) and :func:`playground`. Both display a static PNG of their current figure
where no widget front end is known to be listening (nbclient, nbval, a script, ipywidgets missing), so an
executed notebook stores a figure, not an empty widget.
"""
import base64
import io
import math
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from matplotlib.figure import Figure

import torchnlp
from i18n import tr

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


def _softmax(logits):
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
                         probabilities=None if logits is None else _softmax(logits[0]),
                         classes=self.classes if logits is not None else None, model_name=self.name, notes=notes)


class WordLevelAttention:
    """Text -> :class:`Attention` for notebook 02's ``TransformerClassifier`` (a word-level vocabulary).

    The model's interface: ``model(ids, return_attention=True)`` returns ``(logits, maps)`` with one map of
    shape (batch, heads, T, T) per layer, and ``torchnlp.PAD_IDX`` marks padding. Tokens are the words
    themselves; a word the vocabulary lacks shows as ``word (unk)``, since the model saw only ``<unk>``.
    """

    def __init__(self, model, vocab, classes, max_len=64, name=None):
        self.model, self.vocab, self.classes, self.max_len = model, vocab, list(classes), max_len
        self.name = name or tr("small Transformer (notebook 02)")

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
                         probabilities=_softmax(logits[0]), classes=self.classes, model_name=self.name)


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


def _probability_panel(ax, probabilities, classes):
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
    _probability_panel(side.subplots(), shown.probabilities, shown.classes)
    figure.suptitle(shown.model_name, fontsize=9, x=0.01, ha="left", color="dimgray")
    return figure


def png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Front ends
# ---------------------------------------------------------------------------------------------------------

def has_widget_front_end():
    """Whether a front end that renders ipywidgets is listening. A kernel cannot ask its client, so this trusts
    what the clients that render widgets leave behind: jupyter_server (JupyterLab, Notebook 7) sets
    JPY_SESSION_NAME, VS Code defines ``__vsc_ipynb_file__``, Colab imports google.colab. nbclient and nbval set
    none of them. ``COURSE_WIDGETS=1`` or ``0`` overrides the guess."""
    override = os.environ.get("COURSE_WIDGETS", "")
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    if override in ("0", "1"):
        return override == "1"
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    return bool(os.environ.get("JPY_SESSION_NAME")) or "__vsc_ipynb_file__" in shell.user_ns \
        or "google.colab" in sys.modules


def _widgets(interactive):
    if interactive is False:
        return None
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets if interactive or has_widget_front_end() else None


def _natural_size(w):
    """An Image layout that keeps the PNG's own size (a VBox would stretch it to the cell's width, blurred)."""
    return w.Layout(max_width="100%", height="auto", align_self="flex-start")


def _display(obj):
    try:
        from IPython.display import display
    except ImportError:
        print(repr(obj))
        return
    display(obj)


class _Shown:
    """Shared by the explorer and the playground: a figure that is a widget where widgets render, a PNG
    everywhere else (the same PNG rides along in the widget's output for front ends without ipywidgets)."""

    root = None
    figure = None
    summary = ""

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.summary, "image/png": base64.b64encode(png(self.figure)).decode("ascii")}
        widget_bundle = getattr(self.root, "_repr_mimebundle_", None)  # None once the widget is closed
        if callable(widget_bundle):
            bundle.update({k: v for k, v in widget_bundle().items() if k != "text/plain"})
        return bundle


class Explorer(_Shown):
    """The attention explorer: a text box, layer and head selectors, a view choice, a token selector for the
    "from" view, a words/word-pieces switch, and the figure with the predicted probabilities beside it.

    Drive it from code as a learner would in the browser: set ``explorer.text.value``, ``explorer.layer.value``,
    ``explorer.head.value``, ``explorer.kind.value``, ``explorer.token.value``; ``explorer.shown`` holds the
    data of the current figure. Without widgets (``interactive=False``, or ipywidgets missing) call
    :meth:`update` with the same names.
    """

    def __init__(self, adapter, text=DEFAULT_TEXT, *, kind="from", layer=-1, head=MEAN, token=0, words=False,
                 interactive=None):
        self.adapter = adapter
        self.attention = adapter(text)
        layer = range(self.attention.num_layers)[layer]
        self.settings = {"kind": kind, "layer": layer, "head": head, "token": token, "words": words}
        self.shown = view(self.attention, **self.settings)
        self.figure = draw(self.shown)
        self.error = None
        ipywidgets = _widgets(interactive)
        if ipywidgets is not None:
            self._build(ipywidgets)
        self._render()

    @property
    def summary(self):
        return tr("attention explorer: {title} ({model})", title=self.shown.title, model=self.attention.model_name)

    def _token_options(self):
        tokens = self.attention.in_words().tokens if self.settings["words"] else self.attention.tokens
        return [(f"{i}: {t}", i) for i, t in enumerate(tokens)]

    def _build(self, w):
        style = {"description_width": "initial"}  # each label as wide as its text
        self.text = w.Text(value=self.attention.text, description=tr("text"), continuous_update=False, style=style,
                           layout=w.Layout(width="100%"))
        layers = [(tr("layer {layer}", layer=i + 1), i) for i in range(self.attention.num_layers)]
        self.layer = w.Dropdown(options=layers, value=self.settings["layer"], description=tr("layer"), style=style)
        heads = [(tr("mean of heads"), MEAN)]
        heads += [(tr("head {head}", head=h), h) for h in range(self.attention.num_heads)]
        self.head = w.Dropdown(options=heads, value=self.settings["head"], description=tr("head"), style=style)
        views = [(tr("from one token"), "from"), (tr("token × token"), "matrix"), (tr("all heads of a layer"), "heads")]
        self.kind = w.ToggleButtons(options=views, value=self.settings["kind"], tooltips=[tr("view")] * len(views))
        self.token = w.Dropdown(options=self._token_options(), value=self.settings["token"], description=tr("from"),
                                style=style)
        self.words = w.Checkbox(value=self.settings["words"], description=tr("merge word pieces into words"),
                                disabled=isinstance(self.adapter, WordLevelAttention), indent=False)
        self.message = w.HTML()
        self.image = w.Image(format="png", layout=_natural_size(w))
        for name, control in [("layer", self.layer), ("head", self.head), ("kind", self.kind),
                              ("token", self.token), ("words", self.words)]:
            control.add_class(f"explorer-{name}")
            control.observe(lambda change, name=name: self.update(**{name: change["new"]}), names="value")
        self.text.add_class("explorer-text")
        self.image.add_class("explorer-figure")
        self.text.observe(lambda change: self.update(text=change["new"]), names="value")
        self.root = w.VBox([self.text, w.HBox([self.layer, self.head, self.token]), w.HBox([self.kind, self.words]),
                            self.message, self.image])
        self._syncing = False

    def update(self, text=None, **settings):
        """Change the text and/or any of kind, layer, head, token, words; redraw. A text the adapter refuses
        leaves the figure as it was and says why (in ``error`` and, with widgets, under the controls)."""
        if getattr(self, "_syncing", False):
            return
        self.error = None
        if text is not None and text != self.attention.text:
            try:
                self.attention = self.adapter(text)
            except (TypeError, ValueError) as error:
                self.error = str(error)
                self._render()
                return
            settings.setdefault("token", 0)
        if "words" in settings and settings["words"] != self.settings["words"]:
            settings.setdefault("token", 0)
        self.settings.update(settings)
        self.shown = view(self.attention, **self.settings)
        self.figure = draw(self.shown)
        self._render()

    def _render(self):
        if self.root is None:
            return
        self._syncing = True
        try:
            self.token.options = self._token_options()
            self.token.value = self.settings["token"]
            self.token.disabled = self.settings["kind"] != "from"
            self.message.value = f"<b style='color:#b00'>{self.error}</b>" if self.error else ""
            self.image.value = png(self.figure)
        finally:
            self._syncing = False


def show(adapter, text=DEFAULT_TEXT, *, interactive=None, **settings):
    """Display an :class:`Explorer` (the widget where one renders, its static figure elsewhere) and return it."""
    explorer = Explorer(adapter, text, interactive=interactive, **settings)
    _display(explorer)
    return explorer


# ---------------------------------------------------------------------------------------------------------
# The playground: attention from [CLS] against gradient x input
# ---------------------------------------------------------------------------------------------------------

def gradient_x_input(model, tokenizer, text, target=None, max_length=128):
    """Per word piece: the gradient of the ``target`` class's logit (default: the predicted class) with respect
    to the piece's input embedding, dotted with that embedding. Positive: the piece pushed towards the class.

    Returns ``(scores, probabilities, target)``; scores over every position, [CLS] and [SEP] included.
    """
    check_input(text, "headline")
    encoding = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
    device = next(model.parameters()).device
    encoding = {k: v.to(device) for k, v in encoding.items()}
    model.eval()
    with torch.inference_mode(False), torch.enable_grad():
        embeddings = model.get_input_embeddings()(encoding["input_ids"]).detach().clone().requires_grad_(True)
        inputs = {k: v for k, v in encoding.items() if k != "input_ids"}
        logits = model(inputs_embeds=embeddings, **inputs).logits[0]
        target = int(logits.argmax()) if target is None else target
        (gradient,) = torch.autograd.grad(logits[target], embeddings)
    scores = (gradient * embeddings).sum(-1)[0].detach().float().cpu().numpy().astype(np.float64)
    return scores, _softmax(logits), target


@dataclass
class Reading:
    """The playground's answer for one headline: probabilities, and per word (specials included) the attention
    from [CLS] (last layer, mean of heads) and the gradient x input saliency for the predicted class."""
    headline: str
    probabilities: np.ndarray
    classes: list
    predicted: str
    words: list
    attention: np.ndarray
    saliency: np.ndarray


def read_headline(adapter, headline):
    """A :class:`Reading` of ``headline`` by the classifier behind a :class:`BertAttention` adapter."""
    check_input(headline, "headline")
    if not isinstance(adapter, BertAttention):
        raise TypeError("read_headline needs a BertAttention adapter around a fine-tuned classifier")
    attention = adapter(headline)
    if attention.probabilities is None:
        raise ValueError(f"{adapter.name} has no classifier head: load the fine-tuned checkpoint "
                         "(torchnlp.load_fine_tuned) to get class probabilities")
    scores, probabilities, target = gradient_x_input(adapter.model, adapter.tokenizer, headline,
                                                     max_length=adapter.max_length)
    groups = word_groups(attention.word_ids)
    merged = attention.in_words()
    from_cls = select(merged.weights, -1, MEAN)[0]
    per_word = np.array([scores[positions].sum() for positions in groups])
    return Reading(headline=headline, probabilities=attention.probabilities, classes=attention.classes,
                   predicted=attention.classes[target], words=merged.tokens, attention=from_cls, saliency=per_word)


def draw_reading(reading):
    """Probabilities, attention from [CLS] and gradient x input, side by side, one bar per word."""
    n = len(reading.words)
    figure = Figure(figsize=(11.5, max(3.2, 1.0 + 0.26 * n)), dpi=90, layout="constrained")
    probabilities, attention, saliency = figure.subplots(1, 3, width_ratios=[1, 2, 2])
    _probability_panel(probabilities, reading.probabilities, reading.classes)
    rows = np.arange(n)
    attention.barh(rows, reading.attention, color="tab:blue")
    attention.set_title(tr("attention from [CLS]\n(last layer, mean of heads)"), fontsize=10)
    colours = ["tab:green" if s >= 0 else "tab:red" for s in reading.saliency]
    saliency.barh(rows, reading.saliency, color=colours)
    saliency.axvline(0, color="black", linewidth=0.8)
    saliency.set_title(tr("gradient × input for {predicted}\n(green: towards it, red: against)",
                          predicted=reading.predicted), fontsize=10)
    for ax in (attention, saliency):
        ax.set_yticks(rows, reading.words, fontsize=9)
        ax.invert_yaxis()
    figure.suptitle(f"{reading.headline!r} → {reading.predicted}", fontsize=10)
    return figure


class Playground(_Shown):
    """A headline box over :func:`draw_reading`'s figure; ``reading`` holds the current :class:`Reading`."""

    def __init__(self, adapter, headline, interactive=None):
        self.adapter = adapter
        self.reading = read_headline(adapter, headline)
        self.figure = draw_reading(self.reading)
        self.error = None
        w = _widgets(interactive)
        if w is not None:
            self.text = w.Text(value=headline, description=tr("headline"), continuous_update=False,
                               layout=w.Layout(width="100%"))
            self.message = w.HTML()
            self.image = w.Image(format="png", value=png(self.figure), layout=_natural_size(w))
            self.text.observe(lambda change: self.update(change["new"]), names="value")
            self.root = w.VBox([self.text, self.message, self.image])

    @property
    def summary(self):
        return tr("playground: {headline!r} -> {predicted}", headline=self.reading.headline,
                  predicted=self.reading.predicted)

    def update(self, headline):
        try:
            self.reading = read_headline(self.adapter, headline)
            self.error = None
        except (TypeError, ValueError) as error:
            self.error = str(error)
        else:
            self.figure = draw_reading(self.reading)
        if self.root is not None:
            self.message.value = f"<b style='color:#b00'>{self.error}</b>" if self.error else ""
            self.image.value = png(self.figure)


def playground(adapter, headline, *, interactive=None):
    """Display a :class:`Playground` for ``headline`` (refused at once if None, not a string or empty)."""
    check_input(headline, "headline")
    shown = Playground(adapter, headline, interactive=interactive)
    _display(shown)
    return shown
