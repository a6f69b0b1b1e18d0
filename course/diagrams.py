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


# --- the pictures of issue 28: BERT's input and MLM (03), masks and heads (02), batching and masks (04), the
# learning-rate schedule (05) ---------------------------------------------------------------------------------

def bert_input(first=("the", "cat", "sat"), second=("it", "slept")):
    """BERT's input for a pair of texts: ``[CLS] A [SEP] B [SEP]``, and the three embeddings summed per token.

    Each token's input vector is its token embedding plus a segment embedding (E_A for the first text with its
    [CLS] and [SEP], E_B for the second) plus a position embedding (E_0, E_1, ...): one row of boxes each.
    """
    tokens = ["[CLS]", *first, "[SEP]", *second, "[SEP]"]
    segments = ["A"] * (len(first) + 2) + ["B"] * (len(second) + 1)
    step = 1.5
    width = 3.2 + step * len(tokens)
    fig, ax = _canvas(width, 6.4, figsize=(width * 0.62, 6.4 * 0.62))
    rows = [(5.2, tr("input"), None), (4.0, tr("token embeddings"), COLORS["embed"]),
            (2.8, tr("segment embeddings"), COLORS["decoder"]), (1.6, tr("position embeddings"), COLORS["encoder"])]
    for y, name, _ in rows:
        ax.text(2.8, y, name, ha="right", va="center", fontsize=9)
    for i, (token, segment) in enumerate(zip(tokens, segments)):
        x = 3.6 + step * i
        special = token.startswith("[")
        ax.text(x, 5.2, token, ha="center", va="center", fontsize=9, family="monospace",
                weight="bold" if special else "normal")
        # a word piece is shown as it is (##ley, a_b, $5): no math parsing
        _box(ax, x, 4.0, 1.25, 0.7, f"E[{token.strip('[]')}]", COLORS["embed"], fontsize=7).set_parse_math(False)
        _box(ax, x, 2.8, 1.25, 0.7, f"$E_{segment}$", COLORS["decoder"] if segment == "A" else COLORS["attention"],
             fontsize=9)
        _box(ax, x, 1.6, 1.25, 0.7, f"$E_{{{i}}}$", COLORS["encoder"], fontsize=9)
        for y in (3.4, 2.2):
            ax.text(x, y, "+", ha="center", va="center", fontsize=11)
        _arrow(ax, (x, 1.2), (x, 0.55))
    ax.text(3.6 + step * (len(tokens) - 1) / 2, 0.3, tr("sum: one input vector per token, into the encoder"),
            ha="center", va="center", fontsize=9)
    ax.set_title(tr("BERT's input: [CLS] A [SEP] B [SEP], three embeddings added per token"), fontsize=11)
    fig.tight_layout()
    return fig


def masked_language_model(tokens=("[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"), masked=(3, 6)):
    """Masked-language-model pre-training: some tokens are replaced by [MASK]; BERT predicts the originals.

    Bottom: the text with ``masked`` positions shown as [MASK]; middle: the encoder, which sees every other
    token on both sides; top: the loss is computed at the masked positions only (the original token).
    """
    for position in masked:
        if not 0 <= position < len(tokens):
            raise ValueError(f"masked position {position} is outside the {len(tokens)} tokens")
    step = 1.35
    width = 1.2 + step * len(tokens)
    fig, ax = _canvas(width, 5.4, figsize=(width * 0.7, 5.4 * 0.7))
    xs = [0.9 + step * i for i in range(len(tokens))]
    _box(ax, (xs[0] + xs[-1]) / 2, 2.6, xs[-1] - xs[0] + 1.2, 1.0, tr("BERT encoder (sees both sides)"),
         COLORS["encoder"])
    for i, (x, token) in enumerate(zip(xs, tokens)):
        shown = "[MASK]" if i in masked else token
        ax.text(x, 0.5, shown, ha="center", va="center", fontsize=9, family="monospace",
                color="#b04a4a" if i in masked else "black", weight="bold" if i in masked else "normal")
        _arrow(ax, (x, 0.8), (x, 2.05))
        if i in masked:
            _arrow(ax, (x, 3.15), (x, 4.0), color="#b04a4a")
            ax.text(x, 4.35, tr("predict: {token}", token=token), ha="center", va="center", fontsize=8,
                    color="#b04a4a", family="monospace")
    ax.text(0.2, 5.1, tr("the loss counts only the masked positions (15% of the tokens in pre-training)"),
            ha="left", va="center", fontsize=9)
    ax.set_title(tr("Masked language model: hide tokens, predict them from both sides"), fontsize=11)
    fig.tight_layout()
    return fig


