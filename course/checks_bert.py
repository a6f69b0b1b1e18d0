"""The exercises' checks of notebooks 03-04: BERT tokenization, padding and collation."""
from __future__ import annotations

import copy
import math
import random

import torch

import torchnlp
from course.feedback import (
    N_,
    _call,
    _check,
    _check_direction,
    _choice,
    _expect_shape,
    _expect_tensor,
    _shown,
    _Wrong,
)
from course.i18n import tr

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
TRUNCATION_BOUNDS = {"a": (0, 0.01), "b": (0.01, 0.05), "c": (0.05, 0.13), "d": (0.13, 1.01)}


@_check(N_("Exercise 3.2 · Predict, then measure: MAX_SEQ_LEN = 96"))
def check_truncation_prediction(my_prediction, token_lengths):
    """Which range holds the share of AG News texts longer than 96 tokens? ``token_lengths``: the notebook's token
    count of every text; the shares and the percentile the feedback quotes are measured from it, so they hold for
    whichever release of the data the notebook loaded."""
    answer = _choice(my_prediction, tuple(TRUNCATION_OPTIONS))
    lengths = _expect_tensor(token_lengths, "token_lengths")
    if (lengths.dim() != 1 or lengths.numel() == 0 or lengths.is_floating_point() or lengths.is_complex()
            or lengths.dtype == torch.bool or bool((lengths < 2).any())):
        raise _Wrong(tr("token_lengths must be the notebook's one-dimensional tensor of token counts, whole numbers "
                        "of at least 2 ([CLS] and [SEP]) per text; run the cell that measures them again"))
    cut = {limit: (lengths > limit).float().mean().item() for limit in (64, 96, 128)}
    typical = round(lengths.float().quantile(0.9).item())
    right = next(key for key, (low, high) in TRUNCATION_BOUNDS.items() if low <= cut[96] < high)
    why = tr("{share:.2%} of the texts are longer than 96 tokens: between the {at_128:.2%} cut at 128 and the "
             "{at_64:.2%} cut at 64, because the length histogram's tail thins out quickly: nine texts in ten have at "
             "most {typical} tokens", share=cut[96], at_128=cut[128], at_64=cut[64], typical=typical)
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
