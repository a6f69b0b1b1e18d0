"""Every check, every bad input: a learner's wrong answer is exactly when a check must speak, so no input makes a
check raise, every call returns a Result with feedback, and no NaN or inf is ever "correct".

The checks are discovered from ``course.exercises`` (a new check is covered as soon as it is exported there); their
valid arguments come from the table of tests/test_exercises.py (which must have an entry for every check). Each
argument in turn is replaced by each bad value; where the valid argument is a function (the learner's answer, or a
measurement), also by functions that raise, or that return a bad value or a spoiled version of the right result
(float64, int64, NaN, inf, a list, a wrong shape).
"""
import math

import numpy as np
import pytest
import torch
from test_exercises import CASES

from course import exercises
from course.feedback import STATUSES, Result, _non_finite

NAN, INF = float("nan"), float("inf")
BAD_VALUES = {
    "None": None,
    "str": "text",
    "int": 3,
    "bool": True,
    "float": 2.5,
    "nan": NAN,
    "inf": INF,
    "-inf": -INF,
    "list": [1, 2],
    "tuple": (1, 2),
    "dict": {"a": 1},
    "ndarray": np.zeros(3),
    "float64 tensor": torch.zeros(3, dtype=torch.float64),
    "int64 tensor": torch.zeros(3, dtype=torch.int64),
    "bool tensor": torch.zeros(3, dtype=torch.bool),
    "0-d tensor": torch.tensor(0.5),
    "nan 0-d tensor": torch.tensor(NAN),
    "empty tensor": torch.empty(0),
    "wrong shape": torch.zeros(2, 3, 4),
    "nan tensor": torch.full((2, 3), NAN),
    "inf tensor": torch.full((2, 3), INF),
}
NON_FINITE = {"nan", "inf", "-inf", "nan 0-d tensor", "nan tensor", "inf tensor"}


def _spoil(value, how):
    """The right result, spoiled one way (recursively through tuples, lists and dicts)."""
    if isinstance(value, tuple):
        return tuple(_spoil(v, how) for v in value)
    if isinstance(value, list) and how != "list":
        return [_spoil(v, how) for v in value]
    if isinstance(value, dict):
        return {k: _spoil(v, how) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return {"float64": lambda: value.double(), "int64": lambda: value.long(), "list": value.tolist,
                "nan": lambda: value.float().fill_(NAN), "inf": lambda: value.float().fill_(INF),
                "transposed": lambda: value.T if value.dim() == 2 else value.unsqueeze(0),
                "empty": lambda: value.reshape(-1)[:0]}[how]()
    if isinstance(value, float) and not isinstance(value, bool):
        return {"nan": NAN, "inf": INF}.get(how, value)
    return value


SPOILS = ("float64", "int64", "list", "nan", "inf", "transposed", "empty")


def _raises(*args, **kwargs):
    raise ValueError("a bug in the learner's code")


def _returning(value):
    return lambda *args, **kwargs: value


def _spoiled(function, how, spoilt):
    """The right function, its result spoiled; ``spoilt`` records whether a result really held NaN or inf (a
    list of ids has nothing to spoil)."""
    def spoiled(*args, **kwargs):
        result = _spoil(function(*args, **kwargs), how)
        spoilt.append(_non_finite(result))
        return result
    return spoiled


def variants(valid):
    """(label, bad argument, whether NaN or inf reached the check: a function of nothing) for one argument position
    whose valid value is ``valid``."""
    for label, value in BAD_VALUES.items():
        yield label, value, lambda non_finite=label in NON_FINITE: non_finite
    if callable(valid):
        yield "raises", _raises, lambda: False
        for label, value in BAD_VALUES.items():
            yield f"returns {label}", _returning(value), lambda non_finite=label in NON_FINITE: non_finite
        for how in SPOILS:
            spoilt = []
            yield f"returns the right result, {how}", _spoiled(valid, how, spoilt), lambda spoilt=spoilt: any(spoilt)


def _checks():
    return {name: getattr(exercises, name) for name in dir(exercises) if name.startswith("check_")}


def test_every_check_is_in_the_table():
    missing = sorted(set(_checks()) - {check.__name__ for check, *_ in CASES.values()})
    assert missing == [], f"add these checks to CASES in tests/test_exercises.py: {missing}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_bad_input_crashes_a_check_or_passes_as_correct(name, capsys):
    check, extra, answer, _ = CASES[name]
    valid = [answer, *extra]
    crashes, accepted = [], []
    for position in range(len(valid)):
        for label, bad, non_finite in variants(valid[position]):
            arguments = list(valid)
            arguments[position] = bad
            try:
                result = check(*arguments)
            except Exception as error:  # noqa: BLE001  the point of the test: nothing escapes
                crashes.append(f"argument {position} = {label}: {type(error).__name__}: {error}")
                continue
            assert isinstance(result, Result) and result.status in STATUSES and result.message, (position, label)
            if non_finite() and result.status == "correct":
                accepted.append(f"argument {position} = {label}: {result.message}")
    capsys.readouterr()
    assert crashes == [], f"{check.__name__} raised instead of giving feedback:\n" + "\n".join(crashes)
    assert accepted == [], f"{check.__name__} called NaN or inf correct:\n" + "\n".join(accepted)


def test_the_table_covers_at_least_every_check_and_kind_of_input():
    assert len(_checks()) >= 32
    assert len(BAD_VALUES) >= 20 and math.isnan(BAD_VALUES["nan"])
