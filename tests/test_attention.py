import matplotlib
import pytest
import torch

import torchnlp

matplotlib.use("Agg")


def test_masked_positions_get_exactly_zero_and_rows_sum_to_one():
    scores = torch.randn(3, 5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    weights = torchnlp.masked_softmax(scores, mask)
    assert torch.all(weights[~mask] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    torch.testing.assert_close(weights[0, :3], torch.softmax(scores[0, :3], -1))
    assert weights[2, 0] == 1


def test_a_row_with_no_valid_position_is_zeros_not_nan():
    weights = torchnlp.masked_softmax(torch.randn(2, 4), torch.tensor([[0, 0, 0, 0], [1, 1, 0, 0]]))
    assert not torch.isnan(weights).any()
    assert weights[0].tolist() == [0, 0, 0, 0]
    torch.testing.assert_close(weights[1].sum(), torch.tensor(1.0))


def test_mask_broadcasts_over_query_steps_and_gradients_stay_finite():
    scores = torch.randn(2, 3, 4, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]).unsqueeze(1)  # (batch, 1, source)
    weights = torchnlp.masked_softmax(scores, mask)
    assert weights.shape == (2, 3, 4)
    (weights * torch.randn(2, 3, 4)).sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert torch.all(scores.grad[:, :, 2:] == 0)


def test_masked_softmax_survives_large_scores_and_half_precision():
    scores = torch.tensor([[1e4, -1e4, 3e4]], dtype=torch.float16)
    weights = torchnlp.masked_softmax(scores, torch.tensor([[1, 1, 0]]))
    assert weights.tolist() == [[1.0, 0.0, 0.0]]


def test_positional_encoding_formula_and_shape():
    pe = torchnlp.positional_encoding(50, 16)
    assert pe.shape == (50, 16)
    torch.testing.assert_close(pe[0, 0::2], torch.zeros(8))
    torch.testing.assert_close(pe[0, 1::2], torch.ones(8))
    torch.testing.assert_close(pe[7, 2], torch.sin(torch.tensor(7 / 10000 ** (2 / 16))))
    torch.testing.assert_close(pe[7, 3], torch.cos(torch.tensor(7 / 10000 ** (2 / 16))))
    assert pe.abs().max() <= 1


def test_positional_encoding_refuses_odd_dimension():
    with pytest.raises(ValueError, match="even"):
        torchnlp.positional_encoding(10, 7)


def test_plot_attention_labels_both_axes():
    ax = torchnlp.plot_attention(torch.rand(2, 3), x_labels=["a", "b", "c"], y_labels=["x", "y"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    assert ax.images[0].get_array().shape == (2, 3)
