"""An attention explorer and a headline playground, offline: ipywidgets and matplotlib, nothing loaded from a CDN.

What they show comes from ``course/attention_views.py`` (adapters from a model to an attention record, the
choice of layer and head, word pieces to words, the views and their drawing); this module adds
:func:`gradient_x_input` and :func:`read_headline` for the playground's saliency and attention per word, and the
front ends: :class:`Explorer` (text box, layer and head selectors, a choice of view, the predicted
probabilities beside the figure) and :func:`playground`. Both display a static PNG of their current figure
where no widget front end is known to be listening (nbclient, nbval, a script, ipywidgets missing), so an
executed notebook stores a figure, not an empty widget.
"""
import base64
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

# The adapters, selection and views, re-exported: the notebooks call explorer.BertAttention and
# explorer.WordLevelAttention.
from course.attention_views import (  # noqa: F401
    DEFAULT_TEXT,
    MEAN,
    VIEWS,
    BertAttention,
    WordLevelAttention,
    check_input,
    draw,
    merge_word_pieces,
    png,
    probability_panel,
    select,
    softmax,
    view,
    word_groups,
)
from course.i18n import tr

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
    return scores, softmax(logits), target


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
    probability_panel(probabilities, reading.probabilities, reading.classes)
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

