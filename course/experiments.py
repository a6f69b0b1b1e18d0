"""The experiments of notebooks 01-06: the learner changes one thing in a model or a run, predicts, and measures.

An experiment's check takes the learner's prediction and the learner's change (a function, or a number), and
measures only once both are there: a prediction still ``None`` or a stub is "not attempted yet", and nothing
is trained. The measurement is either cheap and done here (a permutation, a masking, an attention map), or a
course function defined in the notebook (``measure``), visible to the learner, which the check calls with the
learner's change. The check then judges the measurement against the prediction and says why it came out so;
where the right answer depends on the data or the run, the key is computed from the measurement, never
hard-coded.
"""
from __future__ import annotations

import dataclasses
import math
import random

import torch

import torchnlp
from course.feedback import (
    N_,
    _call,
    _check,
    _choice,
    _expect_close,
    _expect_shape,
    _expect_tensor,
    _generator,
    _NotAttempted,
    _number,
    _shown,
    _Wrong,
)
from course.i18n import tr


def _finite(value, what):
    """A measured figure as a float; NaN, inf and non-numbers are the measurement's bug, named for the learner."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Wrong(tr("{what} must be a number, not a {kind}", what=what, kind=type(value).__name__))
    if not math.isfinite(value):
        raise _Wrong(tr("{what} is {value}: a measurement must be a finite number; look for a division by zero or "
                        "a run that diverged", what=what, value=value))
    return float(value)


def _share(value, what):
    value = _finite(value, what)
    if not 0 <= value <= 1:
        raise _Wrong(tr("{what} is {value:g}: a share lies between 0 and 1", what=what, value=value))
    return value


def _measure(measure, *args):
    """Run the notebook's measurement (course code the learner may have edited); its errors become feedback."""
    if not callable(measure):
        raise _Wrong(tr("pass the measurement function itself (without calling it), not a {kind}",
                        kind=type(measure).__name__))
    try:
        return measure(*args)
    except NotImplementedError:
        raise _NotAttempted(_shown(STUB_CHANGE)) from None
    except Exception as error:  # the learner's change broke the run: say how, never crash the notebook
        raise _Wrong(tr("the measurement raised {error_type}: {error}", error_type=type(error).__name__,
                        error=error)) from None


STUB_CHANGE = N_("your change still raises NotImplementedError; write it in the cell above, run that cell, then "
                 "this one.")
PREDICT_FIRST = N_("write your prediction first (it is still None): the check measures only after you have "
                   "committed to one.")


def _prediction_first(my_prediction):
    if my_prediction is None:
        raise _NotAttempted(_shown(PREDICT_FIRST))


def _expect_model(model, what):
    """A torch model with weights (the notebook's, passed in); anything else is named, not crashed on."""
    if not isinstance(model, torch.nn.Module) or next(model.parameters(), None) is None:
        raise _Wrong(tr("model must be {what}, not a {kind}", what=what, kind=type(model).__name__))
    return next(model.parameters()).device


def _range_key(value, bounds):
    """The option whose [low, high) range holds ``value``; ``bounds`` maps option -> (low, high)."""
    for key, (low, high) in bounds.items():
        if low <= value < high:
            return key
    return list(bounds)[-1]


def _judge(answer, right, options, why):
    """A multiple-choice prediction against the key computed from the measurement."""
    if answer != right:
        raise _Wrong(tr("you predicted ({answer}) {option}; {why}, so the measured answer is ({right}).",
                        answer=answer, option=_shown(options[answer]), why=why, right=right))
    return f"({right}) {_shown(options[right])}: {why}."


# ---------------------------------------------------------------------------------------------------------
# Notebook 01 · the model without attention, trained longer
# ---------------------------------------------------------------------------------------------------------

