"""Self-checks for the course's exercises, and the lesson's quiz.

Every exercise in notebooks 00-06 ends with a call such as ``exercises.check_masked_softmax(masked_softmax)``.
A check

* calls the learner's function on small, seeded random inputs (fast, CPU, the same inputs every run);
* compares the answer with a reference implementation kept in this module (or, for the notebook's own
  helpers, with ``torchnlp``);
* prints feedback a learner can act on ("wrong shape: expected (2, 5), got (5, 2)", "masked positions are
  not zero", "mismatch at position (1, 3): expected 0.25, got 0.31", "returned a list, not a tensor"), or a
  short confirmation when the answer is right;
* returns a :class:`Result` (``status`` is ``"correct"``, ``"wrong"`` or ``"not attempted"``, ``message`` the
  printed text), so that tests can assert on it. In a notebook the result itself displays nothing: the
  printed message is the feedback.

A function that still raises ``NotImplementedError`` (the stub every exercise starts from) and a prediction
left at ``None`` give "not attempted yet", and no exception escapes a check, so "run all" runs through a
notebook whose exercises are not done.

Adding a check: write ``def check_<name>(fn):`` decorated with ``@_check(N_("Exercise N.M · Title"))``. Call the
learner's code only through ``_call(fn, ...)`` (it turns ``NotImplementedError`` into "not attempted" and any
other exception into feedback naming it), raise ``_Wrong(tr("..."))`` with a sentence for the learner when the
answer is wrong, and return the confirmation sentence (``tr("...")``) when it is right. The helpers ``_expect_tensor``,
``_expect_shape`` and ``_expect_close`` produce the usual messages. Then add the reference solution to
``solutions/solutions.py`` and a test in ``tests/test_exercises.py`` that the solution passes, the stub is
"not attempted" and a typical wrong answer is rejected with its specific message.

Everything a learner reads goes through ``tr`` (i18n.py), so the German edition shows it in German: the first
argument is the English text as a plain literal, values go in as named fields
(``tr("expected {expected}, got {got}", expected=..., got=...)``). A text kept in a constant or a table (the
titles, ``STUB``, the quiz) is marked ``N_("...")`` where it is written and translated with ``_shown(text)``
where it is shown, in the language of that moment. Each English text has its German in
i18n/de/strings/exercises.json.

The quiz of notebook 07 lives here too: ``quiz.answer(3, "b")`` says right or wrong with a one-sentence
explanation, ``quiz.reveal(3)`` shows the answer, and an answer left at ``None`` is "not answered yet".
"""
from __future__ import annotations

import copy
import functools
import math
import random
from dataclasses import dataclass
from types import SimpleNamespace

import torch

import torchnlp
from i18n import tr

STATUSES = ("correct", "wrong", "not attempted")


@dataclass
class Result:
    """What a check found: ``status`` in STATUSES and the ``message`` it printed."""
    status: str
    message: str

    @property
    def correct(self):
        return self.status == "correct"

    def _ipython_display_(self):  # the check has printed the message already: show nothing more
        pass


def N_(text):
    """Mark an English text kept in a constant or a table for translation; it comes back unchanged.

    Like the literals passed to ``tr``, the literals passed to ``N_`` are found statically and each must have
    its German in i18n/de/strings/exercises.json; ``_shown`` translates the text when it is shown."""
    return text


def _shown(text, **fields):
    """A text marked with ``N_`` where it was stored, in the course's language at the moment it is shown."""
    return tr(text, **fields)


class _Wrong(Exception):
    """Raised inside a check: the answer is wrong, and the message says how."""


class _NotAttempted(Exception):
    """Raised inside a check: the function is still the stub, or the prediction is still None."""


def _check(title):
    """Turn a check body into a check: catch its verdict, print it, return a Result."""
    def decorate(body):
        @functools.wraps(body)
        def check(*args, **kwargs):
            try:
                confirmation = body(*args, **kwargs)
                result = Result("correct", tr("{title} · correct! {confirmation}", title=_shown(title),
                                              confirmation=confirmation))
            except _NotAttempted as reason:
                result = Result("not attempted", tr("{title} · not attempted yet: {reason}", title=_shown(title),
                                                    reason=reason))
            except _Wrong as reason:
                result = Result("wrong", tr("{title} · not yet: {reason}", title=_shown(title), reason=reason))
            print(result.message)
            return result
        return check
    return decorate


STUB = N_("your function still raises NotImplementedError; write it in the cell above, run that cell, then this one.")
NO_PREDICTION = N_("set your prediction in the cell above (it is still None), run that cell, then this one.")
NO_ANSWER = N_("your answer is still None: write your choice in its place, then run this cell again.")


def _call(fn, *args, **kwargs):
    """Call the learner's function; a stub is 'not attempted', any other exception is named for the learner."""
    if not callable(fn):
        raise _Wrong(tr("pass your function itself (without calling it), not a {kind}", kind=type(fn).__name__))
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted(_shown(STUB)) from None
    except Exception as error:  # the learner's bug: say what it was, never crash the notebook
        raise _Wrong(tr("your function raised {error_type}: {error}", error_type=type(error).__name__,
                        error=error)) from None


def _shape(value):
    return tuple(value.shape)


def _result_of(what):
    """What the learner's value is called in a message (already in the course's language), by default
    "your function's result"."""
    return tr("your function's result") if what is None else what


