"""Diagrams for the notebooks, drawn with matplotlib so that they are ours and render offline.

Each function returns a ``matplotlib.figure.Figure`` built from labelled boxes and arrows; nothing is read from
disk or the network. ``tests/test_diagrams.py`` checks that each figure carries its labels.

* ``encoder_decoder_attention``: a recurrent encoder-decoder with additive attention at one output step (01);
* ``transformer_encoder``: one Transformer encoder layer, repeated N times, with its residual paths (02);
* ``positional_encoding_dials``: sinusoidal positional encodings as small multiples of clock dials (02).
"""
import math

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from course.i18n import tr

COLORS = {"encoder": "#dbe9f6", "decoder": "#fde2c8", "attention": "#e3f1d9", "norm": "#f3e6f7",
          "embed": "#f2f2f2", "edge": "#333333"}


def _box(ax, x, y, width, height, text, color, fontsize=10):
    """A rounded box centred on (x, y) with its label; returns the label's Text."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=color,
                                edgecolor=COLORS["edge"], linewidth=1.2))
    return ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color=None, linewidth=1.2, style="-|>", connection="arc3", alpha=1.0):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color or COLORS["edge"],
                                 linewidth=linewidth, connectionstyle=connection, alpha=alpha,
                                 shrinkA=2, shrinkB=2))


def _canvas(width, height, figsize):
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def encoder_decoder_attention(source="3914", step=2):
    """The model of notebook 01 while it writes output ``step`` (1-based) of the reversal of ``source``.

    Bottom: the bidirectional GRU encoder, one state h_i per input digit. Top: the decoder GRU, whose previous
    state s_{t-1} is the query. Middle: additive attention scores every h_i, a softmax turns the scores into
    weights alpha_{t,i} (drawn as line widths; the digit being copied gets most), and their weighted sum is the
    context c_t that the decoder reads at this step.
    """
    length = len(source)
    if not 1 <= step <= length:
        raise ValueError(f"step must be between 1 and {length}, got {step}")
    target = source[::-1]
    copied = length - step  # output step t copies input position L - t (1-based t, 0-based position)
    weights = [0.06 if i != copied else 1.0 - 0.06 * (length - 1) for i in range(length)]
    spacing, margin = 2.0, 5.2
    width = margin + spacing * length + 0.6
    fig, ax = _canvas(width, 9.4, figsize=(width * 0.72, 9.4 * 0.72))
    xs = [margin + spacing * i for i in range(length)]

    for i, (x, digit) in enumerate(zip(xs, source)):
        ax.text(x, 0.45, digit, ha="center", va="center", fontsize=13, family="monospace")
        _arrow(ax, (x, 0.75), (x, 1.45))
        _box(ax, x, 1.95, 1.3, 0.9, f"$h_{{{i + 1}}}$", COLORS["encoder"], fontsize=12)
        if i:
            _arrow(ax, (xs[i - 1] + 0.65, 2.1), (x - 0.65, 2.1))
            _arrow(ax, (x - 0.65, 1.8), (xs[i - 1] + 0.65, 1.8))
    ax.text(xs[0] - 1.0, 1.95, tr("encoder\n(bidirectional GRU)"), ha="right", va="center", fontsize=10)
    ax.text(xs[0] - 1.0, 0.45, tr("input"), ha="right", va="center", fontsize=10)

    context_x, context_y = sum(xs) / length, 4.9
    attention_x, attention_y = 1.9, 4.9
    _box(ax, attention_x, attention_y, 3.4, 1.6,
         tr("attention\n{scores}\n{weights}", scores="$e_{t,i} = v^\\top\\tanh(W_q s_{t-1} + W_k h_i)$",
            weights="$\\alpha_{t,i}$ = softmax$_i(e_{t,i})$"),
         COLORS["attention"], fontsize=9)
    ax.add_patch(Circle((context_x, context_y), 0.55, facecolor="white", edgecolor=COLORS["edge"], linewidth=1.2))
    ax.text(context_x, context_y, "$c_t$", ha="center", va="center", fontsize=13)
    ax.text(context_x + 0.75, context_y, tr("context"), ha="left", va="center", fontsize=10)
    for x, weight in zip(xs, weights):
        _arrow(ax, (x, 2.45), (context_x, context_y - 0.55), color="#2a7f3f", linewidth=0.6 + 6 * weight,
               alpha=0.35 + 0.65 * weight)
        ax.text(x + 0.15, 3.0, f"$\\alpha$={weight:.2f}", ha="left", va="center", fontsize=8, color="#2a7f3f")
    _arrow(ax, (attention_x + 1.7, attention_y), (context_x - 0.6, context_y), color="#2a7f3f")
    ax.text((attention_x + 1.7 + context_x - 0.6) / 2, context_y + 0.25, tr("weights"), ha="center", va="bottom",
            fontsize=9, color="#2a7f3f")
    _arrow(ax, (xs[0] - 0.65, 2.2), (attention_x + 0.6, attention_y - 0.8), connection="arc3,rad=-0.2")
    ax.text(attention_x + 0.2, 3.25, tr("keys $h_i$"), ha="right", va="center", fontsize=9, color="#555555")

    decoder_y = 7.5
    previous_x, current_x = context_x - 2.4, context_x
    _box(ax, previous_x, decoder_y, 1.5, 0.9, "$s_{t-1}$", COLORS["decoder"], fontsize=12)
    _box(ax, current_x + 1.2, decoder_y, 1.5, 0.9, "$s_t$", COLORS["decoder"], fontsize=12)
    current_x += 1.2
    _arrow(ax, (previous_x + 0.75, decoder_y), (current_x - 0.75, decoder_y))
    _arrow(ax, (context_x + 0.3, context_y + 0.5), (current_x - 0.3, decoder_y - 0.45))
    _arrow(ax, (previous_x - 0.5, decoder_y - 0.45), (attention_x + 0.6, attention_y + 0.8),
           connection="arc3,rad=0.2")
    ax.text(attention_x + 0.9, 6.75, tr("query {state}", state="$s_{t-1}$"), ha="right", va="center", fontsize=9,
            color="#555555")
    ax.text(previous_x - 0.9, decoder_y + 0.1, tr("decoder\n(GRU)"), ha="right", va="center", fontsize=10)
    written = target[: step - 1] or "<bos>"
    ax.text(previous_x, decoder_y + 1.15, tr("so far: {written}", written=written), ha="center", va="center",
            fontsize=10, family="monospace")
    ax.text(current_x, decoder_y + 1.15, tr("output: {digit}", digit=target[step - 1]), ha="center", va="center",
            fontsize=11, family="monospace", weight="bold")
    _arrow(ax, (current_x, decoder_y + 0.45), (current_x, decoder_y + 0.9))
    ax.set_title(tr("Encoder-decoder with attention, output step t = {step} of reversing {source}", step=step,
                    source=source), fontsize=11)
    fig.tight_layout()
    return fig


def transformer_encoder(num_layers="N"):
    """One Transformer encoder layer (Vaswani et al., 2017, post-norm as in BERT), stacked ``num_layers`` times.

    From the bottom: token embeddings plus positional encodings; multi-head self-attention and a feed-forward
    network, each wrapped in a residual connection and layer normalisation ("Add & Norm"); one output vector per
    token. The padding mask enters the attention.
    """
    fig, ax = _canvas(10.0, 12.6, figsize=(7.0, 8.8))
    center, box_width = 4.4, 4.2
    ax.text(center, 0.35, tr("input tokens  (and a padding mask)"), ha="center", va="center", fontsize=10)
    _arrow(ax, (center, 0.6), (center, 1.2))
    _box(ax, center, 1.65, box_width, 0.8, tr("token embedding"), COLORS["embed"])
    _arrow(ax, (center, 2.05), (center, 2.65))
    ax.add_patch(Circle((center, 2.95), 0.28, facecolor="white", edgecolor=COLORS["edge"]))
    ax.text(center, 2.95, "+", ha="center", va="center", fontsize=14)
    ax.text(center + 1.85, 2.95, tr("positional encoding"), ha="left", va="center", fontsize=10)
    _arrow(ax, (center + 1.8, 2.95), (center + 0.3, 2.95))
    _arrow(ax, (center, 3.25), (center, 4.05))

    layer_bottom, layer_top = 3.75, 10.6
    ax.add_patch(FancyBboxPatch((center - 3.0, layer_bottom), 6.0, layer_top - layer_bottom,
                                boxstyle="round,pad=0.05,rounding_size=0.25", facecolor="none",
                                edgecolor="#888888", linestyle="--", linewidth=1.2))
    ax.text(center - 3.25, (layer_bottom + layer_top) / 2, f"× {num_layers}", ha="right", va="center",
            fontsize=14)
    ax.text(center + 3.1, layer_top - 0.25, tr("encoder layer"), ha="left", va="center", fontsize=10,
            color="#555555")

    stack = [(5.0, tr("multi-head self-attention"), COLORS["attention"]), (6.35, "Add & Norm", COLORS["norm"]),
             (7.9, tr("feed-forward network"), COLORS["encoder"]), (9.25, "Add & Norm", COLORS["norm"])]
    for (y, text, color), following in zip(stack, [*stack[1:], (11.55, None, None)]):
        _box(ax, center, y, box_width, 0.8, text, color)
        _arrow(ax, (center, y + 0.4), (center, following[0] - 0.4))
    for start, end in ((4.25, 6.35), (7.0, 9.25)):  # residual paths around each sublayer
        ax.add_patch(FancyArrowPatch((center - box_width / 2 + 0.1, start), (center - box_width / 2, end),
                                     connectionstyle="bar,fraction=-0.25", arrowstyle="-|>", mutation_scale=12,
                                     color="#b04a4a", linewidth=1.2))
    ax.text(center - box_width / 2 - 0.75, 5.3, tr("residual"), ha="right", va="center", fontsize=9, color="#b04a4a",
            rotation=90)
    for x_offset, letter in ((-1.2, "Q"), (0.0, "K"), (1.2, "V")):
        ax.text(center + x_offset, 4.35, letter, ha="center", va="center", fontsize=9, color="#555555")
    _box(ax, center, 11.95, box_width, 0.8, tr("one vector per token"), "white")
    ax.set_title(tr("Transformer encoder"), fontsize=12)
    fig.tight_layout()
    return fig


def positional_encoding_dials(positions=(0, 1, 2, 3, 10, 50), d_model=64, pairs=(0, 4, 8, 16, 24, 31),
                              base=10000.0):
    """Sinusoidal positional encodings as clock dials, one panel per position (small multiples).

    Dimension pair i of ``PE(pos)`` is (sin, cos) of the angle ``pos * w_i`` with ``w_i = base^(-2i/d_model)``;
    drawn as a hand on a dial (sin across, cos up), it is a clock. Fast dials (small i) turn a lot from one
    position to the next, slow ones barely move; together they tell positions apart, and a shift by k turns
    every dial by its own fixed angle, whatever the position: the linear map of notebook 02.
    """
    columns = min(3, len(positions))
    rows = math.ceil(len(positions) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 1.55 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, position in zip(axes.flat, positions):
        ax.set_xlim(-0.2, 2.4 * len(pairs) - 0.2)
        ax.set_ylim(-1.6, 1.3)
        ax.set_aspect("equal")
        ax.set_title(tr("position {position}", position=position), fontsize=10)
        for j, pair in enumerate(pairs):
            angle = position * base ** (-2 * pair / d_model)
            x0 = 1.0 + 2.4 * j
            ax.add_patch(Circle((x0, 0), 1.0, facecolor="white", edgecolor="#888888"))
            ax.annotate("", xy=(x0 + 0.9 * math.sin(angle), 0.9 * math.cos(angle)), xytext=(x0, 0),
                        arrowprops={"arrowstyle": "-|>", "color": "#b04a4a", "linewidth": 1.6})
            ax.text(x0, -1.35, tr("dims {first},{second}", first=2 * pair, second=2 * pair + 1), ha="center",
                    va="center", fontsize=7)
    fig.suptitle(tr("Positional encoding, d = {d_model}: each (sin, cos) pair as a dial", d_model=d_model),
                 fontsize=11)
    fig.tight_layout()
    return fig
