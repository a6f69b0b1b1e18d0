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