def _expect_tensor(value, what=None):
    if isinstance(value, torch.Tensor):
        return value
    what = _result_of(what)
    kind = type(value).__name__
    if kind == "ndarray":
        raise _Wrong(tr("{what} is a numpy array, not a tensor: wrap it with torch.as_tensor(...)", what=what))
    if isinstance(value, (list, tuple)):
        raise _Wrong(tr("{what} is a {kind}, not a tensor: build it with torch.tensor(...) or torch.stack(...)",
                        what=what, kind=kind))
    raise _Wrong(tr("{what} is a {kind}, not a tensor", what=what, kind=kind))


def _expect_shape(value, expected, what=None):
    if _shape(value) != tuple(expected):
        hint = ""
        if sorted(_shape(value)) == sorted(expected) and len(expected) > 1:
            hint = " " + tr("(the right sizes in the wrong order: a transpose or a missing unsqueeze?)")
        raise _Wrong(tr("wrong shape for {what}: expected {expected}, got {got}", what=_result_of(what),
                        expected=tuple(expected), got=_shape(value)) + hint)


def _position(index):
    return f"({index[0]},)" if len(index) == 1 else str(tuple(index))


def _expect_close(value, expected, what=None, atol=1e-5, rtol=1e-4):
    """Shape first, then values: name the first position where they differ."""
    what = _result_of(what)
    value = _expect_tensor(value, what)
    _expect_shape(value, expected.shape, what)
    value, expected = value.detach().float(), expected.detach().float()
    if value.isnan().any() and not expected.isnan().any():
        position = _position(value.isnan().nonzero()[0].tolist())
        raise _Wrong(tr("{what} has NaN (first at position {position}); the expected values have none",
                        what=what, position=position))
    close = torch.isclose(value, expected, atol=atol, rtol=rtol)
    if not close.all():
        index = (~close).nonzero()[0].tolist()
        raise _Wrong(tr("{what}: mismatch at position {position}: expected {expected:.4g}, got {got:.4g}", what=what,
                        position=_position(index), expected=expected[tuple(index)].item(),
                        got=value[tuple(index)].item()))


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _choice(answer, options, missing=NO_PREDICTION):
    """A multiple-choice or direction answer, normalised: None is not attempted, anything else must be an option."""
    if answer is None:
        raise _NotAttempted(_shown(missing))
    normalised = str(answer).strip().lower().strip("()").strip()
    if normalised not in options:
        raise _Wrong(tr("answer with one of {options}, not {answer!r}", options=", ".join(repr(o) for o in options),
                        answer=answer))
    return normalised


def _number(answer):
    if answer is None:
        raise _NotAttempted(_shown(NO_PREDICTION))
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise _Wrong(tr("write your prediction as a number, not a {kind} ({answer!r})", kind=type(answer).__name__,
                        answer=answer))
    return float(answer)


def _direction(before, after, tolerance=1e-9):
    return "up" if after > before + tolerance else "down" if after < before - tolerance else "same"


DIRECTIONS = ("up", "down", "same")
WENT = {"up": N_("went up"), "down": N_("went down"), "same": N_("went same")}  # how a message says it


def _check_direction(my_prediction, before, after, explain):
    """A predict-then-measure answer: did the measured figure go up, down or stay? ``explain(went)`` says
    what was measured and why, given the direction as a message says it ("went up", in the course's language)."""
    answer = _choice(my_prediction, DIRECTIONS)
    measured = _direction(before, after)
    why = explain(_shown(WENT[measured]))
    if answer != measured:
        raise _Wrong(tr("you predicted {answer!r}, but {why}.", answer=answer, why=why))
    return why[0].upper() + why[1:] + "."

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


@_check(N_("Exercise 0.3 · Predict, then measure: a smaller vocabulary"))
def check_unk_prediction(my_prediction, rate_before, rate_after):
    """Will the test split's <unk> rate go up, down or stay the same with words seen at least twice?"""
    return _check_direction(my_prediction, rate_before, rate_after, lambda went: tr(
        "the rate {went}, from {before:.2%} to {after:.2%}: dropping the words seen only once in training turns "
        "every test occurrence of them into <unk> too", went=went, before=rate_before, after=rate_after))


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


SCALING_OPTIONS = {  # shown by notebook 02's markdown, not by a check: only the keys are used here
    "a": "it stays near 0.3, as with the scaling: the scaling changes nothing",
    "b": "it climbs towards 1 as d_k grows: the softmax saturates into a hard pick",
    "c": "it falls towards 0.1: the weights become uniform over the 10 keys",
    "d": "it becomes NaN",
}


@_check(N_("Exercise 2.3 · Change one thing: remove the scaling"))
def check_scaling_answer(my_answer):
    """Multiple choice: what happens to the mean largest weight without 1/sqrt(d_k)?"""
    answer = _choice(my_answer, tuple(SCALING_OPTIONS), missing=NO_ANSWER)
    why = tr("unscaled dot products of d_k-dimensional vectors spread like sqrt(d_k), so one key wins nearly all "
             "the weight, and the softmax's gradient is near 0 for all the others: training slows down")
    if answer != "b":
        raise _Wrong(tr("({answer}) is not what the table shows: without the scaling the largest weight climbs "
                        "towards 1 as d_k grows; {why}.", answer=answer, why=why))
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


# ---------------------------------------------------------------------------------------------------------
# Notebook 03 · BERT tokenization
# ---------------------------------------------------------------------------------------------------------