def attention_masks(length=6, padding=2):
    """The causal mask and the padding mask as matrices: row = query position, column = key position.

    A cell is white where the query may attend to the key and dark where the mask sets the score to -inf
    before the softmax. Causal: no key after the query (a decoder); padding: no [PAD] key (an encoder).
    """
    if not 0 <= padding < length:
        raise ValueError(f"padding must be between 0 and length - 1 = {length - 1}, got {padding}")
    import numpy as np

    positions = np.arange(length)
    causal = positions[None, :] <= positions[:, None]
    padded = np.broadcast_to(positions[None, :] < length - padding, (length, length))
    labels = [f"t{i + 1}" for i in range(length - padding)] + ["[PAD]"] * padding
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    for ax, allowed, title in ((axes[0], causal, tr("causal mask (decoder)")),
                               (axes[1], padded, tr("padding mask (encoder)"))):
        ax.imshow(allowed, cmap="Greys_r", vmin=-0.4, vmax=1)
        ax.set_xticks(range(length), labels if ax is axes[1] else [f"t{i + 1}" for i in range(length)],
                      rotation=45)
        ax.set_yticks(range(length), labels if ax is axes[1] else [f"t{i + 1}" for i in range(length)])
        ax.set_xlabel(tr("key (attended to)"))
        ax.set_ylabel(tr("query (attending)"))
        ax.set_title(title, fontsize=10)
        for (row, column), ok in np.ndenumerate(allowed):
            ax.text(column, row, "✓" if ok else "−∞", ha="center", va="center", fontsize=8,
                    color="black" if ok else "white")
    fig.suptitle(tr("Masks: white cells are attended to, dark ones get -inf before the softmax"), fontsize=11)
    fig.tight_layout()
    return fig


def multi_head_shapes(tokens=6, d_model=384, heads=6):
    """Multi-head attention with its tensors' shapes: project, split into heads, attend per head, concatenate.

    X (n, d) is projected to Q, K, V (n, d) each; each is split into h heads of (n, d/h); every head computes
    softmax(Q K^T / sqrt(d/h)) V on its slice; the h outputs (n, d/h) are concatenated back to (n, d) and
    mixed by W_O.
    """
    if d_model % heads:
        raise ValueError(f"d_model = {d_model} does not split into {heads} heads: it must be a multiple")
    head_dim = d_model // heads
    shown = min(heads, 3)
    fig, ax = _canvas(14.0, 9.2, figsize=(11.0, 7.2))
    _box(ax, 7.0, 0.6, 3.6, 0.8, f"X  ({tokens}, {d_model})", COLORS["embed"])
    for x, name in ((3.0, "Q"), (7.0, "K"), (11.0, "V")):
        _arrow(ax, (7.0, 1.0), (x, 1.75))
        _box(ax, x, 2.2, 3.0, 0.8, f"{name} = X W_{name}  ({tokens}, {d_model})", COLORS["attention"], fontsize=9)
    ax.text(13.9, 3.2, tr("split the last axis into {heads} heads", heads=heads), ha="right", va="center",
            fontsize=9, color="#555555")
    columns = [2.3 + 4.7 * j for j in range(shown)]
    for j, x in enumerate(columns):
        head = j + 1 if j < shown - 1 or shown == heads else heads
        for source in (3.0, 7.0, 11.0):
            _arrow(ax, (source, 2.6), (x, 3.9), alpha=0.35)
        _box(ax, x, 4.4, 3.9, 0.9, tr("head {head}: Q, K, V ({tokens}, {dim})", head=head, tokens=tokens,
                                      dim=head_dim), COLORS["decoder"], fontsize=9)
        _arrow(ax, (x, 4.85), (x, 5.55))
        _box(ax, x, 6.0, 3.9, 0.8, f"softmax(QK$^\\top$/$\\sqrt{{{head_dim}}}$) V  ({tokens}, {head_dim})",
             COLORS["attention"], fontsize=9)
        _arrow(ax, (x, 6.4), (7.0, 7.35))
    if shown < heads:
        ax.text((columns[-2] + columns[-1]) / 2, 5.2, "…", ha="center", va="center", fontsize=18)
    _box(ax, 7.0, 7.8, 6.4, 0.8, tr("concatenate the heads: ({tokens}, {heads} × {dim} = {d_model})",
                                    tokens=tokens, heads=heads, dim=head_dim, d_model=d_model), COLORS["norm"],
         fontsize=9)
    _arrow(ax, (7.0, 8.2), (7.0, 8.65))
    ax.text(7.0, 8.95, tr("× W_O → output ({tokens}, {d_model})", tokens=tokens, d_model=d_model), ha="center",
            va="center", fontsize=10)
    ax.set_title(tr("Multi-head attention: {heads} heads of {dim} dimensions each", heads=heads, dim=head_dim),
                 fontsize=11)
    fig.tight_layout()
    return fig