LONGER_BUDGET_OPTIONS = {
    "a": N_("no better on 9-14 digits (within 2 points): one vector of 128 numbers cannot hold that many digits"),
    "b": N_("better on 9-14 digits, but still well below the attention model at the normal budget"),
    "c": N_("as good on 9-14 digits as the attention model at the normal budget (or at most 2 points below)"),
    "d": N_("worse: training longer over-fits the training strings"),
}


@_check(N_("Exercise 1.4 · Experiment: the model without attention, trained longer"))
def check_longer_budget(my_prediction, longer_steps, measure, steps, before, attention):
    """Trained for ``longer_steps`` instead of ``steps``, where does the model without attention get on 9-14
    digits? ``measure(longer_steps)`` trains it afresh and returns its exact-sequence accuracy on those strings;
    ``before`` and ``attention`` are the accuracies of the two models trained for ``steps``."""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, tuple(LONGER_BUDGET_OPTIONS))
    longer_steps = _number(longer_steps)
    steps = _finite(steps, tr("the normal budget"))
    if longer_steps != int(longer_steps) or not steps < longer_steps <= 4 * steps:
        raise _Wrong(tr("LONGER_STEPS must be a whole number of steps above the normal {steps:g} and at most four "
                        "times it (a longer run would take too long here), not {value:g}", steps=steps,
                        value=longer_steps))
    before = _share(before, tr("the accuracy at the normal budget"))
    attention = _share(attention, tr("the attention model's accuracy"))
    after = _share(_measure(measure, int(longer_steps)), tr("the measured accuracy"))
    if after < before - 0.02:
        right = "d"
    elif after <= before + 0.02:
        right = "a"
    elif after < attention - 0.02:
        right = "b"
    else:
        right = "c"
    why = tr("trained for {longer:,} steps instead of {steps:,}, the model without attention reverses {after:.1%} of "
             "the held-out 9-14-digit strings exactly (it had {before:.1%}; attention had {attention:.1%} after "
             "{steps:,} steps). One vector of 128 numbers could hold 30 digits (they are about 100 bits); what the "
             "plain model lacks is a way to learn to put them in and take them out again, and more steps are "
             "what it needs for that. Attention makes the task learnable within the same budget",
             longer=int(longer_steps), steps=int(steps), after=after, before=before, attention=attention)
    return _judge(answer, right, LONGER_BUDGET_OPTIONS, why)


# ---------------------------------------------------------------------------------------------------------
# Notebook 02 · no positional encoding
# ---------------------------------------------------------------------------------------------------------

PERMUTATION_OPTIONS = {
    "a": N_("each position keeps the vector it had: self-attention ignores the order"),
    "b": N_("the same vectors come out, moved along with their tokens"),
    "c": N_("different vectors come out: each token's vector depends on where its neighbours stand"),
    "d": N_("every token comes out as the same vector: without positions the tokens cannot be told apart"),
}


def _token_vectors(model, ids, use_positions):
    """Notebook 02's TransformerClassifier up to its last encoder layer, in eval mode."""
    mask = ids != torchnlp.PAD_IDX
    x = model.embed(ids) * math.sqrt(model.embed.embedding_dim)
    if use_positions:
        x = x + model.pe[: ids.shape[1]]
    for layer in model.layers:
        x, _ = layer(x, mask)
    return x