CLS_ID, SEP_ID = 101, 102  # in the bert-base-uncased vocabulary of the course's checkpoint


def _with_special_tokens(ids_a, ids_b=None):
    input_ids = [CLS_ID, *ids_a, SEP_ID]
    token_type_ids = [0] * len(input_ids)
    if ids_b is not None:
        input_ids += [*ids_b, SEP_ID]
        token_type_ids += [1] * (len(ids_b) + 1)
    return input_ids, token_type_ids


def _token(i):
    return {CLS_ID: "[CLS]", SEP_ID: "[SEP]"}.get(i, str(i))


@_check(N_("Exercise 3.1 · The special-token layout"))
def check_special_tokens(fn):
    """``fn(ids_a, ids_b=None)``: (input_ids, token_type_ids) as lists, [CLS] A [SEP] (B [SEP])."""
    rng = random.Random(31)
    a, b = [rng.randint(1000, 29000) for _ in range(4)], [rng.randint(1000, 29000) for _ in range(3)]
    for pair in (False, True):
        got = _call(fn, list(a), list(b)) if pair else _call(fn, list(a))
        if not isinstance(got, tuple) or len(got) != 2:
            raise _Wrong(tr("return two lists, (input_ids, token_type_ids)"))
        input_ids, type_ids = (list(x.tolist() if isinstance(x, torch.Tensor) else x) for x in got)
        expected_ids, expected_types = _with_special_tokens(a, b if pair else None)
        for_what = tr("for a pair") if pair else tr("for a single text")
        if len(input_ids) != len(expected_ids):
            if pair:
                raise _Wrong(tr("for a pair of {count_a} and {count_b} tokens expected {expected} input ids, got {got}",
                                count_a=len(a), count_b=len(b), expected=len(expected_ids), got=len(input_ids)))
            raise _Wrong(tr("for a single text of {count_a} tokens expected {expected} input ids, got {got}",
                            count_a=len(a), expected=len(expected_ids), got=len(input_ids)))
        for i, (x, y) in enumerate(zip(input_ids, expected_ids)):
            if x != y:
                raise _Wrong(tr("input_ids {for_what}, position {i}: expected {expected}, got {got}", for_what=for_what,
                                i=i, expected=_token(y), got=_token(x)))
        if len(type_ids) != len(expected_types):
            raise _Wrong(tr("token_type_ids must have one entry per input id ({expected}), got {got}",
                            expected=len(expected_ids), got=len(type_ids)))
        for i, (x, y) in enumerate(zip(type_ids, expected_types)):
            if x != y:
                raise _Wrong(tr("token_type_ids {for_what}, position {i} ({token}): expected {expected}, got {got} "
                                "(everything up to and including the first [SEP] is segment 0)", for_what=for_what,
                                i=i, token=_token(expected_ids[i]), expected=y, got=x))
    return tr("[CLS] A [SEP] B [SEP], with segment 0 up to the first [SEP] and segment 1 after it.")


def _truncate(ids, max_length):
    return list(ids) if len(ids) <= max_length else [*ids[: max_length - 1], SEP_ID]


@_check(N_("Exercise 3.3 · Truncation that keeps [SEP]"))
def check_truncate(fn):
    """``fn(ids, max_length)``: at most max_length ids, the first ones, ending with [SEP]."""
    rng = random.Random(32)
    for length, max_length in ((12, 8), (5, 8), (8, 8), (30, 2)):
        ids = [CLS_ID, *(rng.randint(1000, 29000) for _ in range(length - 2)), SEP_ID]
        got = _call(fn, list(ids), max_length)
        got = list(got.tolist() if isinstance(got, torch.Tensor) else got)
        expected = _truncate(ids, max_length)
        case = tr("{length} ids cut to max_length={max_length}", length=length, max_length=max_length)
        if len(got) != len(expected):
            raise _Wrong(tr("{case}: expected {expected} ids, got {got}", case=case, expected=len(expected),
                            got=len(got)))
        if got and got[-1] != SEP_ID:
            raise _Wrong(tr("{case}: the last id must be [SEP] ({sep}), got {got}: keep the first max_length - 1 ids "
                            "and append [SEP]", case=case, sep=SEP_ID, got=_token(got[-1])))
        if got != expected:
            i = next(i for i, (x, y) in enumerate(zip(got, expected)) if x != y)
            raise _Wrong(tr("{case}: position {i}: expected {expected}, got {got}", case=case, i=i,
                            expected=_token(expected[i]), got=_token(got[i])))
    return tr("the first max_length - 1 ids and a closing [SEP], as in pre-training; short inputs stay whole.")


TRUNCATION_OPTIONS = {"a": N_("under 1%"), "b": N_("1% to 5%"), "c": N_("5% to 13%"), "d": N_("over 13%")}


@_check(N_("Exercise 3.2 · Predict, then measure: MAX_SEQ_LEN = 96"))
def check_truncation_prediction(my_prediction, measured_share):
    """Which range holds the share of AG News texts longer than 96 tokens?"""
    answer = _choice(my_prediction, tuple(TRUNCATION_OPTIONS))
    bounds = {"a": (0, 0.01), "b": (0.01, 0.05), "c": (0.05, 0.13), "d": (0.13, 1.01)}
    right = next(key for key, (low, high) in bounds.items() if low <= measured_share < high)
    why = tr("{share:.2%} of the texts are longer than 96 tokens: between the 0.51% cut at 128 and the 13.21% cut "
             "at 64, because the length histogram's tail thins out quickly past 70 tokens", share=measured_share)
    if answer != right:
        raise _Wrong(tr("({answer}) {option} is not it: {why}, so the answer is ({right}).", answer=answer,
                        option=_shown(TRUNCATION_OPTIONS[answer]), why=why, right=right))
    return f"({right}): {why}."