def batches_with_padding(batchings, max_batches=6, pad_to=None):
    """Batches as rectangles: each text a bar of its length, the padding up to the batch's longest in grey.

    ``batchings`` maps a batching's name to its batches, each a list of token counts. One panel per batching,
    its first ``max_batches`` batches stacked; the title gives the padding share of everything drawn.
    ``pad_to`` maps a batching's name to a fixed length its batches are padded to (e.g. {"fixed": 128}).
    """
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, len(batchings), figsize=(4.2 * len(batchings), 4.6), squeeze=False)
    pad_to = pad_to or {}
    longest = max([max(batch) for batches in batchings.values() for batch in batches[:max_batches]]
                  + list(pad_to.values()))
    for ax, (name, batches) in zip(axes.flat, batchings.items()):
        y, real, padded = 0, 0, 0
        for batch in batches[:max_batches]:
            width = pad_to.get(name, max(batch))
            for length in batch:
                ax.add_patch(Rectangle((0, y), length, 0.9, facecolor="#4a7fb0", edgecolor="none"))
                ax.add_patch(Rectangle((length, y), width - length, 0.9, facecolor="#cccccc", edgecolor="none"))
                y += 1
                real, padded = real + length, padded + width
            ax.axhline(y + 0.2, color="black", linewidth=1.0)
            y += 0.5
        ax.set_xlim(0, longest * 1.02)
        ax.set_ylim(y, -0.3)
        ax.set_yticks([])
        ax.set_xlabel(tr("tokens"))
        ax.set_title(tr("{name}: {share:.0%} padding", name=name, share=1 - real / padded if padded else 0),
                     fontsize=10)
    fig.suptitle(tr("Batches as rectangles: text in blue, padding in grey (one line per text)"), fontsize=11)
    fig.tight_layout()
    return fig


def attention_with_and_without_mask(tokens, with_mask, without_mask, layer):
    """One layer's attention (averaged over its heads) for a padded text, with and without the attention mask.

    ``with_mask`` and ``without_mask`` are (tokens, tokens) arrays of weights; the [PAD] columns are framed,
    so that the weight the unmasked model puts on padding is visible, and the masked one's zero.
    """
    import numpy as np

    with_mask, without_mask = np.asarray(with_mask, dtype=float), np.asarray(without_mask, dtype=float)  # or tensors
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    pads = [i for i, token in enumerate(tokens) if token == "[PAD]"]
    for ax, weights, title in ((axes[0], without_mask, tr("without the mask")),
                               (axes[1], with_mask, tr("with the mask"))):
        weights = np.asarray(weights)
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=float(max(np.max(with_mask), np.max(without_mask))))
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
        if pads:
            ax.add_patch(plt.Rectangle((pads[0] - 0.5, -0.5), len(pads), len(tokens), fill=False,
                                       edgecolor="#e05050", linewidth=2))
        real = [i for i in range(len(tokens)) if i not in pads]
        on_pads = weights[np.ix_(real, pads)].sum(axis=1).mean() if pads else 0.0
        ax.set_title(tr("{title}: {share:.0%} of the real tokens' attention on [PAD]", title=title,
                        share=on_pads), fontsize=10)
        ax.set_xlabel(tr("key (attended to)"))
        ax.set_ylabel(tr("query (attending)"))
    fig.suptitle(tr("Layer {layer}, mean over heads; [PAD] columns framed in red", layer=layer), fontsize=11)
    fig.tight_layout()
    return fig


def learning_rate_schedule(rates, warmup_steps):
    """The learning rate at every step, as a scheduler gave it: warm-up to the peak, then the decay."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(range(1, len(rates) + 1), rates, color="#4a7fb0")
    ax.axvline(warmup_steps, color="grey", linestyle=":")
    peak = max(rates)
    ax.annotate(tr("end of warm-up: step {step}", step=warmup_steps), xy=(warmup_steps, peak),
                xytext=(warmup_steps + 0.05 * len(rates), peak * 0.95), fontsize=9,
                arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.set_xlabel(tr("step"))
    ax.set_ylabel(tr("learning rate"))
    ax.set_title(tr("Linear warm-up, then linear decay to zero ({steps} steps)", steps=len(rates)), fontsize=11)
    fig.tight_layout()
    return fig
