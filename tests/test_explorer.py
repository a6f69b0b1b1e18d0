"""course/explorer.py and course/attention_views.py: extraction, selection, word pieces to words, views, the
widget driven from code, the static fallback and the playground. Tiny random models with the real bert/
tokenizer; one test loads bert/ itself."""
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn as nn
from transformers import BertConfig, BertForSequenceClassification

import torchnlp
from course import explorer

CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
TEXT = "Federer beats Nadal at Wimbledon. Fans cheered."


@pytest.fixture(scope="module")
def tiny_bert(tokenizer):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=4)
    model = BertForSequenceClassification(config)
    return explorer.BertAttention(model, tokenizer, CLASSES, max_length=64, name="tiny BERT")


class TinyWordLevel(nn.Module):
    """Notebook 02's interface: ``model(ids, return_attention=True) -> (logits, [(batch, heads, T, T)] per layer)``."""

    def __init__(self, vocab_size, d_model=16, heads=2, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=torchnlp.PAD_IDX)
        self.layers = nn.ModuleList(nn.MultiheadAttention(d_model, heads, batch_first=True) for _ in range(layers))
        self.head = nn.Linear(d_model, 4)

    def forward(self, ids, return_attention=False):
        padding = ids == torchnlp.PAD_IDX
        x, maps = self.embed(ids), []
        for layer in self.layers:
            out, weights = layer(x, x, x, key_padding_mask=padding, average_attn_weights=False)
            x = x + out
            maps.append(weights)
        logits = self.head((x * ~padding.unsqueeze(-1)).sum(1) / (~padding).sum(1, keepdim=True))
        return (logits, maps) if return_attention else logits


@pytest.fixture(scope="module")
def word_level():
    torch.manual_seed(0)
    vocab = torchnlp.build_vocab(["federer beats nadal at wimbledon", "fans cheered the final"])
    return explorer.WordLevelAttention(TinyWordLevel(len(vocab)), vocab, CLASSES)


def rows_sum_to_one(weights):
    return np.allclose(np.asarray(weights).sum(-1), 1.0, atol=1e-5)


# --- extraction ------------------------------------------------------------------------------------------

def test_bert_extraction(tiny_bert):
    attention = tiny_bert(TEXT)
    assert attention.tokens[0] == "[CLS]" and attention.tokens[-1] == "[SEP]"
    assert attention.weights.shape == (2, 4, len(attention.tokens), len(attention.tokens))
    assert rows_sum_to_one(attention.weights)
    assert attention.classes == CLASSES and np.isclose(attention.probabilities.sum(), 1.0)
    assert attention.word_ids[0] is None and attention.word_ids[-1] is None


def test_padding_is_never_shown(tiny_bert, word_level):
    for adapter in (tiny_bert, word_level):
        plain, padded = adapter(TEXT), adapter(TEXT, pad_to=40)
        assert padded.tokens == plain.tokens
        assert not any(t in ("[PAD]", torchnlp.PAD) for t in padded.tokens)
        assert padded.weights.shape == plain.weights.shape and rows_sum_to_one(padded.weights)
        np.testing.assert_allclose(padded.weights, plain.weights, atol=1e-5)
        np.testing.assert_allclose(padded.probabilities, plain.probabilities, atol=1e-5)


def test_word_pieces_align_to_words(tiny_bert):
    attention = tiny_bert(TEXT)
    pieces = attention.tokens.index("nad")
    assert attention.tokens[pieces:pieces + 2] == ["nad", "##al"]
    assert attention.word_ids[pieces] == attention.word_ids[pieces + 1]
    assert attention.words[attention.word_ids[pieces]] == "Nadal"  # as written, from the offsets
    words = attention.in_words()
    assert words.tokens == ["[CLS]", "Federer", "beats", "Nadal", "at", "Wimbledon", ".", "Fans", "cheered", ".",
                            "[SEP]"]
    assert words.weights.shape[-1] == len(words.tokens) and rows_sum_to_one(words.weights)


def test_merge_word_pieces_sums_keys_and_averages_queries():
    weights = np.array([[0.5, 0.25, 0.25],
                        [0.2, 0.3, 0.5],
                        [0.0, 0.6, 0.4]])
    groups = explorer.word_groups([None, 0, 0])
    assert groups == [[0], [1, 2]]
    merged = explorer.merge_word_pieces(weights, groups)
    np.testing.assert_allclose(merged, [[0.5, 0.5], [0.1, 0.9]])
    assert explorer.word_groups([None, 0, 1, 1, None, 2]) == [[0], [1], [2, 3], [4], [5]]


def test_word_level_adapter(word_level):
    word_level.model.train()
    attention = word_level("Federer beats Roddick at Wimbledon")
    assert word_level.model.training  # the adapter's eval() does not leak
    assert attention.tokens == ["federer", "beats", "roddick (unk)", "at", "wimbledon"]
    assert attention.words == ["federer", "beats", "roddick", "at", "wimbledon"]
    assert attention.weights.shape == (2, 2, 5, 5) and rows_sum_to_one(attention.weights)
    assert attention.in_words().tokens == attention.words