# ---------------------------------------------------------------------------------------------------------
# Notebook 04 · padding collation
# ---------------------------------------------------------------------------------------------------------

def _random_features(seed, count=5, labels=True):
    rng = random.Random(seed)
    features = []
    for _ in range(count):
        feature = {"input_ids": [CLS_ID, *(rng.randint(1000, 29000) for _ in range(rng.randint(1, 9))), SEP_ID]}
        if labels:
            feature["labels"] = rng.randint(0, 3)
        features.append(feature)
    return features


@_check(N_("Exercise 4.1 · A collate with an attention mask"))
def check_collate(fn):
    """``fn(features, pad_token_id)``: {'input_ids', 'attention_mask', 'labels'} padded to the batch's longest."""
    for seed, pad_id in ((41, 0), (42, 5)):
        features = _random_features(seed)
        got = _call(fn, copy.deepcopy(features), pad_id)
        if not isinstance(got, dict):
            raise _Wrong(tr("return a dict of tensors (input_ids, attention_mask, labels), not a {kind}",
                            kind=type(got).__name__))
        expected = torchnlp.PaddingCollator(pad_id)(features)
        if "attention_mask" not in got:
            raise _Wrong(tr("the batch has no 'attention_mask': without it BERT attends to the padding"))
        missing = [k for k in expected if k not in got]
        if missing:
            raise _Wrong(tr("the batch lacks {missing}", missing=missing))
        for key in expected:
            _expect_tensor(got[key], f"batch[{key!r}]")
            _expect_shape(got[key], expected[key].shape, f"batch[{key!r}]")
        mask = got["attention_mask"]
        if torch.equal(mask.long(), 1 - expected["attention_mask"]):
            raise _Wrong(tr("attention_mask is inverted: 1 marks a real token, 0 a padded position"))
        if not torch.equal(mask.long(), expected["attention_mask"]):
            raise _Wrong(tr("attention_mask must be 1 on each text's real tokens and 0 on its padding"))
        padding = expected["attention_mask"] == 0
        if not torch.equal(got["input_ids"][padding], expected["input_ids"][padding]):
            used = got["input_ids"][padding][0].item()
            raise _Wrong(tr("padding used id {used}, but pad_token_id was {pad_id}: pad with the id you are given "
                            "(tokenizer.pad_token_id), never a hard-coded 0", used=used, pad_id=pad_id))
        for key in expected:
            if not torch.equal(got[key].long(), expected[key]):
                raise _Wrong(tr("batch[{key!r}] differs from the expected values: expected {expected}, got {got}",
                                key=key, expected=expected[key].tolist(), got=got[key].tolist()))
    return tr("padded with the tokenizer's pad id, with a mask of 1s on real tokens: DataCollatorWithPadding's "
              "output.")


def _padding_share(batches, lengths):
    computed = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return 1 - sum(lengths[i] for batch in batches for i in batch) / computed


def _random_lengths(seed, count=40):
    rng = random.Random(seed)
    return [rng.randint(5, 60) for _ in range(count)]


@_check(N_("Exercise 4.2 · The padding share of a batching"))
def check_padding_share(fn):
    """``fn(batches, lengths)``: the share of computed positions that are padding, a float in [0, 1)."""
    lengths = _random_lengths(43)
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    for size in (8, 16):
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        got = _call(fn, [list(b) for b in batches], list(lengths))
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise _Wrong(tr("return one number (a float), not a {kind}", kind=type(got).__name__))
        expected = _padding_share(batches, lengths)
        real = sum(lengths)
        padding = real / (1 - expected) - real
        if abs(got - padding / real) < 1e-6:
            raise _Wrong(tr("you divided the padding by the real tokens ({got:.3f}); divide it by all computed "
                            "positions, real and padding, which gives {expected:.3f}", got=got, expected=expected))
        if abs(got - expected) > 1e-6:
            raise _Wrong(tr("batches of {size}: expected a padding share of {expected:.4f}, got {got:.4f} (each batch "
                            "computes batch size x its longest length positions)", size=size, expected=expected,
                            got=got))
    return tr("every batch computes (texts x longest) positions, and what is not a real token is padding.")


@_check(N_("Exercise 4.3 · Predict, then measure: batches twice as large"))
def check_batch_size_prediction(my_prediction, share_small, share_large):
    """Will the padding share of random batches go up, down or stay the same when the batch size doubles?"""
    return _check_direction(my_prediction, share_small, share_large, lambda went: tr(
        "it {went}, from {small:.1%} to {large:.1%}: a larger random batch is more likely to hold one long text, "
        "and every other text in it is padded to that length", went=went, small=share_small, large=share_large))