@_check(N_("Exercise 2.5 · Experiment: no positional encoding"))
def check_permutation(fn, my_prediction, model, ids):
    """``fn(model, ids, use_positions)``: notebook 02's encoder's token vectors (batch, length, d_model), with or
    without the positional encodings. Prediction: what happens to them when the tokens are shuffled?"""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, tuple(PERMUTATION_OPTIONS))
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.shape[1] < 3 or ids.dtype != torch.long:
        raise _Wrong(tr("ids must be a LongTensor of shape (1, length) with at least 3 tokens, as padify returns"))
    _expect_model(model, tr("notebook 02b's TransformerClassifier"))
    for name in ("embed", "pe", "layers"):
        if not hasattr(model, name):
            raise _Wrong(tr("model must be notebook 02b's TransformerClassifier (it has no {name!r})", name=name))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            expected = {use: _token_vectors(model, ids, use) for use in (True, False)}
            got = {}
            for use in (True, False):
                got[use] = _expect_tensor(_call(fn, model, ids.clone(), use))
                _expect_shape(got[use], expected[use].shape, tr("the token vectors (batch, length, d_model)"))
                if use is False and torch.allclose(got[False].float(), expected[True], atol=1e-4):
                    raise _Wrong(tr("with use_positions=False your vectors still hold the positional encodings: "
                                    "add model.pe only when use_positions is True"))
                _expect_close(got[use], expected[use], tr("the token vectors with use_positions={use}", use=use),
                              atol=1e-4)
            permutation = torch.randperm(ids.shape[1], generator=_generator(25))
            if torch.equal(permutation, torch.arange(ids.shape[1])):
                permutation = permutation.flip(0)
            shuffled = {use: _call(fn, model, ids[:, permutation].clone(), use).float() for use in (True, False)}
    finally:
        model.train(was_training)
    moved = {use: (shuffled[use] - got[use].float()[:, permutation]).abs().max().item() for use in (True, False)}
    stayed = (shuffled[False] - got[False].float()).abs().max().item()
    if moved[False] > 1e-3:
        raise _Wrong(tr("without positions the shuffled tokens' vectors differ from the original ones, moved along, "
                        "by up to {moved:.2g}; they should agree up to round-off: does your function add the "
                        "positions anyway, or use dropout (model.eval())?", moved=moved[False]))
    why = tr("without positions the shuffled headline's vectors are the original ones, moved along with their "
             "tokens (largest difference {moved:.1e}, round-off), not the same vectors in place (they differ by up to "
             "{stayed:.2f}); with the positional encodings they change by up to {changed:.2f}. Self-attention and the "
             "feed-forward layers treat the tokens as a set: they are permutation-equivariant, and the mean over the "
             "tokens is then invariant, so without positions this classifier is a bag of words",
             moved=moved[False], stayed=stayed, changed=moved[True])
    return _judge(answer, "b", PERMUTATION_OPTIONS, why)


# ---------------------------------------------------------------------------------------------------------
# Notebook 03 · BERT's masked-language-model masking
# ---------------------------------------------------------------------------------------------------------

CLS_ID, SEP_ID, PAD_ID, MASK_ID, VOCAB_SIZE = 101, 102, 0, 103, 30522


def _mlm_batch(seed, rows=256, width=128):
    g = _generator(seed)
    lengths = torch.randint(8, width + 1, (rows,), generator=g)
    ids = torch.randint(1000, VOCAB_SIZE, (rows, width), generator=g)
    position = torch.arange(width)
    ids[:, 0] = CLS_ID
    ids[position == lengths[:, None] - 1] = SEP_ID
    ids[position >= lengths[:, None]] = PAD_ID
    special = (position == 0) | (position >= lengths[:, None] - 1)
    return ids, special.long()