def test_base_checkpoint_has_attention_and_no_probabilities():
    adapter = explorer.BertAttention.from_pretrained(torchnlp.bert_model_path())
    attention = adapter("The cat sat on the mat.")
    assert attention.weights.shape[:2] == (6, 12) and rows_sum_to_one(attention.weights)
    assert attention.probabilities is None and attention.classes is None
    assert adapter.model.config._attn_implementation == "eager"


@pytest.mark.parametrize("bad, kind", [(None, TypeError), (7, TypeError), ("", ValueError), ("   ", ValueError)])
def test_bad_text_is_refused(tiny_bert, word_level, bad, kind):
    for adapter in (tiny_bert, word_level):
        with pytest.raises(kind, match="text"):
            adapter(bad)


# --- selection and views ---------------------------------------------------------------------------------

def test_select_layer_and_head(tiny_bert):
    weights = tiny_bert(TEXT).weights
    np.testing.assert_array_equal(explorer.select(weights, 1, 2), weights[1, 2])
    np.testing.assert_array_equal(explorer.select(weights, -1, 0), weights[1, 0])
    np.testing.assert_allclose(explorer.select(weights, 0, "mean"), weights[0].mean(0))
    np.testing.assert_allclose(explorer.select(weights, 0, None), weights[0].mean(0))
    for layer, head in [(2, 0), (0, 4), ("1", 0), (0, 1.5)]:
        with pytest.raises(ValueError, match="layer|head"):
            explorer.select(weights, layer, head)


def test_views(tiny_bert):
    attention = tiny_bert(TEXT)
    n = len(attention.tokens)
    shown = explorer.view(attention, "from", layer=-1, head=1, token=0)
    np.testing.assert_array_equal(shown.data, attention.weights[1, 1, 0])
    assert shown.layer == 1 and "[CLS]" in shown.title
    assert explorer.view(attention, "matrix", layer=0, head=3).data.shape == (n, n)
    assert explorer.view(attention, "heads", layer=0).data.shape == (4, n, n)
    assert explorer.view(attention, "from", words=True).data.shape == (len(attention.in_words().tokens),)
    with pytest.raises(ValueError, match="token"):
        explorer.view(attention, "from", token=n)
    with pytest.raises(ValueError, match="view"):
        explorer.view(attention, "sideways")


# --- the widget, driven from code ------------------------------------------------------------------------

def figure_data(figure):
    """What the figure's main panel plots: bar heights, or the image array(s)."""
    main = figure.subfigs[0]
    images = [ax.images[0].get_array().data for ax in main.axes if ax.images]
    if images:
        return np.array(images)
    return np.array([patch.get_height() for patch in main.axes[0].patches])


def test_widget_driven_from_code(tiny_bert):
    ex = explorer.Explorer(tiny_bert, TEXT, interactive=True)
    attention = ex.attention
    np.testing.assert_allclose(figure_data(ex.figure), explorer.select(attention.weights, -1)[0])
    assert ex.image.value[:8] == b"\x89PNG\r\n\x1a\n"

    ex.head.value = 2
    np.testing.assert_allclose(figure_data(ex.figure), attention.weights[1, 2, 0])
    ex.layer.value = 0
    np.testing.assert_allclose(figure_data(ex.figure), attention.weights[0, 2, 0])
    ex.token.value = 3
    np.testing.assert_allclose(figure_data(ex.figure), attention.weights[0, 2, 3])
    before = ex.image.value
    ex.kind.value = "matrix"
    np.testing.assert_allclose(figure_data(ex.figure), [attention.weights[0, 2]])
    assert ex.image.value != before and ex.token.disabled
    ex.kind.value = "heads"
    np.testing.assert_allclose(figure_data(ex.figure), attention.weights[0])
    ex.words.value = True
    np.testing.assert_allclose(figure_data(ex.figure), attention.in_words().weights[0])

    ex.text.value = "Stocks fall as oil prices surge."
    assert ex.attention.text == "Stocks fall as oil prices surge." and ex.token.value == 0
    assert [label for label, _ in ex.token.options][1] == "1: Stocks"  # words: the text as written
    np.testing.assert_allclose(figure_data(ex.figure), ex.attention.in_words().weights[0])
    assert len(figure_data(ex.figure)[0]) == 9  # [CLS], 6 words, ".", [SEP]

    shown, image = ex.shown, ex.image.value
    ex.text.value = "   "
    assert "empty" in ex.error and "empty" in ex.message.value
    assert ex.shown is shown and ex.image.value == image  # the last good figure stays
    ex.text.value = "Markets rally."
    assert ex.error is None and ex.message.value == ""


def test_widget_bundle_carries_the_static_figure(tiny_bert):
    bundle = explorer.Explorer(tiny_bert, TEXT, interactive=True)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/png", "application/vnd.jupyter.widget-view+json"}
    assert bundle["text/plain"].startswith("attention explorer:")