def _sorted_batches(lengths, batch_size):
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@_check(N_("Exercise 4.4 · A length-bucketed batcher"))
def check_bucket_batches(fn):
    """``fn(lengths, batch_size)``: lists of indices, every index once, batches of similar length."""
    lengths, batch_size = _random_lengths(44, 50), 8
    got = _call(fn, list(lengths), batch_size)
    try:
        batches = [[int(i) for i in batch] for batch in got]
    except TypeError:
        raise _Wrong(tr("return a list of batches, each a list of indices into lengths")) from None
    seen = [i for batch in batches for i in batch]
    missing = sorted(set(range(len(lengths))) - set(seen))
    if missing:
        raise _Wrong(tr("indices {indices} are in no batch: every text must be in exactly one batch (the last batch "
                        "may be smaller)", indices=f"{missing[:6]}{'...' if len(missing) > 6 else ''}"))
    if len(seen) != len(set(seen)) or any(not 0 <= i < len(lengths) for i in seen):
        raise _Wrong(tr("some index appears twice or is out of range: every text must be in exactly one batch"))
    if any(len(batch) > batch_size for batch in batches):
        raise _Wrong(tr("a batch holds more than batch_size = {batch_size} texts", batch_size=batch_size))
    if len(batches) > math.ceil(len(lengths) / batch_size) + 1:
        raise _Wrong(tr("{batches} batches for {texts} texts: fill the batches, {enough} are enough",
                        batches=len(batches), texts=len(lengths), enough=math.ceil(len(lengths) / batch_size)))
    share, best = _padding_share(batches, lengths), _padding_share(_sorted_batches(lengths, batch_size), lengths)
    if share > best + 0.02:
        raise _Wrong(tr("padding share {share:.1%}, against {best:.1%} for batches cut from the texts sorted by "
                        "length: sort the indices by length before cutting them into batches", share=share,
                        best=best))
    return tr("padding share {share:.1%}: texts of similar length share a batch. (Shuffle the batches to train.)",
              share=share)


# ---------------------------------------------------------------------------------------------------------
# Notebook 05 · fine-tuning
# ---------------------------------------------------------------------------------------------------------

class _TinyClassifier(torch.nn.Module):
    """A stand-in for BertForSequenceClassification: same call, same output fields, a few hundred weights."""

    def __init__(self, seed=51):
        super().__init__()
        g = _generator(seed)  # a generator of its own: checks leave the notebook's random state alone
        self.embedding = torch.nn.Parameter(torch.randn(40, 8, generator=g) * 0.5)
        self.head = torch.nn.Parameter(torch.randn(8, 4, generator=g) * 0.5)

    def forward(self, input_ids, attention_mask, labels=None):
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embedding[input_ids] * mask).sum(1) / mask.sum(1)
        logits = pooled @ self.head
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SimpleNamespace(loss=loss, logits=logits)


def _training_step(model, batch, optimizer):
    output = model(**batch)
    output.loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return output.loss.item()


def _tiny_setup():
    g = _generator(52)
    batch = {"input_ids": torch.randint(0, 40, (6, 5), generator=g), "attention_mask": torch.ones(6, 5).long(),
             "labels": torch.randint(0, 4, (6,), generator=g)}
    batch["attention_mask"][:3, 3:] = 0
    model = _TinyClassifier()
    return model, batch, torch.optim.SGD(model.parameters(), lr=0.5)


@_check(N_("Exercise 5.1 · One training step"))
def check_training_step(fn):
    """``fn(model, batch, optimizer)``: forward, backward, update, clear the gradients; return the loss as a float."""
    model, batch, optimizer = _tiny_setup()
    reference, _, reference_optimizer = _tiny_setup()
    before = [p.detach().clone() for p in model.parameters()]
    for step in (1, 2):
        got = _call(fn, model, batch, optimizer)
        expected = _training_step(reference, batch, reference_optimizer)
        if isinstance(got, torch.Tensor):
            raise _Wrong(tr("you returned the loss tensor, not a float: return loss.item() (a tensor keeps its whole "
                            "autograd graph alive, and summing tensors over an epoch fills the memory)"))
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise _Wrong(tr("return the loss as a float, not a {kind}", kind=type(got).__name__))
        if step == 1 and all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
            raise _Wrong(tr("the weights did not change: call loss.backward() and then optimizer.step()"))
        if abs(got - expected) > 1e-5:
            raise _Wrong(tr("step {step}: the returned loss is {got:.4f}, expected {expected:.4f} (the loss of this "
                            "batch before the update)", step=step, got=got, expected=expected))
        for (name, p), q in zip(model.named_parameters(), reference.parameters()):
            if not torch.allclose(p, q, atol=1e-6):
                if step == 2:
                    raise _Wrong(tr("the second step used the gradients of both steps: gradients add up in .grad "
                                    "until cleared, so call optimizer.zero_grad() in every step"))
                raise _Wrong(tr("after one step the weights of {name} differ from one plain optimizer step",
                                name=name))
    return tr("forward, backward, step, zero_grad, and a float loss to log: the loop of fine_tune in four lines.")


def _learning_rate(step, total_steps, peak_lr, warmup_steps):
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    return peak_lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