@_check(N_("Exercise 3.4 · Experiment: BERT's 80/10/10 masking"))
def check_mlm_masking(fn, my_prediction):
    """``fn(input_ids, special_tokens_mask, mask_token_id, vocab_size, generator)``: (inputs, labels) as BERT's
    pre-training made them. Prediction: the share of the (non-special) pieces the model sees as [MASK]."""
    _prediction_first(my_prediction)
    predicted = _number(my_prediction)
    if not math.isfinite(predicted):
        raise _Wrong(tr("write your prediction as a finite number, not {answer}", answer=predicted))
    if predicted > 1:
        predicted /= 100  # a percentage
    ids, special = _mlm_batch(34)
    got = _call(fn, ids.clone(), special.clone(), MASK_ID, VOCAB_SIZE, torch.Generator().manual_seed(0))
    if not isinstance(got, tuple) or len(got) != 2:
        raise _Wrong(tr("return two tensors, (inputs, labels)"))
    inputs, labels = (_expect_tensor(t, name) for t, name in zip(got, ("inputs", "labels")))
    for tensor, name in ((inputs, "inputs"), (labels, "labels")):
        _expect_shape(tensor, ids.shape, name)
        if tensor.dtype != torch.long:
            raise _Wrong(tr("{name} must hold integer ids (torch.long), got {dtype}", name=name, dtype=tensor.dtype))
    is_special = special.bool()
    if (labels[is_special] != -100).any() or not torch.equal(inputs[is_special], ids[is_special]):
        raise _Wrong(tr("a special position ([CLS], [SEP] or [PAD]) was chosen or changed: special_tokens_mask marks "
                        "them, and they are never masked"))
    chosen = labels != -100
    if not torch.equal(labels[chosen], ids[chosen]):
        raise _Wrong(tr("at a chosen position the label must be the original id (what the model has to predict)"))
    if not torch.equal(inputs[~chosen], ids[~chosen]):
        raise _Wrong(tr("a position that was not chosen changed its id; and where nothing is chosen the label must "
                        "be -100, so that the loss ignores it"))
    normal = (~is_special).sum().item()
    count = chosen.sum().item()
    rate = count / normal

    def off(share, p, n):  # more than 4.5 standard deviations from p: not a sampling accident
        return abs(share - p) > 4.5 * math.sqrt(p * (1 - p) / max(n, 1))

    if off(rate, 0.15, normal):
        raise _Wrong(tr("{rate:.1%} of the non-special pieces were chosen (labels not -100); BERT chooses 15%",
                        rate=rate))
    masked = chosen & (inputs == MASK_ID)
    kept = chosen & (inputs == ids)
    replaced = chosen & ~masked & ~kept
    shares = {name: part.sum().item() / count for name, part in (("mask", masked), ("random", replaced),
                                                                  ("kept", kept))}
    if shares["mask"] > 0.97:
        raise _Wrong(tr("every chosen piece became [MASK]: of the chosen 15%, 80% become [MASK], 10% a random piece "
                        "and 10% stay as they are, so that the model cannot learn that only [MASK] positions matter"))
    for name, p, meaning in (("mask", 0.8, N_("became [MASK]")), ("random", 0.1, N_("became a random piece")),
                             ("kept", 0.1, N_("kept their own id"))):
        if off(shares[name], p, count):
            raise _Wrong(tr("of the chosen pieces {share:.1%} {meaning}, expected {expected:.0%}: draw one number per "
                            "chosen piece and split at 0.8 and 0.9", share=shares[name], meaning=_shown(meaning),
                            expected=p))
    if ((inputs[replaced] < 0) | (inputs[replaced] >= VOCAB_SIZE)).any():
        raise _Wrong(tr("a random replacement lies outside the vocabulary (ids 0 to vocab_size - 1)"))
    seen_as_mask = masked.sum().item() / normal
    why = tr("{mask:.1%} of the pieces became [MASK] (15% chosen x 80%), {random:.1%} a random piece and {kept:.1%} "
             "stayed unchanged but must still be predicted: the model is asked about 15% of the pieces yet sees a "
             "hole at only about 12%, and since any piece may be a replaced one, it must build a good vector for "
             "every position, which is what fine-tuning then uses", mask=seen_as_mask, random=replaced.sum().item() /
             normal, kept=kept.sum().item() / normal)
    if abs(predicted - seen_as_mask) > 0.02:
        raise _Wrong(tr("you predicted {answer:.1%}; {why}.", answer=predicted, why=why))
    return why[0].upper() + why[1:] + "."


# ---------------------------------------------------------------------------------------------------------
# Notebook 05 · freezing, warmup, a from-scratch learning rate
# ---------------------------------------------------------------------------------------------------------

def _tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    state = torch.random.get_rng_state()  # a check leaves the notebook's random state alone
    try:
        torch.manual_seed(0)
        return BertForSequenceClassification(BertConfig(
            vocab_size=50, hidden_size=8, num_hidden_layers=3, num_attention_heads=2, intermediate_size=16,
            max_position_embeddings=16, num_labels=4))
    finally:
        torch.random.set_rng_state(state)


