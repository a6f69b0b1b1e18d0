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


# --- notebook 02a's attention, reused by 02b from course/transformer.py -------------------------------------

def test_notebook_02a_builds_the_same_attention_that_02b_imports():
    """02b imports attention and MultiHeadAttention instead of repeating 02a's cells: they must stay one code."""
    import ast
    import inspect

    import nbformat

    from course import transformer

    notebook = nbformat.read(torchnlp.ROOT / "notebooks" / "02a_self_attention.ipynb", as_version=4)
    defined = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    defined[node.name] = ast.dump(node)
    for name in ("attention", "MultiHeadAttention"):
        in_module = ast.dump(ast.parse(inspect.getsource(getattr(transformer, name))).body[0])
        # the notebook calls the module's masked_softmax through torchnlp; otherwise the code is the same
        assert defined[name].replace("Attribute(value=Name(id='torchnlp', ctx=Load()), attr='masked_softmax', "
                                     "ctx=Load())", "Name(id='masked_softmax', ctx=Load())") == in_module, name


def test_multi_head_attention_masks_padding_and_keeps_the_shape():
    torch.manual_seed(0)
    layer = torchnlp.MultiHeadAttention(d_model=16, num_heads=4).eval()
    x = torch.randn(2, 5, 16)
    real = torch.tensor([[True] * 5, [True, True, True, False, False]])
    with torch.no_grad():
        out, weights = layer(x, key_padding_mask=real)
        alone, _ = layer(x[1:, :3], key_padding_mask=real[1:, :3])
    assert out.shape == x.shape and weights.shape == (2, 4, 5, 5)
    assert torch.all(weights[1, :, :, 3:] == 0)
    torch.testing.assert_close(out[1, :3], alone[0], atol=1e-6, rtol=1e-5)  # padding changes nothing real