@_check(N_("Exercise 5.2 · Warmup, then linear decay"))
def check_learning_rate(fn):
    """``fn(step, total_steps, peak_lr, warmup_steps)``: the learning rate at ``step`` (0-based)."""
    for total, peak, warmup in ((10, 5e-5, 2), (975, 5e-5, 58), (40, 1e-4, 0)):
        for step in sorted({0, 1, warmup // 2, warmup, warmup + 1, total // 2, total - 1, total}):
            got = _call(fn, step, total, peak, warmup)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, (int, float)):
                raise _Wrong(tr("return the learning rate as a number, not a {kind}", kind=type(got).__name__))
            expected = _learning_rate(step, total, peak, warmup)
            if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12):
                if step < warmup:
                    raise _Wrong(tr("step {step} of {total}, warmup {warmup}, peak {peak:g} (during warmup): expected "
                                    "{expected:.4g}, got {got:.4g} (warmup starts from 0 and climbs linearly to the "
                                    "peak)", step=step, total=total, warmup=warmup, peak=peak, expected=expected,
                                    got=got))
                raise _Wrong(tr("step {step} of {total}, warmup {warmup}, peak {peak:g} (after warmup): expected "
                                "{expected:.4g}, got {got:.4g} (it falls linearly from the peak at the end of warmup "
                                "to 0 at the last step)", step=step, total=total, warmup=warmup, peak=peak,
                                expected=expected, got=got))
    return tr("linear warmup from 0 to the peak, then linear decay to 0: get_linear_schedule_with_warmup.")


@_check(N_("Exercise 5.3 · Predict, then measure: how many steps?"))
def check_steps_prediction(my_prediction, measured_steps, texts, batch_size, epochs):
    """How many optimizer steps does a run of ``epochs`` over ``texts`` texts in batches of ``batch_size`` take?"""
    answer = _number(my_prediction)
    per_epoch = math.ceil(texts / batch_size)
    why = tr("{texts:,} texts in batches of {batch_size} make {per_epoch} batches an epoch (the last one smaller), "
             "times {epochs} epochs: {steps} steps", texts=texts, batch_size=batch_size, per_epoch=per_epoch,
             epochs=epochs, steps=measured_steps)
    if answer != measured_steps:
        raise _Wrong(tr("you predicted {answer:g}; {why}.", answer=answer, why=why))
    return why[0].upper() + why[1:] + "."


# ---------------------------------------------------------------------------------------------------------
# Notebook 06 · evaluation
# ---------------------------------------------------------------------------------------------------------

def _random_predictions(seed, count=30, classes=4):
    g = _generator(seed)
    labels = torch.randint(0, classes, (count,), generator=g)
    noise = torch.randint(0, classes, (count,), generator=g)
    keep = torch.rand(count, generator=g) < 0.6
    return torch.where(keep, labels, noise), labels


@_check(N_("Exercise 6.1 · Accuracy"))
def check_accuracy(fn):
    """``fn(predictions, labels)``: the share of texts whose prediction equals the label, as a float."""
    for seed, count in ((61, 30), (62, 7)):
        predictions, labels = _random_predictions(seed, count)
        got = _call(fn, predictions.clone(), labels.clone())
        if isinstance(got, torch.Tensor):
            raise _Wrong(tr("you returned a tensor: return a Python float (.item())"))
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise _Wrong(tr("return the accuracy as a float, not a {kind}", kind=type(got).__name__))
        correct = int((predictions == labels).sum())
        expected = correct / count
        if got == correct:
            raise _Wrong(tr("you returned the number of correct predictions ({correct}); divide it by the number of "
                            "texts ({count})", correct=correct, count=count))
        if abs(got - expected) > 1e-6:
            raise _Wrong(tr("{count} texts, {correct} predicted right: expected {expected:.4f}, got {got:.4f}",
                            count=count, correct=correct, expected=expected, got=got))
    return tr("correct predictions over all texts (counted over texts, not averaged over batches).")


def _confusion(predictions, labels, num_classes):
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for true, predicted in zip(labels.tolist(), predictions.tolist()):
        matrix[true, predicted] += 1
    return matrix


@_check(N_("Exercise 6.2 · A confusion matrix"))
def check_confusion_matrix(fn):
    """``fn(predictions, labels, num_classes)``: counts, rows the true class, columns the predicted class."""
    predictions, labels = _random_predictions(63, 40)
    got = _expect_tensor(_call(fn, predictions.clone(), labels.clone(), 4))
    expected = _confusion(predictions, labels, 4)
    _expect_shape(got, expected.shape, tr("the confusion matrix (classes, classes)"))
    if torch.equal(got.long(), expected.T) and not torch.equal(expected, expected.T):
        raise _Wrong(tr("rows and columns are swapped: row i is the true class i, column j the predicted class j"))
    if got.sum().item() != len(labels):
        raise _Wrong(tr("the counts add up to {total:g}, but there are {count} predictions", total=got.sum().item(),
                        count=len(labels)))
    _expect_close(got.float(), expected.float(), tr("the confusion matrix"))
    return tr("row = true class, column = predicted class; the diagonal holds the correct predictions.")


def _macro_f1(confusion):
    confusion = confusion.double()
    true_positive = confusion.diag()
    predicted, actual = confusion.sum(0), confusion.sum(1)
    precision = torch.where(predicted > 0, true_positive / predicted.clamp(min=1), 0.0)
    recall = torch.where(actual > 0, true_positive / actual.clamp(min=1), 0.0)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), 0.0)
    return f1.mean().item()


