"""The exercises' checks of notebooks 05-06: fine-tuning and evaluation."""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from course.feedback import (
    N_,
    _call,
    _check,
    _expect_close,
    _expect_shape,
    _expect_tensor,
    _generator,
    _number,
    _shape,
    _Wrong,
)
from course.i18n import tr

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
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (texts, batch_size, epochs)):
        raise _Wrong(tr("the texts, batch size and epochs this check is given must be positive whole numbers (got "
                        "{texts!r}, {batch_size!r}, {epochs!r}); run the notebook's cells above again",
                        texts=texts, batch_size=batch_size, epochs=epochs))
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
def check_constant_baseline_prediction(my_prediction, labels, classes):
    """What macro F1 does a "model" get that answers Sports for every text of the test split? Measured here from
    the labels; a prediction within 0.02 counts. Then: why its accuracy and its macro F1 differ."""
    answer = _number(my_prediction)
    if not math.isfinite(answer):
        raise _Wrong(tr("write your prediction as a finite number, not {answer}", answer=answer))
    if answer > 1:
        answer /= 100  # a percentage
    if answer < 0:
        raise _Wrong(tr("an F1 lies between 0 and 1, and so does their mean: not {answer:g}", answer=answer))
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.numel() == 0 or \
            labels.is_floating_point() or labels.dtype == torch.bool:
        got = f"{labels.dtype} {_shape(labels)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise _Wrong(tr("the labels must be the test split's class ids (a 1-D tensor of integers), got {got}: run "
                        "the notebook's cells above again", got=got))
    if not isinstance(classes, (list, tuple)) or "Sports" not in classes:
        raise _Wrong(tr("the classes must be the class names that torchnlp.load_dataset returned, Sports among "
                        "them, got {classes!r}", classes=classes))
    sports = list(classes).index("Sports")
    if labels.min() < 0 or labels.max() >= len(classes):
        raise _Wrong(tr("the labels must be class ids from 0 to {last}: run the notebook's cells above again",
                        last=len(classes) - 1))
    always_sports = torch.full_like(labels, sports)
    confusion = torch.bincount(labels * len(classes) + always_sports, minlength=len(classes) ** 2)
    macro_f1 = _macro_f1(confusion.reshape(len(classes), len(classes)))
    accuracy = (always_sports == labels).float().mean().item()  # Sports's share of the split: its precision
    sports_f1 = 2 * accuracy / (accuracy + 1)  # recall 1: every Sports text is found
    why = tr("measured: macro F1 {macro_f1:.3f}. Sports is predicted for every text: recall 1, precision "
             "{accuracy:.2f} (its share of the split), F1 {sports_f1:.2f}; the {others} other classes are never "
             "predicted, F1 0 each; the plain mean over the {count} classes is {macro_f1:.3f}. Its accuracy is "
             "{accuracy:.0%}: accuracy counts texts, and every Sports text is right; macro F1 counts classes, and it "
             "gets only one of them", macro_f1=macro_f1, accuracy=accuracy,
             sports_f1=sports_f1, others=len(classes) - 1, count=len(classes))
    if abs(answer - macro_f1) <= 0.02:
        return tr("You predicted {answer:.3f}; {why}. A baseline that knows nothing can still score a fair-looking "
                  "accuracy; macro F1 shows that it knows one class only.", answer=answer, why=why)
    if abs(answer - accuracy) <= 0.02:
        raise _Wrong(tr("{answer:.2f} is its accuracy, not its macro F1; {why}.", answer=answer, why=why))
    if abs(answer - sports_f1) <= 0.02:
        raise _Wrong(tr("{answer:.2f} is the F1 of Sports alone; macro F1 averages all classes, the ones never "
                        "predicted with F1 0; {why}.", answer=answer, why=why))
    if answer < macro_f1:
        raise _Wrong(tr("you predicted {answer:.3f}: too low (a class predicted for every text has recall 1, so "
                        "its F1 is not 0); {why}.", answer=answer, why=why))
    raise _Wrong(tr("you predicted {answer:.3f}: too high (the classes never predicted score F1 0 and count as "
                    "much as Sports); {why}.", answer=answer, why=why))