FREEZE_OPTIONS = {
    "a": N_("below the head alone: with the lower layers frozen, the last layer only gets in the way"),
    "b": N_("between the head alone and the whole network"),
    "c": N_("as good as the whole network (at most 2 points below) or better"),
}


@_check(N_("Exercise 5.4 · Experiment: freeze all but the last layer"))
def check_freeze_last_layer(fn, my_prediction, measure, whole_accuracy, head_accuracy):
    """``fn(model)``: freeze everything but the encoder's last layer and the head (in place). ``measure(fn)``
    trains a fresh model so prepared on the comparison's batches and returns its validation accuracy."""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, tuple(FREEZE_OPTIONS))
    model = _tiny_bert()
    _call(fn, model)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    last = len(model.bert.encoder.layer) - 1
    if not trainable:
        raise _Wrong(tr("every weight is frozen: the last layer and the classification head must stay trainable"))
    if any(name.startswith("bert.embeddings.") for name in trainable):
        raise _Wrong(tr("the embeddings are still trainable: freeze everything below the last layer"))
    for index in range(last):
        if any(name.startswith(f"bert.encoder.layer.{index}.") for name in trainable):
            raise _Wrong(tr("encoder layer {index} is still trainable: freeze every layer but the last "
                            "(model.bert.encoder.layer[-1])", index=index))
    if not all(p.requires_grad for p in model.bert.encoder.layer[last].parameters()):
        raise _Wrong(tr("the encoder's last layer is (partly) frozen: it is the one layer that should train"))
    if not all(p.requires_grad for p in model.classifier.parameters()):
        raise _Wrong(tr("the classification head is frozen: it starts from random weights and must train"))
    whole = _share(whole_accuracy, tr("the whole network's accuracy"))
    head = _share(head_accuracy, tr("the head's accuracy"))
    accuracy = _share(_measure(measure, fn), tr("the measured accuracy"))
    right = "a" if accuracy < head else "c" if accuracy >= whole - 0.02 else "b"
    why = tr("with only the last layer and the head training, validation accuracy is {accuracy:.3f}, against "
             "{head:.3f} for the head alone and {whole:.3f} for the whole network on the same batches. One layer "
             "that adapts on top of frozen general features recovers {recovered:.0%} of the gap between the two, for "
             "a backward pass through one layer instead of six", accuracy=accuracy, head=head, whole=whole,
             recovered=(accuracy - head) / (whole - head) if whole > head else float("nan"))
    return _judge(answer, right, FREEZE_OPTIONS, why)


def _config_fields(config):
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise _Wrong(tr("return a TrainConfig (dataclasses.replace(config, ...)), not a {kind}",
                        kind=type(config).__name__))
    return dataclasses.asdict(config)


def _one_change(fn, config, field, expected, hint):
    original = _config_fields(config)
    result = _call(fn, config)
    changed = _config_fields(result)
    if _config_fields(config) != original:
        raise _Wrong(tr("your function changed the config it was given; return a new one with "
                        "dataclasses.replace(config, ...)"))
    others = sorted(name for name in original if name != field and changed.get(name) != original[name])
    if others:
        raise _Wrong(tr("change one thing only: you also changed {fields}", fields=", ".join(others)))
    if changed.get(field) != expected:
        raise _Wrong(hint)
    return result


WARMUP_DIRECTIONS = ("up", "down", "same")