@_check(N_("Exercise 6.3 · Macro F1"))
def check_macro_f1(fn):
    """``fn(confusion)``: the mean over classes of F1 = 2PR/(P+R); a class never predicted has F1 0."""
    cases = [_confusion(*_random_predictions(64, 40), 4),
             torch.tensor([[50, 0, 0], [30, 5, 0], [10, 5, 0]])]  # class 2 is never predicted
    for matrix in cases:
        got = _call(fn, matrix.clone())
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise _Wrong(tr("return macro F1 as one number, not a {kind}", kind=type(got).__name__))
        expected = _macro_f1(matrix)
        if math.isnan(got):
            raise _Wrong(tr("got NaN: a class that is never predicted has precision 0/0; count its F1 as 0"))
        accuracy = (matrix.diag().sum() / matrix.sum()).item()
        if abs(got - accuracy) < 1e-6 and abs(expected - accuracy) > 1e-6:
            raise _Wrong(tr("{got:.4f} is the accuracy (the diagonal over the total); macro F1 averages each class's "
                            "F1, so a poor class counts as much as a large one", got=got))
        if abs(got - expected) > 1e-6:
            raise _Wrong(tr("for the confusion matrix {matrix}: expected {expected:.4f}, got {got:.4f} (precision of "
                            "class c: column c; recall: row c)", matrix=matrix.tolist(), expected=expected, got=got))
    return tr("each class's F1 from its row (recall) and column (precision), averaged with equal weight.")


@_check(N_("Exercise 6.4 · Predict, then measure: always answering Sports"))
def check_constant_baseline_prediction(my_prediction, measured_accuracy):
    """What accuracy does a model that always answers 'Sports' get on the test split?"""
    answer = _number(my_prediction)
    if answer > 1:
        answer /= 100  # a percentage
    why = tr("it scores {accuracy:.2%}: the test split is balanced, so each class is a quarter of it, and any "
             "accuracy is worth only as much as its distance from this floor", accuracy=measured_accuracy)
    if abs(answer - measured_accuracy) > 0.01:
        raise _Wrong(tr("you predicted {answer:.0%}; {why}.", answer=answer, why=why))
    return why[0].upper() + why[1:] + "."


# ---------------------------------------------------------------------------------------------------------
# Notebook 07 · the quiz
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Question:
    """One question of the quiz; its texts are marked with N_ and shown in the course's language."""
    text: str
    options: dict
    answer: str
    explanation: str


QUESTIONS = [
    Question(N_("In notebook 01, why does the encoder-decoder *without* attention fail on long digit strings?"),
             {"a": N_("the GRU cannot count beyond 10 digits"),
              "b": N_("the decoder sees the input only through one fixed-size vector, which cannot hold 30 random "
                      "digits"),
              "c": N_("the training loss diverges on long inputs"),
              "d": N_("padding the short strings confuses the encoder")},
             "b", N_("Everything the decoder knows comes through the final encoder state, a bottleneck that attention "
                     "removes by letting every step look up all encoder states.")),
    Question(N_("What does the masked softmax give a padded position, and a row with no valid position at all?"),
             {"a": N_("a small weight; a uniform row"),
              "b": N_("exactly 0; a row of NaN"),
              "c": N_("exactly 0; a row of zeros"),
              "d": N_("-inf; a row of -inf")},
             "c", N_("Padded positions get exactly 0 weight, and an empty row comes out as zeros rather than the NaN "
                     "that a naive masked_fill(-inf) softmax gives.")),
    Question(N_("Why do sinusoidal positional encodings use sines and cosines of geometric frequencies?"),
             {"a": N_("for every offset k, PE(pos + k) is a fixed linear map (a rotation) of PE(pos)"),
              "b": N_("they are learned during training"),
              "c": N_("they make the embedding of every token unique"),
              "d": N_("they stop attention from looking at padding")},
             "a", N_("Each (sin, cos) pair rotates by the same angle for a shift of k whatever pos is, so 'k tokens "
                     "back' is one linear function that attention's projections can learn.")),
    Question(N_("Why is the dot product divided by sqrt(d_k) in scaled dot-product attention?"),
             {"a": N_("to make attention faster"),
              "b": N_("to keep the scores' spread near 1, so the softmax does not saturate as d_k grows"),
              "c": N_("to normalise the weights so that they sum to 1"),
              "d": N_("to make the result independent of the sequence length")},
             "b", N_("Unscaled scores spread like sqrt(d_k); a saturated softmax picks one key and passes almost no "
                     "gradient to the others (notebook 02's table).")),
    Question(N_("Self-attention over a sequence of T tokens compares every token with every other. On notebook "
                "02's CPU, how does its time grow against the GRU's?"),
             {"a": N_("both grow linearly"),
              "b": N_("attention grows with T squared, the GRU linearly: attention is faster for short inputs, slower "
                      "for long ones"),
              "c": N_("attention is always slower"),
              "d": N_("attention's time does not depend on T")},
             "b", N_("The T x T score matrix makes attention quadratic; its few large matrix products beat the GRU's T "
                     "sequential steps up to about 256 tokens on 2 CPU cores.")),
    Question(N_("How does BERT's WordPiece tokenizer handle a word that is not in its vocabulary, such as 'pytorch'?"),
             {"a": N_("it maps the whole word to [UNK]"),
              "b": N_("it drops the word"),
              "c": N_("it splits it into known pieces, the later ones marked ##: p ##yt ##or ##ch"),
              "d": N_("it adds the word to the vocabulary")},
             "c", N_("Frequent words are one token and rare ones are spelled from pieces, so almost nothing becomes "
                     "[UNK] (only what cannot be spelled, like an emoji).")),
    Question(N_("A text is padded inside a batch, and the batch goes into BERT without an attention mask. What "
                "happens?"),
             {"a": N_("an error: BERT refuses padded input"),
              "b": N_("nothing: [PAD] tokens are ignored automatically"),
              "c": N_("the real tokens attend to the padding, so the text's logits depend on what it is batched with"),
              "d": N_("the padded positions are dropped before the first layer")},
             "c", N_("Notebook 04 measured it: without the mask the padded copy's logits differ from the text alone; "
                     "with it they agree up to round-off.")),
    Question(N_("What does length bucketing change, against batches cut from a random order?"),
             {"a": N_("it removes the need for an attention mask"),
              "b": N_("batches hold texts of similar length, so far fewer padded positions are computed"),
              "c": N_("every batch is padded to MAX_SEQ_LEN"),
              "d": N_("it sorts the whole dataset once, so every epoch sees the same batches in the same order")},
             "b", N_("Padding fell from about 48% to about 2% in notebook 04, and the forward pass got faster "
                     "roughly in proportion; the batches are still shuffled each epoch.")),
    Question(N_("Fine-tuning BertForSequenceClassification from the pre-trained checkpoint: which weights start from "
                "scratch, and what learning rate suits the whole network?"),
             {"a": N_("all of them; 1e-3"),
              "b": N_("only the new classification head; a small one such as 5e-5"),
              "c": N_("only the head, and the encoder is frozen; 1e-3"),
              "d": N_("the embeddings; 1e-2")},
             "b", N_("Only the head's 1,540 weights are new; a from-scratch rate like 1e-3 would wreck the pre-trained "
                     "encoder within an epoch.")),
    Question(N_("The fine-tuned model reaches about 0.91 accuracy on the test split. What makes that figure "
                "meaningful?"),
             {"a": N_("nothing more is needed: 0.91 is high"),
              "b": N_("the training accuracy at the last step"),
              "c": N_("a comparison with baselines on the same split (25% for one class, TF-IDF with logistic "
                      "regression about 0.88), and a look at per-class scores and mistakes"),
              "d": N_("a second run with another random seed only")},
             "c", N_("An accuracy means something only against a baseline on the same data; per-class scores and the "
                     "confident mistakes show where it comes from (and the label noise that caps it).")),
]


