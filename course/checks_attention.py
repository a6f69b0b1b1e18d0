"""The exercises' checks of notebooks 00-02: the data, attention in encoder-decoders, the Transformer."""
from __future__ import annotations

import math
import random

import torch

import torchnlp
from course.feedback import (
    N_,
    NO_ANSWER,
    _call,
    _check,
    _choice,
    _expect_close,
    _expect_shape,
    _expect_tensor,
    _generator,
    _number,
    _position,
    _shape,
    _Wrong,
)
from course.i18n import tr

# ---------------------------------------------------------------------------------------------------------
# Notebook 00 · the data
# ---------------------------------------------------------------------------------------------------------

_WORDS = ("oil prices rise stocks fall team wins cup final election vote chip maker profit storm hits "
          "coast league season quantum").split()


def _random_texts(seed, count=4):
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 9))) + rng.choice(["", ".", "!"])
            for _ in range(count)]


@_check(N_("Exercise 0.1 · Encode and pad a batch"))
def check_encode_and_pad(fn):
    """``fn(texts, vocab)``: token ids of each text, padded with <pad> (0) at the end to the longest text."""
    vocab = torchnlp.build_vocab(_random_texts(0, 6))  # some words of the test texts stay unknown
    for seed in (1, 2):
        texts = _random_texts(seed)
        _, expected = torchnlp.padify([(0, t) for t in texts], vocab)
        got = _expect_tensor(_call(fn, texts, vocab))
        _expect_shape(got, expected.shape, tr("the padded ids (texts, longest text)"))
        if got.dtype != torch.long:
            raise _Wrong(tr("ids must be integers (torch.long) for nn.Embedding, got {dtype}", dtype=got.dtype))
        if torch.equal(got, expected):
            continue
        lengths = [len(torchnlp.tokenize(t)) for t in texts]
        row = next(r for r in range(len(texts)) if not torch.equal(got[r], expected[r]))
        if torch.equal(got[row].flip(0)[got[row].flip(0) != 0].flip(0), expected[row][: lengths[row]]) and \
                got[row, 0] == torchnlp.PAD_IDX:
            raise _Wrong(tr("row {row} is padded at the start; put the padding at the end, after the real tokens",
                            row=row))
        if (got[row, lengths[row]:] != torchnlp.PAD_IDX).any():
            raise _Wrong(tr("row {row}: after its {count} real tokens the row must hold <pad> = 0", row=row,
                            count=lengths[row]))
        column = int((got[row] != expected[row]).nonzero()[0])
        token = torchnlp.tokenize(texts[row])[column]
        raise _Wrong(tr("row {row}, position {column} (token {token!r}): expected id {expected}, got {got} "
                        "(look tokens up with vocab[token]: unknown ones give <unk> = 1)", row=row, column=column,
                        token=token, expected=expected[row, column].item(), got=got[row, column].item()))
    return tr("tokenize, look up, pad at the end with <pad> = 0: this is torchnlp.padify.")


@_check(N_("Exercise 0.2 · Offsets for nn.EmbeddingBag"))
def check_offsets(fn):
    """``fn(lengths)``: where each text starts in the concatenated ids, a LongTensor starting at 0."""
    rng = random.Random(3)
    for count in (1, 4, 7):
        lengths = [rng.randint(1, 12) for _ in range(count)]
        expected = torch.tensor([0, *lengths[:-1]]).cumsum(0)
        got = _expect_tensor(_call(fn, lengths))
        if _shape(got) == (count + 1,):
            raise _Wrong(tr("{count} texts need {count} offsets (one start per text), you returned {returned}: "
                            "leave out the end of the last text", count=count, returned=count + 1))
        _expect_shape(got, (count,), tr("the offsets of {count} texts", count=count))
        if torch.equal(got, torch.tensor(lengths).cumsum(0)):
            raise _Wrong(tr("these are where the texts end; offsets are where they start, so the first one is 0"))
        if got[0] != 0:
            raise _Wrong(tr("the first text starts at position 0, your first offset is {offset}",
                            offset=got[0].item()))
        _expect_close(got.float(), expected.float(), tr("the offsets for lengths {lengths}", lengths=lengths))
    return tr("offsets are the lengths shifted by one and summed, starting at 0, as in torchnlp.offsetify.")


