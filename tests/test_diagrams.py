"""course/diagrams.py: each function returns a figure that carries its labelled boxes."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from course import diagrams  # noqa: E402


def texts(fig):
    return {artist.get_text() for artist in fig.findobj(Text) if artist.get_text()}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_encoder_decoder_attention_labels_every_part():
    fig = diagrams.encoder_decoder_attention("3914", step=2)
    assert isinstance(fig, Figure)
    labels = texts(fig)
    assert {"$h_{1}$", "$h_{2}$", "$h_{3}$", "$h_{4}$", "$c_t$", "$s_{t-1}$", "$s_t$", "context"} <= labels
    assert {"encoder\n(bidirectional GRU)", "decoder\n(GRU)", "output: 1", "so far: 4"} <= labels
    assert any(label.startswith("attention\n") for label in labels)
    # The digit being copied (input position 3 for output step 2 of 4) carries most of the weight.
    assert "$\\alpha$=0.82" in labels and sum(label == "$\\alpha$=0.06" for label in
                                              (t.get_text() for t in fig.findobj(Text))) == 3


def test_encoder_decoder_attention_rejects_a_step_outside_the_output():
    with pytest.raises(ValueError, match="step must be between 1 and 4"):
        diagrams.encoder_decoder_attention("3914", step=5)


def test_transformer_encoder_has_its_sublayers_in_order():
    fig = diagrams.transformer_encoder(num_layers=6)
    labels = texts(fig)
    assert {"token embedding", "positional encoding", "multi-head self-attention", "feed-forward network",
            "Add & Norm", "× 6", "one vector per token", "residual"} <= labels
    heights = {t.get_text(): t.get_position()[1] for t in fig.findobj(Text)}
    assert (heights["token embedding"] < heights["multi-head self-attention"] < heights["feed-forward network"]
            < heights["one vector per token"])


def test_positional_encoding_dials_one_panel_per_position():
    fig = diagrams.positional_encoding_dials(positions=(0, 1, 5, 20), pairs=(0, 8, 31))
    labels = texts(fig)
    assert {"position 0", "position 1", "position 5", "position 20"} <= labels
    assert {"dims 0,1", "dims 16,17", "dims 62,63"} <= labels
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 4


def drawn(fig):
    """The figure renders to a PNG without an error (what a notebook would store)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return texts(fig)


def test_bert_input_adds_three_embeddings_per_token():
    labels = drawn(diagrams.bert_input(("a", "b"), ("c",)))
    assert {"[CLS]", "[SEP]", "token embeddings", "segment embeddings", "position embeddings"} <= labels
    assert {"$E_A$", "$E_B$", "$E_{0}$", "$E_{5}$"} <= labels and "$E_{6}$" not in labels  # 6 tokens
    segments = [t for t in (a.get_text() for a in diagrams.bert_input(("a", "b"), ("c",)).findobj(Text))
                if t in ("$E_A$", "$E_B$")]
    assert segments == ["$E_A$"] * 4 + ["$E_B$"] * 2  # [CLS] a b [SEP] | c [SEP]


def test_bert_input_draws_any_word_piece():
    labels = drawn(diagrams.bert_input(("med", "##ley", "a_b", "{x}", "50%", "^", "\\"), ("$5",)))
    assert {"E[##ley]", "E[a_b]", "E[$5]", "E[CLS]", "E[SEP]"} <= labels


def test_masked_language_model_predicts_only_the_masked_tokens():
    labels = drawn(diagrams.masked_language_model(("[CLS]", "x", "y", "z", "[SEP]"), masked=(2,)))
    assert "[MASK]" in labels and "predict: y" in labels and "y" not in labels
    assert not any(label.startswith("predict: x") for label in labels)
    with pytest.raises(ValueError, match="outside the 5 tokens"):
        diagrams.masked_language_model(("[CLS]", "x", "y", "z", "[SEP]"), masked=(5,))


def test_attention_masks_block_the_future_and_the_padding():
    fig = diagrams.attention_masks(length=4, padding=1)
    drawn(fig)
    causal, padded = (ax.get_images()[0].get_array() for ax in fig.axes[:2])
    assert causal.tolist() == [[j <= i for j in range(4)] for i in range(4)]
    assert padded.tolist() == [[j < 3 for j in range(4)] for _ in range(4)]
    with pytest.raises(ValueError, match="padding must be between"):
        diagrams.attention_masks(length=3, padding=3)


def test_multi_head_shapes_split_and_concatenate():
    labels = drawn(diagrams.multi_head_shapes(tokens=5, d_model=384, heads=6))
    assert "X  (5, 384)" in labels and "head 1: Q, K, V (5, 64)" in labels and "head 6: Q, K, V (5, 64)" in labels
    assert "concatenate the heads: (5, 6 × 64 = 384)" in labels
    with pytest.raises(ValueError, match="does not split into 5 heads"):
        diagrams.multi_head_shapes(d_model=384, heads=5)


def test_batches_with_padding_counts_the_grey():
    fig = diagrams.batches_with_padding({"fixed": [[1, 4], [4, 4]], "bucketed": [[1, 1], [4, 4]]})
    labels = drawn(fig)
    assert {"fixed: 19% padding", "bucketed: 0% padding"} <= labels  # 3 of 16 cells, then none
    grey = [p for p in fig.axes[0].patches if p.get_facecolor()[:3] == pytest.approx((0.8, 0.8, 0.8))]
    assert sum(p.get_width() for p in grey) == 3
    fixed = diagrams.batches_with_padding({"fixed": [[1, 4]]}, pad_to={"fixed": 8})
    assert "fixed: 69% padding" in drawn(fixed)  # 11 of 16 cells


def test_attention_with_and_without_mask_shows_the_weight_on_padding():
    import numpy as np

    tokens = ["[CLS]", "hi", "[SEP]", "[PAD]"]
    unmasked = np.full((4, 4), 0.25)
    masked = np.array([[1 / 3] * 3 + [0.0]] * 4)
    labels = drawn(diagrams.attention_with_and_without_mask(tokens, masked, unmasked, layer=2))
    assert "without the mask: 25% of the real tokens' attention on [PAD]" in labels
    assert "with the mask: 0% of the real tokens' attention on [PAD]" in labels
    import torch  # the notebook passes the model's attention tensors

    labels = drawn(diagrams.attention_with_and_without_mask(tokens, torch.tensor(masked), torch.tensor(unmasked), 2))
    assert "without the mask: 25% of the real tokens' attention on [PAD]" in labels


def test_learning_rate_schedule_marks_the_warmup():
    rates = [min((i + 1) / 5, (50 - i) / 45) for i in range(50)]
    fig = diagrams.learning_rate_schedule(rates, warmup_steps=5)
    labels = drawn(fig)
    assert "end of warm-up: step 5" in labels
    assert list(fig.axes[0].lines[0].get_ydata()) == rates