class Quiz:
    """The lesson's quiz: ``answer(n, choice)`` checks question n (1-based), ``reveal(n)`` shows its answer."""

    def __init__(self, questions=QUESTIONS):
        self.questions = list(questions)

    def __len__(self):
        return len(self.questions)

    def _question(self, number):
        if not isinstance(number, int) or not 1 <= number <= len(self.questions):
            raise ValueError(tr("the quiz has questions 1 to {count}, not {number!r}", count=len(self.questions),
                                number=number))
        return self.questions[number - 1]

    def answer(self, number, choice):
        """Print and return whether ``choice`` ("a".."d") is the right answer to question ``number``."""
        question = self._question(number)
        if choice is None:
            result = Result("not attempted", tr("Question {number}: not answered yet.", number=number))
        else:
            picked = str(choice).strip().lower().strip("()").strip()
            if picked not in question.options:
                result = Result("wrong", tr("Question {number}: answer with one of {options}, not {choice!r}.",
                                            number=number, options=", ".join(repr(o) for o in question.options),
                                            choice=choice))
            elif picked == question.answer:
                result = Result("correct", tr("Question {number}: ({picked}) is right. {explanation}", number=number,
                                              picked=picked, explanation=_shown(question.explanation)))
            else:
                result = Result("wrong", tr("Question {number}: ({picked}) is not right; think again, or "
                                            "quiz.reveal({number}) shows the answer.", number=number, picked=picked))
        print(result.message)
        return result

    def reveal(self, number):
        """Print the answer to question ``number`` with its explanation."""
        question = self._question(number)
        message = tr("Question {number}: ({answer}) {option}. {explanation}", number=number, answer=question.answer,
                     option=_shown(question.options[question.answer]), explanation=_shown(question.explanation))
        print(message)
        return Result("correct", message)

    def score(self, answers):
        """Print how many of ``answers`` (a list, question 1 first) are answered and right."""
        answered = [(n, a) for n, a in enumerate(answers, start=1) if a is not None]
        right = sum(str(a).strip().lower().strip("()").strip() == self._question(n).answer for n, a in answered)
        message = tr("{answered} of {count} questions answered, {right} right.", answered=len(answered),
                     count=len(self.questions), right=right)
        print(message)
        return Result("correct" if right == len(self.questions) else "not attempted" if not answered else "wrong",
                      message)

    def markdown(self, number):
        """The question as notebook 07 shows it (in the course's language)."""
        question = self._question(number)
        options = "\n".join(f"* **({key})** {_shown(text)}" for key, text in question.options.items())
        return tr("**Question {number}.**", number=number) + f" {_shown(question.text)}\n\n{options}"


quiz = Quiz()


def attempt(fn, *args, **kwargs):
    """Run one task of the assignment: its result, or None with "not attempted yet" for a stub (and "not run
    yet" when an argument is None, the result of an earlier task not done)."""
    if any(arg is None for arg in (*args, *kwargs.values())):
        print(tr("not run yet: {name} needs the result of an earlier task, which is not done", name=fn.__name__))
        return None
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as hint:
        print(tr("not attempted yet: {name} still raises NotImplementedError ({hint})", name=fn.__name__, hint=hint))
        return None


def load_solutions():
    """The reference solutions (solutions/solutions.py) as a module, for when you want to compare."""
    import importlib.util

    path = torchnlp.ROOT / "solutions" / "solutions.py"
    spec = importlib.util.spec_from_file_location("course_solutions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