def _split_rows(rows, what):
    """The (label, text) rows of a split as the notebook has them, or feedback naming what it got instead."""
    if not isinstance(rows, (list, tuple)) or not rows or not all(
            isinstance(row, (list, tuple)) and len(row) == 2 and isinstance(row[1], str) for row in rows):
        raise _Wrong(tr("{what} must be the (label, text) rows that torchnlp.load_dataset returned, got a {kind}: "
                        "run the notebook's first cells again", what=what, kind=type(rows).__name__))
    return rows


def _share(answer):
    """A predicted share: a fraction (0.07) or a percentage (7); anything else is feedback."""
    if not math.isfinite(answer):
        raise _Wrong(tr("write your prediction as a finite number, not {answer}", answer=answer))
    share = answer / 100 if answer > 1 else answer
    if not 0 <= share <= 1:
        raise _Wrong(tr("a share lies between 0 and 1 (or 0% and 100%), not {answer:g}", answer=answer))
    return share


@_check(N_("Exercise 0.3 · Predict, then measure: a smaller vocabulary"))
def check_unk_share_prediction(my_prediction, train_dataset, test_dataset):
    """What share of the test split's tokens is <unk> when the vocabulary keeps only the words seen at least twice
    in training (``min_freq=2``)? Measured here from the two splits, never taken from a stored run; a prediction
    counts when the rise above the ``min_freq=1`` share that it implies is within half of the measured rise."""
    share = _share(_number(my_prediction))
    train_texts = [text for _, text in _split_rows(train_dataset, tr("the training split"))]
    test_tokens = [token for _, text in _split_rows(test_dataset, tr("the test split"))
                   for token in torchnlp.tokenize(text)]
    if not test_tokens:
        raise _Wrong(tr("the test split given to this check has no tokens: run the notebook's first cells again"))
    vocab, vocab_min2 = (torchnlp.build_vocab(train_texts, min_freq=n) for n in (1, 2))
    before, after = (sum(v[token] == torchnlp.UNK_IDX for token in test_tokens) / len(test_tokens)
                     for v in (vocab, vocab_min2))
    rise, dropped = after - before, len(vocab) - len(vocab_min2)
    measured = tr("min_freq=2 drops {dropped:,} of the {words:,} words (all those seen exactly once in training), "
                  "and the test split's <unk> share goes from {before:.2%} to {after:.2%}: the dropped words cover "
                  "{rise:.2%} of the test tokens", dropped=dropped, words=len(vocab) - 2,  # less <pad> and <unk>
                  before=before, after=after, rise=rise)
    if share <= before + 1e-9:
        raise _Wrong(tr("you predicted {share:.2%}, no more than the {before:.2%} of min_freq=1. A smaller "
                        "vocabulary can only make more tokens unknown: every word it keeps was known before, and "
                        "the test split uses some of the words it drops. Measured: {measured}.", share=share,
                        before=before, measured=measured))
    if share < before + rise / 2:
        raise _Wrong(tr("you predicted {share:.2%}: too low. Measured: {measured}. Each dropped word is rare, but "
                        "there are {dropped:,} of them: rare words are so many that together they make up a "
                        "noticeable share of any new text, as the words never seen in training already show.",
                        share=share, measured=measured, dropped=dropped))
    if share > before + 1.5 * rise:
        raise _Wrong(tr("you predicted {share:.2%}: too high. Measured: {measured}. The vocabulary loses many "
                        "words, but only its rarest: the frequent words, which make up most of any text, all stay.",
                        share=share, measured=measured))
    return tr("You predicted {share:.2%}. Measured: {measured}. Many words, each rare: that is why a word-level "
              "vocabulary never covers new text, and why BERT spells rare words from pieces (notebook 03).",
              share=share, measured=measured)


# ---------------------------------------------------------------------------------------------------------
# Notebook 01 · attention in recurrent encoder-decoders
# ---------------------------------------------------------------------------------------------------------

