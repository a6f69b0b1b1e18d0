"""The self-check framework: how an exercise's check calls the learner's code and words its verdict.

Every exercise in notebooks 00-06 ends with a call such as ``exercises.check_masked_softmax(masked_softmax)``.
A check

* calls the learner's function on small, seeded random inputs (fast, CPU, the same inputs every run);
* compares the answer with a reference implementation kept in its checks module (``course/checks_attention.py``
  for notebooks 00-02, ``course/checks_bert.py`` for 03-04, ``course/checks_training.py`` for 05-06) or, for
  the notebook's own helpers, with ``torchnlp``;
* prints feedback a learner can act on ("wrong shape: expected (2, 5), got (5, 2)", "masked positions are
  not zero", "mismatch at position (1, 3): expected 0.25, got 0.31", "returned a list, not a tensor"), or a
  short confirmation when the answer is right;
* returns a :class:`Result` (``status`` is ``"correct"``, ``"wrong"`` or ``"not attempted"``, ``message`` the
  printed text), so that tests can assert on it. In a notebook the result itself displays nothing: the
  printed message is the feedback.

A function that still raises ``NotImplementedError`` (the stub every exercise starts from) and a prediction
left at ``None`` give "not attempted yet", and no exception escapes a check, so "run all" runs through a
notebook whose exercises are not done.

Adding a check: in the checks module of its notebook, write ``def check_<name>(fn):`` decorated with
``@_check(N_("Exercise N.M · Title"))``. Call the learner's code only through ``_call(fn, ...)`` (it turns
``NotImplementedError`` into "not attempted" and any other exception into feedback naming it), raise
``_Wrong(tr("..."))`` with a sentence for the learner when the answer is wrong, and return the confirmation
sentence (``tr("...")``) when it is right. The helpers ``_expect_tensor``, ``_expect_shape`` and ``_expect_close``
produce the usual messages. Then name it in ``course/exercises.py`` (what the notebooks import), add the
reference solution to ``solutions/solutions.py`` and a test in ``tests/test_exercises.py`` that the solution
passes, the stub is "not attempted" and a typical wrong answer is rejected with its specific message.

Everything a learner reads goes through ``tr`` (course/i18n.py), so the German edition shows it in German: the
first argument is the English text as a plain literal, values go in as named fields
(``tr("expected {expected}, got {got}", expected=..., got=...)``). A text kept in a constant or a table (the
titles, ``STUB``, the quiz) is marked ``N_("...")`` where it is written and translated with ``_shown(text)``
where it is shown, in the language of that moment. Each English text has its German in
i18n/de/strings/exercises.json.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from course.files import ROOT
from course.i18n import tr

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


def _non_finite(value, depth=0):
    """Whether a value a check saw (an argument, or what the learner's function returned) holds NaN or inf: such a
    value is never a right answer, whatever the comparisons after it say (NaN compares as neither far nor near)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, torch.Tensor):
        return value.is_floating_point() and value.numel() > 0 and not bool(value.detach().isfinite().all())
    if depth < 2 and isinstance(value, (tuple, list)) and len(value) <= 64:
        return any(_non_finite(v, depth + 1) for v in value)
    if depth < 2 and isinstance(value, dict):
        return any(_non_finite(v, depth + 1) for v in value.values())
    return False


_SEEN = []  # what the learner's functions returned during the running check (checks do not nest)


def _check(title):
    """Turn a check body into a check: catch its verdict, print it, return a Result.

    No exception escapes: a value the body did not foresee (a string where a number was due, a float64 tensor, an
    empty list) becomes feedback that names it. And no answer that holds NaN or inf is called correct."""
    def decorate(body):
        @functools.wraps(body)
        def check(*args, **kwargs):
            _SEEN.clear()
            try:
                confirmation = body(*args, **kwargs)
                if any(_non_finite(value) for value in (*args, *kwargs.values(), *_SEEN)):
                    raise _Wrong(tr("a value holds NaN or inf, and NaN or inf is never a right answer: find where it "
                                    "comes from (a division by zero, a log of 0, a softmax over only -inf)"))
                result = Result("correct", tr("{title} · correct! {confirmation}", title=_shown(title),
                                              confirmation=confirmation))
            except _NotAttempted as reason:
                result = Result("not attempted", tr("{title} · not attempted yet: {reason}", title=_shown(title),
                                                    reason=reason))
            except _Wrong as reason:
                result = Result("wrong", tr("{title} · not yet: {reason}", title=_shown(title), reason=reason))
            except Exception as error:  # an input no rule of the check foresaw: feedback, never a crash
                result = Result("wrong", tr("{title} · not yet: your answer (or a value measured in the notebook) is "
                                            "not what this check expects, so it could not be compared: "
                                            "{error_type}: {error}. Check its type, dtype (float32 or long) and "
                                            "shape against the exercise.", title=_shown(title),
                                            error_type=type(error).__name__, error=error))
            finally:
                _SEEN.clear()
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
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted(_shown(STUB)) from None
    except Exception as error:  # the learner's bug: say what it was, never crash the notebook
        raise _Wrong(tr("your function raised {error_type}: {error}", error_type=type(error).__name__,
                        error=error)) from None
    _SEEN.append(result)
    return result


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

    path = ROOT / "solutions" / "solutions.py"
    spec = importlib.util.spec_from_file_location("course_solutions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