def test_static_without_a_front_end(tiny_bert, monkeypatch):
    monkeypatch.delenv("COURSE_WIDGETS", raising=False)
    assert not explorer.has_widget_front_end()  # pytest: no kernel
    shown = []
    monkeypatch.setattr(explorer, "_display", shown.append)
    ex = explorer.show(tiny_bert, TEXT, kind="matrix", layer=0, head=1)
    assert shown == [ex] and ex.root is None
    assert set(ex._repr_mimebundle_()) == {"text/plain", "image/png"}
    ex.update(head=2, layer=1)  # without widgets the same settings are passed to update
    np.testing.assert_allclose(figure_data(ex.figure), [ex.attention.weights[1, 2]])


def test_front_end_guess(monkeypatch):
    import IPython

    kernel_shell = types.SimpleNamespace(kernel=object(), user_ns={})
    monkeypatch.setattr(IPython, "get_ipython", lambda: kernel_shell)
    monkeypatch.delenv("COURSE_WIDGETS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not explorer.has_widget_front_end()  # a kernel under nbclient or nbval
    monkeypatch.setenv("JPY_SESSION_NAME", "notebooks/06b_inside_the_model.ipynb")
    assert explorer.has_widget_front_end()  # a kernel that JupyterLab started
    monkeypatch.setenv("COURSE_WIDGETS", "0")
    assert not explorer.has_widget_front_end()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    monkeypatch.setenv("COURSE_WIDGETS", "1")
    assert not explorer.has_widget_front_end()


def test_missing_ipywidgets_degrades_to_the_figure(tiny_bert, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    ex = explorer.Explorer(tiny_bert, TEXT, interactive=True)
    assert ex.root is None and set(ex._repr_mimebundle_()) == {"text/plain", "image/png"}


# --- the playground --------------------------------------------------------------------------------------

def test_gradient_x_input(tiny_bert):
    model, tokenizer = tiny_bert.model, tiny_bert.tokenizer
    scores, probabilities, target = explorer.gradient_x_input(model, tokenizer, TEXT)
    encoding = tokenizer(TEXT, return_tensors="pt")
    embeddings = model.get_input_embeddings()(encoding["input_ids"]).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeddings, attention_mask=encoding["attention_mask"]).logits[0]
    assert target == int(logits.argmax())
    (gradient,) = torch.autograd.grad(logits[target], embeddings)
    np.testing.assert_allclose(scores, (gradient * embeddings).sum(-1)[0].detach().numpy(), atol=1e-6)
    assert all(p.grad is None for p in model.parameters())  # nothing accumulates in the model
    other = explorer.gradient_x_input(model, tokenizer, TEXT, target=(target + 1) % 4)[0]
    assert not np.allclose(other, scores)


def test_read_headline(tiny_bert):
    reading = explorer.read_headline(tiny_bert, TEXT)
    words = tiny_bert(TEXT).in_words().tokens
    assert reading.words == words and reading.predicted in CLASSES
    assert reading.attention.shape == reading.saliency.shape == (len(words),)
    assert np.isclose(reading.attention.sum(), 1.0)
    scores = explorer.gradient_x_input(tiny_bert.model, tiny_bert.tokenizer, TEXT)[0]
    assert np.isclose(reading.saliency.sum(), scores.sum())  # pieces add up to words
    figure = explorer.draw_reading(reading)
    assert len(figure.axes) == 3


def test_playground_refuses_bad_headlines(tiny_bert, monkeypatch):
    monkeypatch.setattr(explorer, "_display", lambda obj: None)
    with pytest.raises(TypeError, match="headline is None"):
        explorer.playground(tiny_bert, None)
    with pytest.raises(TypeError, match="headline is int"):
        explorer.playground(tiny_bert, 42)
    with pytest.raises(ValueError, match="headline is empty"):
        explorer.playground(tiny_bert, " ")
    shown = explorer.playground(tiny_bert, TEXT, interactive=True)
    shown.text.value = ""
    assert "empty" in shown.error and shown.reading.headline == TEXT
    shown.text.value = "Oil prices surge."
    assert shown.error is None and shown.reading.headline == "Oil prices surge."


def test_playground_needs_a_classifier(tokenizer):
    base = explorer.BertAttention.from_pretrained(torchnlp.bert_model_path())
    with pytest.raises(ValueError, match="no classifier head"):
        explorer.read_headline(base, TEXT)


def test_mean_pooling_head(tokenizer):
    """The other head notebook 05 can train (torchnlp.BertForMeanPooledClassification) works the same way."""
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=4)
    adapter = explorer.BertAttention(torchnlp.BertForMeanPooledClassification(config), tokenizer, CLASSES,
                                     max_length=64)
    attention = adapter(TEXT, pad_to=40)
    assert "[PAD]" not in attention.tokens and rows_sum_to_one(attention.weights)
    reading = explorer.read_headline(adapter, TEXT)
    assert reading.predicted in CLASSES and np.isclose(reading.probabilities.sum(), 1.0)