def _additive_scores(query, keys, W_q, W_k, v):
    return torch.tanh((query @ W_q).unsqueeze(1) + keys @ W_k) @ v


@_check(N_("Exercise 1.2 · Additive attention scores"))
def check_additive_scores(fn):
    """``fn(query, keys, W_q, W_k, v)``: e_i = v^T tanh(W_q s + W_k h_i) for every key, shape (batch, keys)."""
    g = _generator(11)
    batch, length, query_size, key_size, size = 2, 5, 3, 4, 6
    query, keys = torch.randn(batch, query_size, generator=g), torch.randn(batch, length, key_size, generator=g)
    W_q, W_k = torch.randn(query_size, size, generator=g), torch.randn(key_size, size, generator=g)
    v = torch.randn(size, generator=g)
    got = _expect_tensor(_call(fn, query, keys, W_q, W_k, v))
    expected = _additive_scores(query, keys, W_q, W_k, v)
    _expect_shape(got, expected.shape, tr("the scores (batch, keys)"))
    without_tanh = ((query @ W_q).unsqueeze(1) + keys @ W_k) @ v
    if torch.allclose(got, without_tanh, atol=1e-5) and not torch.allclose(got, expected, atol=1e-5):
        raise _Wrong(tr("the scores match v^T (W_q s + W_k h_i) without the tanh: apply torch.tanh before v"))
    _expect_close(got, expected, tr("the scores"))
    return tr("one score per key: the query and each key projected, added, squashed by tanh, read by v.")


def _masked_softmax(scores, mask):
    return torchnlp.masked_softmax(scores, mask)


@_check(N_("Exercise 1.3 · A masked softmax"))
def check_masked_softmax(fn):
    """``fn(scores, mask)``: softmax over the last dimension where mask is True, exact 0 elsewhere, no NaN."""
    g = _generator(12)
    scores = torch.randn(4, 6, generator=g) * 3
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0]],
                        dtype=torch.bool)
    got = _expect_tensor(_call(fn, scores.clone(), mask.clone()))
    _expect_shape(got, scores.shape, tr("the weights"))
    empty = ~mask.any(-1)
    nan_rows = got.isnan().any(-1)
    if nan_rows.any():
        row = int(nan_rows.nonzero()[0])
        if empty[row]:
            raise _Wrong(tr("row {row} is NaN: it has no valid position, and it must come out as zeros, not NaN "
                            "(a softmax over only -inf is 0/0; fill with a large negative number, or zero the row)",
                            row=row))
        raise _Wrong(tr("row {row} has NaN", row=row))
    if (got[~mask] != 0).any():
        index = (~mask & (got != 0)).nonzero()[0].tolist()
        raise _Wrong(tr("masked positions are not zero: position {position} is masked but has weight {weight:.4g}",
                        position=_position(index), weight=got[tuple(index)].item()))
    sums = got[~empty].sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        row = int((~empty).nonzero()[int(((sums - 1).abs() > 1e-5).nonzero()[0])])
        raise _Wrong(tr("rows do not sum to 1: row {row} sums to {total:.4g}", row=row, total=got[row].sum().item()))
    _expect_close(got, _masked_softmax(scores, mask), tr("the weights"))
    return tr("valid positions share the weight, masked ones get exactly 0, and an empty row is zeros, not NaN.")


PAD, BOS, EOS = 0, 1, 2  # the digit-reversal task of notebook 01: digits 0-9 are tokens 3-12


def _reversal_batch(inputs):
    pad = torch.nn.utils.rnn.pad_sequence
    source = pad([torch.tensor(x) for x in inputs], batch_first=True, padding_value=PAD)
    target = pad([torch.tensor([BOS, *x[::-1], EOS]) for x in inputs], batch_first=True, padding_value=PAD)
    return source, target


