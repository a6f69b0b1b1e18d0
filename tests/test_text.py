import collections

import torch

import torchnlp


def test_basic_english_tokenizer_matches_torchtext():
    assert torchnlp.tokenize("Hello, World! It's (really) 3.5?") == [
        "hello", ",", "world", "!", "it", "'", "s", "(", "really", ")", "3", ".", "5", "?"]


def test_vocab_reserves_pad_and_unk_and_orders_by_frequency_then_token():
    vocab = torchnlp.build_vocab(["b a c a", "c a"])
    assert vocab.get_itos() == ["<pad>", "<unk>", "a", "c", "b"]
    assert (vocab["<pad>"], vocab["<unk>"], vocab["a"], vocab["never-seen"]) == (0, 1, 2, 1)
    assert vocab.lookup_tokens([2, 4, 1]) == ["a", "b", "<unk>"]
    assert vocab["c"] == 3 and len(vocab) == 5


def test_min_freq_drops_rare_tokens_and_ngrams_add_bigrams():
    vocab = torchnlp.build_vocab(["new york is big", "new york"], ngrams=2, min_freq=2)
    assert vocab.get_itos() == ["<pad>", "<unk>", "new", "new york", "york"]
    assert torchnlp.encode("New York is", vocab, ngrams=2) == [2, 4, 1, 3, 1]


def test_vocab_is_built_from_the_training_split_only(ag_news):
    train, test, _, vocab = ag_news
    counts = collections.Counter(t for _, text in train for t in torchnlp.tokenize(text))
    assert len(vocab) == len(counts) + 2
    test_tokens = [t for _, text in test for t in torchnlp.tokenize(text)]
    assert any(vocab[t] == torchnlp.UNK_IDX for t in test_tokens)


def test_padify_pads_with_zero_to_the_longest():
    vocab = torchnlp.build_vocab(["a b c", "a"])
    labels, ids = torchnlp.padify([(1, "a b c"), (3, "a")], vocab)
    assert labels.tolist() == [1, 3]
    assert ids.tolist() == [[2, 3, 4], [2, 0, 0]]
    assert (ids != torchnlp.PAD_IDX).sum(1).tolist() == [3, 1]
    assert torchnlp.padify([(0, "a b c")], vocab, max_len=2)[1].tolist() == [[2, 3]]


def test_offsetify_concatenates_with_offsets_for_embedding_bag():
    vocab = torchnlp.build_vocab(["a b c", "a"])
    labels, ids, offsets = torchnlp.offsetify([(0, "a b c"), (2, "a"), (1, "b c")], vocab)
    assert ids.tolist() == [2, 3, 4, 2, 3, 4]
    assert offsets.tolist() == [0, 3, 4]
    bag = torch.nn.EmbeddingBag(len(vocab), 2, mode="sum")
    assert bag(ids, offsets).shape == (3, 2)