@_check(N_("Exercise 5.5 · Experiment: no warmup"))
def check_warmup_off(fn, my_prediction, config, measure):
    """``fn(config)``: the same run without warmup. ``measure(config)`` trains the first steps of the course's
    schedule from the pre-trained weights and returns how far the encoder's weights moved (relative to their size).
    Prediction: without warmup, does that distance go up, down or stay the same?"""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, WARMUP_DIRECTIONS)
    without = _one_change(fn, config, "warmup_ratio", 0, tr("set warmup_ratio to 0: that is the run without warmup"))
    if _config_fields(config)["warmup_ratio"] <= 0:
        raise _Wrong(tr("the course's config must have warmup (warmup_ratio > 0) to compare against"))
    with_warmup = _finite(_measure(measure, config), tr("the distance with warmup"))
    without_warmup = _finite(_measure(measure, without), tr("the distance without warmup"))
    if with_warmup < 0 or without_warmup < 0:
        raise _Wrong(tr("a distance cannot be negative"))
    ratio = without_warmup / with_warmup if with_warmup > 0 else float("inf")
    went = "same" if abs(without_warmup - with_warmup) <= 0.05 * max(with_warmup, without_warmup) else \
        "up" if without_warmup > with_warmup else "down"
    why = tr("without warmup the encoder's weights moved {without:.2e} of their size in the first steps, with warmup "
             "{with_warmup:.2e} ({ratio:.1f} times as far without). AdamW's first steps divide each gradient by an "
             "estimate of its scale built from a handful of batches, so every weight moves by about the full "
             "learning rate at once; warmup starts the rate at 0 and lets the pre-trained weights wait until that "
             "estimate has settled", without=without_warmup, with_warmup=with_warmup, ratio=ratio)
    if answer != went:
        raise _Wrong(tr("you predicted {answer!r}, but the distance {went}: {why}.", answer=answer,
                        went=_shown({"up": N_("went up"), "down": N_("went down"), "same": N_("went same")}[went]),
                        why=why))
    return why[0].upper() + why[1:] + "."


LEARNING_RATE_OPTIONS = {
    "a": N_("higher: a larger rate learns more in the same steps"),
    "b": N_("about the same (within 2 points)"),
    "c": N_("lower, but well above chance"),
    "d": N_("near chance (below 35%): the pre-trained weights are wrecked"),
}


@_check(N_("Exercise 5.6 · Experiment: a from-scratch learning rate"))
def check_from_scratch_rate(fn, my_prediction, config, measure, whole_accuracy):
    """``fn(config)``: the same run at lr = 1e-3. ``measure(config)`` trains a fresh model on the comparison's
    batches and returns its validation accuracy; ``whole_accuracy`` is the same run's at 5e-5."""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, tuple(LEARNING_RATE_OPTIONS))
    changed = _one_change(fn, config, "lr", 1e-3, tr("set lr to 1e-3, the from-scratch rate of notebook 02b"))
    whole = _share(whole_accuracy, tr("the accuracy at 5e-5"))
    accuracy = _share(_measure(measure, changed), tr("the measured accuracy"))
    right = "d" if accuracy < 0.35 else "a" if accuracy > whole + 0.02 else "b" if accuracy >= whole - 0.02 else "c"
    why = tr("at 1e-3 validation accuracy is {accuracy:.3f}, against {whole:.3f} at 5e-5 on the same batches. A rate "
             "that suits a network trained from scratch makes every step move the pre-trained weights so far that "
             "what pre-training taught is overwritten faster than the 4,680 headlines can teach anything new; "
             "fine-tuning uses rates 20 to 50 times smaller", accuracy=accuracy, whole=whole)
    return _judge(answer, right, LEARNING_RATE_OPTIONS, why)


# ---------------------------------------------------------------------------------------------------------
# Notebook 06 · predictions without the attention mask; the previous-token head
# ---------------------------------------------------------------------------------------------------------

MASK_OFF_OPTIONS = {
    "a": N_("none: BERT ignores [PAD] tokens by itself"),
    "b": N_("some, but under 1%"),
    "c": N_("1% to 10%"),
    "d": N_("over 10%"),
}


def mask_off_option(flips, count):
    """The option of MASK_OFF_OPTIONS that ``flips`` changed predictions out of ``count`` measure."""
    return "a" if flips == 0 else _range_key(flips / count, {"b": (0, 0.01), "c": (0.01, 0.10), "d": (0.10, 1.01)})