@_check(N_("Exercise 1.1 · A batch of the reversal task"))
def check_reversal_batch(fn):
    """``fn(inputs)``: (source, target), source padded, each target <bos> + the reversed digits + <eos>, padded."""
    rng = random.Random(13)
    inputs = [[rng.randint(3, 12) for _ in range(n)] for n in (3, 6, 4)]
    got = _call(fn, [list(x) for x in inputs])
    if not isinstance(got, tuple) or len(got) != 2:
        raise _Wrong(tr("return two tensors, (source, target)"))
    source, target = (_expect_tensor(t, name) for t, name in zip(got, ("source", "target")))
    expected_source, expected_target = _reversal_batch(inputs)
    _expect_shape(source, expected_source.shape, tr("source (strings, longest string)"))
    if not torch.equal(source, expected_source):
        raise _Wrong(tr("source should be the input digits unchanged, padded at the end with <pad> = 0"))
    _expect_shape(target, expected_target.shape, tr("target (strings, longest string + 2 for <bos> and <eos>)"))
    for row, x in enumerate(inputs):
        if not torch.equal(target[row], expected_target[row]):
            if target[row, 0] != BOS:
                raise _Wrong(tr("target row {row} must start with <bos> = {bos}, got {got}", row=row, bos=BOS,
                                got=target[row, 0].item()))
            if target[row, 1:1 + len(x)].tolist() == x:
                raise _Wrong(tr("target row {row} holds the digits in input order: reverse them (x[::-1])", row=row))
            if target[row, len(x) + 1] != EOS:
                raise _Wrong(tr("target row {row} must end with <eos> = {eos} right after its {count} digits",
                                row=row, eos=EOS, count=len(x)))
            raise _Wrong(tr("target row {row}: expected {expected}, got {got}", row=row,
                            expected=expected_target[row].tolist(), got=target[row].tolist()))
    return tr("the decoder reads <bos> and the reversed digits, and must predict each next token up to <eos>.")


# ---------------------------------------------------------------------------------------------------------
# Notebook 02 · from attention to the Transformer
# ---------------------------------------------------------------------------------------------------------

@_check(N_("Exercise 2.1 · Sinusoidal positional encoding"))
def check_positional_encoding(fn):
    """``fn(max_len, d_model)``: the (max_len, d_model) sinusoidal table, sin on even dimensions, cos on odd."""
    for max_len, d_model in ((7, 6), (50, 16)):
        got = _expect_tensor(_call(fn, max_len, d_model))
        expected = torchnlp.positional_encoding(max_len, d_model)
        _expect_shape(got, expected.shape, tr("the encoding of {max_len} positions x {d_model} dimensions",
                                              max_len=max_len, d_model=d_model))
        swapped = torch.empty_like(expected)
        swapped[:, 0::2], swapped[:, 1::2] = expected[:, 1::2], expected[:, 0::2]
        if torch.allclose(got.float(), swapped, atol=1e-4):
            raise _Wrong(tr("sine and cosine are swapped: even dimensions (0, 2, ...) take sin, odd ones cos"))
        _expect_close(got, expected, tr("PE for max_len={max_len}, d_model={d_model}", max_len=max_len,
                                        d_model=d_model), atol=1e-4)
    return tr("each pair of dimensions is a sine and a cosine of one frequency, from 1 down to 1/10000.")


def _attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores, -1) if mask is None else torchnlp.masked_softmax(scores, mask)
    return weights @ v, weights


def _attention_pair(got):
    if not isinstance(got, tuple) or len(got) != 2:
        raise _Wrong(tr("your function should return two tensors, (output, weights)"))
    return _expect_tensor(got[0], tr("the output")), _expect_tensor(got[1], tr("the weights"))


