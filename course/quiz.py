"""The course's own quiz in notebook 07 (the lesson's quiz is a separate pre/post-lecture app):
``quiz.answer(3, "b")`` says right or wrong with a one-sentence explanation, ``quiz.reveal(3)`` shows the
answer, and an answer left at ``None`` is "not answered yet".

The questions and their options are content, written once: in notebook 07's markdown (English) and in
i18n/de/07_quiz.md (German), translated with the rest of the notebook. This module keeps only what checks an
answer: the key and the explanations. To add a question, add its markdown cell ("**Question N.** ...", options
``* **(a)** ...``) and its answer cell (``quiz.answer(N, answer_N)``) to notebook 07, its German to
i18n/de/07_quiz.md, and its ``Key`` below; tests/test_exercises.py checks that the notebook and the key agree.
"""
from __future__ import annotations

from dataclasses import dataclass

from course.feedback import N_, Result, _shown
from course.i18n import tr


@dataclass(frozen=True)
class Key:
    """The key to one question: the right option, why it is right (marked N_, shown in the course's language),
    and the options the question offers."""
    answer: str
    explanation: str
    options: str = "abcd"


#: Question 1 first; the questions themselves are in notebook 07.
KEYS = [
    Key("b", N_("A 128-float state could hold 30 digits (about 100 bits); what fails is learning to pass them "
                "through it: without attention the model still gets no 26-30 digit string right after 3,000 steps "
                "(bench/bottleneck.py), while attention lets every step look up all encoder states and learns the "
                "task in the same 600 steps.")),
    Key("c", N_("Padded positions get exactly 0 weight, and an empty row comes out as zeros rather than the NaN "
                "that a naive masked_fill(-inf) softmax gives.")),
    Key("a", N_("Each (sin, cos) pair rotates by the same angle for a shift of k whatever pos is, so 'k tokens "
                "back' is one linear function that attention's projections can learn.")),
    Key("b", N_("Unscaled scores spread like sqrt(d_k); a saturated softmax picks one key and passes almost no "
                "gradient to any score, the winner's included: its Jacobian diag(p) - p p^T is near 0 when p is "
                "one-hot (notebook 02's table).")),
    Key("b", N_("The T x T score matrix makes attention quadratic; its few large matrix products beat the GRU's T "
                "sequential steps up to about 256 tokens on 2 CPU cores.")),
    Key("c", N_("Frequent words are one token and rare ones are spelled from pieces, so almost nothing becomes "
                "[UNK] (only what cannot be spelled, like an emoji).")),
    Key("c", N_("Notebook 04 measured it: without the mask the padded copy's logits differ from the text alone; "
                "with it they agree up to round-off.")),
    Key("b", N_("Padding fell from about 48% to about 2% in notebook 04, and the forward pass got faster "
                "roughly in proportion; the batches are still shuffled each epoch.")),
    Key("b", N_("Only the head's 1,540 weights are new; a from-scratch rate like 1e-3 would wreck the pre-trained "
                "encoder within an epoch.")),
    Key("c", N_("An accuracy means something only against a baseline on the same data; per-class scores and the "
                "confident mistakes show where it comes from (and the label noise that caps it).")),
]


def _normalised(choice):
    return str(choice).strip().lower().strip("()").strip()


class Quiz:
    """The course's quiz: ``answer(n, choice)`` checks question n (1-based), ``reveal(n)`` shows its answer."""

    def __init__(self, keys=KEYS):
        self.keys = list(keys)

    def __len__(self):
        return len(self.keys)

    def _key(self, number):
        if not isinstance(number, int) or not 1 <= number <= len(self.keys):
            raise ValueError(tr("the quiz has questions 1 to {count}, not {number!r}", count=len(self.keys),
                                number=number))
        return self.keys[number - 1]

    def answer(self, number, choice):
        """Print and return whether ``choice`` ("a".."d") is the right answer to question ``number``."""
        key = self._key(number)
        picked = None if choice is None else _normalised(choice)
        if choice is None:
            result = Result("not attempted", tr("Question {number}: not answered yet.", number=number))
        elif picked not in key.options:
            result = Result("wrong", tr("Question {number}: answer with one of {options}, not {choice!r}.",
                                        number=number, options=", ".join(repr(o) for o in key.options),
                                        choice=choice))
        elif picked == key.answer:
            result = Result("correct", tr("Question {number}: ({picked}) is right. {explanation}", number=number,
                                          picked=picked, explanation=_shown(key.explanation)))
        else:
            result = Result("wrong", tr("Question {number}: ({picked}) is not right; think again, or "
                                        "quiz.reveal({number}) shows the answer.", number=number, picked=picked))
        print(result.message)
        return result

    def reveal(self, number):
        """Print the answer to question ``number`` with its explanation."""
        key = self._key(number)
        message = tr("Question {number}: the answer is ({answer}). {explanation}", number=number,
                     answer=key.answer, explanation=_shown(key.explanation))
        print(message)
        return Result("correct", message)

    def score(self, answers):
        """Print how many of ``answers`` (a list, question 1 first) are answered and right."""
        answered = [(n, a) for n, a in enumerate(answers, start=1) if a is not None]
        right = sum(_normalised(a) == self._key(n).answer for n, a in answered)
        message = tr("{answered} of {count} questions answered, {right} right.", answered=len(answered),
                     count=len(self.keys), right=right)
        print(message)
        return Result("correct" if right == len(self.keys) else "not attempted" if not answered else "wrong",
                      message)


quiz = Quiz()