def _class_ids(got, count):
    got = _expect_tensor(got, tr("your predictions"))
    if got.dim() == 2 and got.shape == (count, got.shape[1]):
        raise _Wrong(tr("you returned the logits (texts, classes); return the predicted class ids: .argmax(-1)"))
    _expect_shape(got, (count,), tr("your predictions (one class id per text)"))
    if got.is_floating_point() or got.dtype == torch.bool:
        raise _Wrong(tr("predictions must be integer class ids, got {dtype}", dtype=got.dtype))
    return got.long()


@_check(N_("Exercise 6.5 · Experiment: predictions without the attention mask"))
def check_mask_off(fn, my_prediction, model, features, collate, batch_size=32):
    """``fn(model, batch)``: the predicted class of each text in a padded batch, with the attention mask left out.
    The check runs the test features in a shuffled order, in batches, with and without the mask, and counts the
    texts whose predicted class changes."""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, tuple(MASK_OFF_OPTIONS))
    if not isinstance(features, (list, tuple)) or not features:
        raise _Wrong(tr("features must be a non-empty list of encoded texts (encode_for_bert)"))
    order = list(range(len(features)))
    random.Random(65).shuffle(order)
    device = _expect_model(model, tr("the fine-tuned model of notebook 05"))
    if not callable(collate):
        raise _Wrong(tr("collate must be the padding collate (PaddingCollator), not a {kind}",
                        kind=type(collate).__name__))
    was_training = model.training
    model.eval()
    flips, padding_of_flipped, padding_of_all = 0, [], []
    told_apart = False  # the learner's answer is checked against the library's until a batch tells mask from none
    try:
        for start in range(0, len(order), batch_size):
            batch = collate([features[i] for i in order[start:start + batch_size]])
            batch = {key: value.to(device) for key, value in batch.items() if key != "labels"}
            with torch.inference_mode():
                masked = model(**batch).logits.argmax(-1)
                got = _class_ids(_call(fn, model, dict(batch)), len(masked)).to(device)
                if not told_apart:
                    unmasked = model(input_ids=batch["input_ids"]).logits.argmax(-1)
                    if not torch.equal(got, unmasked):
                        if torch.equal(got, masked):
                            raise _Wrong(tr("these are the predictions with the mask: leave attention_mask out of "
                                            "the call (model(input_ids=batch['input_ids']))"))
                        raise _Wrong(tr("your predictions differ from model(input_ids=batch['input_ids']) without "
                                        "the mask"))
                    told_apart = not torch.equal(unmasked, masked)
            padding = 1 - batch["attention_mask"].float().mean(1)
            changed = (got != masked).cpu()
            flips += int(changed.sum())
            padding_of_flipped += padding.cpu()[changed].tolist()
            padding_of_all += padding.cpu().tolist()
    finally:
        model.train(was_training)
    share = flips / len(order)
    right = mask_off_option(flips, len(order))
    why = tr("{flips} of {count} predictions ({share:.1%}) changed class once the batches went in without their "
             "mask. Without it every token attends to the [PAD] positions of its batch (and the mean head also "
             "averages their vectors into the sentence vector), so a text's answer depends on what it was batched "
             "with", flips=flips, count=len(order), share=share)
    if padding_of_flipped:
        why += tr("; the texts that flipped were {flipped:.0%} padding on average, against {overall:.0%} for all",
                  flipped=sum(padding_of_flipped) / len(padding_of_flipped),
                  overall=sum(padding_of_all) / len(padding_of_all))
    return _judge(answer, right, MASK_OFF_OPTIONS, why)