@_check(N_("Exercise 2.2 · Scaled dot-product attention"))
def check_scaled_dot_product_attention(fn):
    """``fn(q, k, v, mask=None)``: (softmax(q k^T / sqrt(d_k)) v, weights), mask True = may attend."""
    g = _generator(22)
    q, k, v = torch.randn(2, 3, 8, generator=g), torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 4, generator=g)
    mask = (torch.arange(5) < torch.tensor([5, 3])[:, None])[:, None, :]  # (batch, 1, keys)
    for use_mask in (False, True):
        expected_out, expected_weights = _attention(q, k, v, mask if use_mask else None)
        out, weights = _attention_pair(_call(fn, q, k, v, mask) if use_mask else _call(fn, q, k, v))
        label = tr("with the padding mask") if use_mask else tr("without a mask")
        _expect_shape(weights, expected_weights.shape, tr("the weights {label} (batch, queries, keys)", label=label))
        _expect_shape(out, expected_out.shape, tr("the output {label} (batch, queries, value size)", label=label))
        unscaled = torch.softmax(q @ k.transpose(-2, -1), -1)
        if not use_mask and torch.allclose(weights, unscaled, atol=1e-5):
            raise _Wrong(tr("the weights are softmax(q k^T) without the scale: divide the scores by sqrt(d_k)"))
        if use_mask and (weights[~mask.expand_as(weights)] != 0).any():
            raise _Wrong(tr("masked positions are not zero: keys where the mask is False must get weight 0"))
        sums = weights.sum(-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
            raise _Wrong(tr("the weights' rows do not sum to 1 ({label}): softmax over the keys, the last dimension",
                            label=label))
        _expect_close(weights, expected_weights, tr("the weights {label}", label=label))
        _expect_close(out, expected_out, tr("the output {label}", label=label))
    return tr("scores scaled by 1/sqrt(d_k), a masked softmax over the keys, a weighted sum of the values.")


SCALING_CHOICES = ("a", "b", "c", "d")  # the options themselves are notebook 02's markdown


@_check(N_("Exercise 2.3 · Change one thing: remove the scaling"))
def check_scaling_answer(my_answer):
    """Multiple choice: what happens to the mean largest weight without 1/sqrt(d_k)?"""
    answer = _choice(my_answer, SCALING_CHOICES, missing=NO_ANSWER)
    why = tr("unscaled dot products of d_k-dimensional vectors spread like sqrt(d_k), so one key wins nearly all "
             "the weight, and a saturated softmax passes a near-zero gradient to every score, the winner's included "
             "(its Jacobian diag(p) - p p^T is near 0 when p is one-hot): training slows down")
    if answer != "b":
        raise _Wrong(tr("({answer}) is not what happens: without the scaling the largest weight climbs towards 1 as "
                        "d_k grows (the cell below measures it); {why}.", answer=answer, why=why))
    return "(b): " + why + "."


def _head(x, W_q, W_k, W_v, key_padding_mask):
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    return _attention(q, k, v, key_padding_mask[:, None, :])


@_check(N_("Exercise 2.4 · One head of multi-head attention"))
def check_attention_head(fn):
    """``fn(x, W_q, W_k, W_v, key_padding_mask)``: one head's (output, weights) for x (batch, length, d_model)."""
    g = _generator(24)
    batch, length, d_model, d_head = 2, 5, 12, 3
    x = torch.randn(batch, length, d_model, generator=g)
    W_q, W_k, W_v = (torch.randn(d_model, d_head, generator=g) / math.sqrt(d_model) for _ in range(3))
    real = torch.arange(length) < torch.tensor([5, 2])[:, None]
    out, weights = _attention_pair(_call(fn, x, W_q, W_k, W_v, real))
    expected_out, expected_weights = _head(x, W_q, W_k, W_v, real)
    _expect_shape(weights, expected_weights.shape, tr("the weights (batch, length, length)"))
    _expect_shape(out, expected_out.shape, tr("the output (batch, length, d_head)"))
    if (weights[~real[:, None, :].expand_as(weights)] != 0).any():
        raise _Wrong(tr("padded keys get weight: the mask must hide the padded *keys* (columns), mask[:, None, :]"))
    q, k = x @ W_q, x @ W_k
    wrong_scale = torchnlp.masked_softmax(q @ k.transpose(-2, -1) / math.sqrt(d_model), real[:, None, :])
    if torch.allclose(weights, wrong_scale, atol=1e-5):
        raise _Wrong(tr("the scores are divided by sqrt(d_model) = sqrt({d_model}); a head scales by its own size, "
                        "sqrt(d_head) = sqrt({d_head})", d_model=d_model, d_head=d_head))
    _expect_close(weights, expected_weights, tr("the weights"))
    _expect_close(out, expected_out, tr("the output"))
    return tr("project, attend with the padding mask on the keys, and the head's output has d_head columns.")