def _previous_token_weight(attentions, attention_mask):
    mask = attention_mask.bool()
    queries = mask.clone()
    queries[:, 0] = False  # the first token has no previous one
    scores = []
    for layer in attentions:  # (batch, heads, T, T)
        previous = torch.diagonal(layer, offset=-1, dim1=-2, dim2=-1)  # [b, h, t-1] = weight of query t on t-1
        chosen = queries[:, None, 1:].expand_as(previous)
        scores.append((previous * chosen).sum((0, 2)) / chosen[:, 0].sum())
    return torch.stack(scores)


def _random_attentions(seed):
    g = _generator(seed)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    attentions = []
    for _ in range(3):
        scores = torch.randn(2, 4, 6, 6, generator=g) * 2
        attentions.append(torchnlp.masked_softmax(scores, mask[:, None, None, :].bool()))
    return tuple(attentions), mask


PREVIOUS_TOKEN_OPTIONS = {"a": N_("in layer 1 or 2"), "b": N_("in layer 3 or 4"), "c": N_("in layer 5 or 6")}


@_check(N_("Exercise 6.6 · Experiment: find the previous-token head"))
def check_previous_token_head(fn, my_prediction, model, tokenizer, headlines):
    """``fn(attentions, attention_mask)``: for every layer and head, the mean weight that a real token (from the
    second on) puts on the token just before it: a (layers, heads) tensor. Prediction: where is the strongest?"""
    _prediction_first(my_prediction)
    answer = _choice(my_prediction, tuple(PREVIOUS_TOKEN_OPTIONS))
    attentions, mask = _random_attentions(66)
    expected = _previous_token_weight(attentions, mask)
    got = _expect_tensor(_call(fn, tuple(a.clone() for a in attentions), mask.clone()))
    _expect_shape(got, expected.shape, tr("the scores (layers, heads)"))
    following = torch.stack([(torch.diagonal(a, offset=1, dim1=-2, dim2=-1)).mean((0, 2)) for a in attentions])
    if torch.allclose(got.float(), following, atol=1e-4):
        raise _Wrong(tr("you measured the weight on the next token (t + 1); the previous token is t - 1"))
    _expect_close(got, expected, tr("the scores on random attention maps (the second text has 2 padded positions, "
                                    "which must not count as queries)"), atol=1e-5)
    if not isinstance(headlines, (list, tuple)) or not headlines or not all(isinstance(h, str) and h.strip()
                                                                          for h in headlines):
        raise _Wrong(tr("headlines must be a list of non-empty texts"))
    device = _expect_model(model, tr("the fine-tuned model of notebook 05"))
    if not callable(tokenizer):
        raise _Wrong(tr("tokenizer must be the model's tokenizer, not a {kind}", kind=type(tokenizer).__name__))
    inputs = tokenizer(list(headlines), return_tensors="pt", padding=True).to(device)
    with torch.inference_mode():
        output = model(**inputs, output_attentions=True)
    if output.attentions is None or output.attentions[0] is None:
        raise _Wrong(tr("the model returned no attention weights: call model.set_attn_implementation(\"eager\") "
                        "first, as notebook 06b does above"))
    scores = _expect_tensor(_call(fn, tuple(a.float().cpu() for a in output.attentions),
                                  inputs["attention_mask"].cpu()))
    if not scores.isfinite().all():
        raise _Wrong(tr("your scores on the model's attention hold NaN or inf"))
    layer, head = divmod(int(scores.argmax()), scores.shape[1])
    right = "a" if layer < 2 else "b" if layer < 4 else "c"
    lengths = inputs["attention_mask"].sum(1).float()
    why = tr("layer {layer}, head {head} puts {weight:.0%} of its weight on the previous token, averaged over "
             "{count} headlines (spread evenly, a token would give it about {uniform:.0%}). A head that reads the "
             "token before is a positional pattern, not a topic: the model learned it because word order matters "
             "in pre-training, and Clark et al. (2019) found such heads in BERT too", layer=layer + 1, head=head,
             weight=scores.max().item(), count=len(headlines), uniform=(1 / lengths).mean().item())
    return _judge(answer, right, PREVIOUS_TOKEN_OPTIONS, why)
