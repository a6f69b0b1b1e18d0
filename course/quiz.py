"""The course's own quiz in notebook 07 (the lesson's quiz is a separate pre/post-lecture app):
``quiz.answer(3, "b")`` says right or wrong with a one-sentence explanation, ``quiz.reveal(3)`` shows the
answer, and an answer left at ``None`` is "not answered yet".

Two kinds of question. A choice question ("a".."d") has one explanation for its right option and one for each
wrong option, shown when that option is picked: each wrong option is a misconception, and its explanation says
what is wrong with it. A number question asks for a prediction of a figure that a notebook measured; the figure
is computed when the question is answered (from the data, the model's configuration or a bench's stored
results), never written here, so the key stays right with every data release. An answer within the key's
tolerance is right; a wrong one hears whether it is too high or too low, with why.

The questions and their options are content, written once: in notebook 07's markdown (English) and in
i18n/de/07_quiz.md (German), translated with the rest of the notebook. This module keeps only what checks an
answer: the key and the explanations. To add a question, add its markdown cell ("**Question N.** ...", options
``* **(a)** ...``) and its answer cell (``quiz.answer(N, answer_N)``) to notebook 07, its German to
i18n/de/07_quiz.md, and its ``Key`` below; tests/test_exercises.py checks that the notebook and the key agree.
"""
from __future__ import annotations

import functools
import json
import math
import numbers
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from course.feedback import N_, Result, _shown
from course.files import ROOT
from course.i18n import number as written_number
from course.i18n import percent, tr


@dataclass(frozen=True)
class Key:
    """The key to one choice question: the right option, why it is right, and why each wrong option is wrong (all
    marked N_, shown in the course's language), and the options the question offers."""
    answer: str
    explanation: str
    wrong: dict = field(default_factory=dict)
    options: str = "abcd"


@dataclass(frozen=True)
class NumberKey:
    """The key to a number question: ``figure()`` computes the measured figure when it is needed, an answer within
    ``tolerance`` of it is right; ``too_low`` and ``too_high`` say what an answer off on that side misses.
    ``share``: the figure is a fraction of 1 (shown as a percentage; an answer such as 22 is read as 22%)."""
    figure: Callable[[], float]
    tolerance: float
    explanation: str
    too_low: str
    too_high: str
    share: bool = False
    options: str = ""


# --- the measured figures of the number questions (computed, not written down) --------------------------------

@functools.cache
def bottleneck_exact_share():
    """Notebook 01's bench table (bench/bottleneck-results.json): the share of all held-out strings that the model
    without attention decodes exactly after the notebook's own number of training steps."""
    results = json.loads((ROOT / "bench" / "bottleneck-results.json").read_text(encoding="utf-8"))
    steps = results["settings"]["notebook_steps"]
    [run] = [r for r in results["runs"] if not r["attention"] and r["steps"] == steps]
    return float(run["exact_overall"])


#: Notebook 04's set-up: texts cut at MAX_SEQ_LEN word pieces, random batches of BATCH_SIZE, shuffled with seed 0.
PADDING_MAX_SEQ_LEN, PADDING_BATCH_SIZE = 128, 32


@functools.cache
def random_batch_padding_share():
    """Notebook 04's "random" row: the share of padded positions when the training split, in a shuffled order, is
    cut into batches and each batch is padded to its longest text (computed on the data the course reads)."""
    from transformers import AutoTokenizer

    import torchnlp

    train = torchnlp.read_ag_news_csv(torchnlp.ensure_ag_news() / "train.csv")
    tokenizer = AutoTokenizer.from_pretrained(torchnlp.bert_model_path())
    lengths = [len(f["input_ids"]) for f in torchnlp.encode_for_bert(train, tokenizer, PADDING_MAX_SEQ_LEN)]
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    batches = [order[i:i + PADDING_BATCH_SIZE] for i in range(0, len(order), PADDING_BATCH_SIZE)]
    return 1 - sum(lengths) / sum(len(b) * max(lengths[i] for i in b) for b in batches)


@functools.cache
def head_weights():
    """Notebook 05's new weights: the head that notebook 05 chose (torchnlp.DEFAULT_HEAD) is one linear layer from
    the encoder's hidden size to the four classes, with a bias (mean pooling and the [CLS] pooler alike)."""
    from course.bert import bert_model_path, model_config

    hidden = model_config(bert_model_path())["hidden_size"]
    classes = 4
    return hidden * classes + classes


#: Question 1 first; the questions themselves are in notebook 07.
KEYS = [
    Key("b", N_("A 128-float state could hold 30 digits (about 100 bits); what fails is learning to pass them "
                "through it: without attention the model still gets no 26-30 digit string right after 3,000 steps "
                "(bench/bottleneck.py), while attention lets every step look up all encoder states and learns the "
                "task in the same 600 steps."),
        wrong={"a": N_("Capacity is not the limit: 30 digits are about 100 bits, and 128 floats hold far more. Trained "
                       "longer (notebook 01's bench table), the same model gets more strings right; within the "
                       "budget it has not learned to use the vector."),
               "c": N_("Nothing diverges: the loss falls steadily in notebook 01's training and further with more "
                       "steps. The model settles on a solution that is good for short strings and poor for long "
                       "ones."),
               "d": N_("The encoder packs each batch (pack_padded_sequence), so it never reads the padding; and the "
                       "short strings, which carry the most padding, are the ones it gets right.")}),
    Key("d", N_("Padded positions get exactly 0 weight, and an empty row comes out as zeros rather than the NaN "
                "that a naive masked_fill(-inf) softmax gives."),
        wrong={"a": N_("A row of NaN is what the naive masked_fill(-inf) softmax gives an empty row (0 / 0); the "
                       "course's masked softmax returns zeros there, so one empty row cannot make a whole batch's "
                       "loss NaN (Exercise 1.3)."),
               "b": N_("A small weight is what adding a large negative number instead of masking gives; the masked "
                       "softmax gives exactly 0. A row with no valid position has nothing to average: zeros, not "
                       "a uniform spread over padding."),
               "c": N_("-inf is what the mask writes into the scores before the softmax; the softmax turns it into "
                       "a weight of exactly 0 (exp(-inf) = 0). A weight is never negative.")}),
    Key("a", N_("Each (sin, cos) pair rotates by the same angle for a shift of k whatever pos is, so 'k tokens "
                "back' is one linear function that attention's projections can learn."),
        wrong={"b": N_("Sinusoidal encodings are a fixed formula, computed, not learned (BERT, by contrast, learns a "
                       "table of position embeddings); the question is why this formula."),
               "c": N_("The positions must differ, and they do, but any distinct vectors would do that, a learned "
                       "table too. The sines and cosines are chosen for the shift: PE(pos + k) is one rotation of "
                       "PE(pos), whatever pos is."),
               "d": N_("Nothing in the encoding forces attention to fall off with distance: the scores come from "
                       "learned projections, which can favour any offset, near or far. What the sines and cosines "
                       "guarantee is that each offset is one fixed rotation.")}),
    Key("c", N_("Unscaled scores spread like sqrt(d_k); a saturated softmax picks one key and passes almost no "
                "gradient to any score, the winner's included: its Jacobian diag(p) - p p^T is near 0 when p is "
                "one-hot (notebook 02a's table)."),
        wrong={"a": N_("The output is a weighted average of the values (weights of at least 0 that sum to 1), so it "
                       "stays on the values' scale with or without the division; what grows with d_k is the "
                       "scores' spread, and it saturates the softmax."),
               "b": N_("The softmax already makes every row sum to 1, scaled or not; the division changes how peaked "
                       "a row is, not its sum."),
               "d": N_("The divisor is sqrt(d_k), the width of queries and keys, and has nothing to do with the "
                       "number of tokens; the scores' spread grows with d_k whatever the sequence length.")}),
    Key("d", N_("The T x T score matrix makes attention quadratic; its few large matrix products beat the GRU's T "
                "sequential steps up to about 256 tokens on 2 CPU cores."),
        wrong={"a": N_("Running in parallel does not make the work linear: attention computes a T x T score matrix, "
                       "so its time grows with T squared, and notebook 02a's timing curve bends upwards."),
               "b": N_("For short inputs, yes: a few large matrix products beat T sequential GRU steps. But the T x T "
                       "scores grow quadratically, and in notebook 02a's timing attention falls behind the GRU on "
                       "long inputs."),
               "c": N_("Its T squared work runs as a few large matrix products, which a CPU does far faster per "
                       "operation than the GRU's T small sequential steps: for sentence-length inputs attention is "
                       "faster (notebook 02a's timing).")}),
    Key("a", N_("Frequent words are one token and rare ones are spelled from pieces, so almost nothing becomes "
                "[UNK] (only what cannot be spelled, like an emoji)."),
        wrong={"b": N_("That is what notebook 00's word vocabulary does (its <unk> rate); WordPiece spells the word "
                       "from pieces it knows and keeps [UNK] for what cannot be spelled, like an emoji."),
               "c": N_("The vocabulary is fixed when BERT is pre-trained: its embedding table has one row per entry, "
                       "and fine-tuning changes the rows, not their number."),
               "d": N_("A tokenizer does not compare meanings: it cuts the string greedily into the longest pieces "
                       "it knows, so the word is kept exactly, spelled in pieces.")}),
    Key("c", N_("Notebook 04 measured it: without the mask the padded copy's logits differ from the text alone; "
                "with it they agree up to round-off."),
        wrong={"a": N_("[PAD] has a learned embedding that is not zero, and the position embeddings are added to it "
                       "anyway: a padded position has a key like any token's and gets softmax weight (notebook 04: "
                       "the logits differ without the mask)."),
               "b": N_("BERT does not look at the ids to find padding: without attention_mask it takes every "
                       "position as real (a mask of ones), and notebook 04 measured the logits change."),
               "d": N_("Every real token attends to every position, padding included, so the padding changes the "
                       "real tokens' outputs from the first layer on, and through them [CLS] and the logits.")}),
    Key("b", N_("Batches of similar length leave little padding (notebook 04's table: far less than random "
                "batches), and the forward pass got faster roughly in proportion; the batches are still shuffled "
                "each epoch."),
        wrong={"a": N_("Texts in a bucket are of similar length, not of equal length: most batches still pad a few "
                       "positions, so the attention mask is still needed."),
               "c": N_("LengthBucketSampler sorts within chunks of a shuffled order and then shuffles the batches: "
                       "short and long batches are mixed in every epoch. It is not a curriculum."),
               "d": N_("Sorting once would give the same batches in every epoch; LengthBucketSampler shuffles before "
                       "it sorts its chunks, and shuffles the batches after, so each epoch differs.")}),
    Key("d", N_("Only the head's weights are new; a from-scratch rate like 1e-3 would wreck the pre-trained "
                "encoder within an epoch."),
        wrong={"a": N_("The encoder comes from the pre-trained checkpoint (the load report lists only the head as "
                       "new), and a rate of 1e-3 would wreck those weights within an epoch (Exercise 5.6)."),
               "b": N_("Notebook 05 trains the whole network: every parameter is in the optimizer. Freezing the "
                       "encoder is an option (Exercise 5.4 compares it), but the course fine-tunes everything, at "
                       "a small rate."),
               "c": N_("AdamW's step is about the learning rate in size whatever the gradient's scale, so the rate "
                       "sets directly how far each weight moves a step: 1e-3 moves pre-trained weights far too "
                       "much.")}),
    Key("a", N_("An accuracy means something only against a baseline on the same data; per-class scores and the "
                "confident mistakes show where it comes from (and the label noise that caps it)."),
        wrong={"b": N_("Training accuracy counts memorising as well as learning: it says nothing about new texts, "
                       "and nothing about how hard the task is."),
               "c": N_("A second seed shows how much the figure varies (bench/heads.py runs three), not whether it is "
                       "good: for that it needs a baseline on the same split."),
               "d": N_("The validation split chose the head and the epochs, so its figure is slightly optimistic, "
                       "and it still has no baseline to compare with.")}),
    Key("c", N_("[MASK] never appears when BERT is fine-tuned or used: random and unchanged pieces make every input "
                "piece a possible target, so the model keeps a good representation of each real token, not only "
                "of [MASK]."),
        wrong={"a": N_("Every chosen piece gets a loss, whether it became [MASK], a random piece or stayed as it "
                       "was, and the model computes every position anyway: the split changes what the input looks "
                       "like, not the cost."),
               "b": N_("A random piece is a replaced word, not a typo; the point is that the model cannot trust any "
                       "input piece blindly, so it must represent every token well, not only [MASK]."),
               "d": N_("Detecting replaced tokens is ELECTRA's objective; BERT's loss asks for the original piece at "
                       "each chosen position, whatever stands there now.")}),
    Key("b", N_("Without positions, a token's output depends only on the set of tokens, not on their order: shuffle "
                "the input and the same output vectors come out shuffled the same way (Exercise 2.5), so a mean "
                "over the tokens cannot tell the two sentences apart."),
        wrong={"a": N_("Each token's output stays the same vector, but it comes out at the token's new position: "
                       "the outputs permute with the input (equivariance), they are not the same in the same order. "
                       "Only a summary such as their mean is unchanged."),
               "c": N_("A query's softmax runs over all keys and its output is a sum over the values; a sum does not "
                       "depend on order, so shuffling keys and values together changes nothing for that query."),
               "d": N_("The feed-forward block is applied to each position on its own with the same weights; only "
                       "attention mixes positions, and it does so without knowing where they stand.")}),
    NumberKey(bottleneck_exact_share, 0.08,
              N_("Short strings come out almost always right and long ones never: the share over all lengths is "
                 "about what the strings up to a dozen or so digits contribute (notebook 01's bench table)."),
              too_low=N_("The model without attention is not useless: strings of a few digits come out almost always "
                         "right, and they are a fair part of the held-out set (the lengths are drawn evenly)."),
              too_high=N_("Look at the long strings: without attention, hardly any string of more than a dozen or so "
                          "digits comes out exactly right after the notebook's steps, and they are most of the set."),
              share=True),
    NumberKey(random_batch_padding_share, 0.08,
              N_("A random batch is padded to its longest text, and AG News texts vary a lot in length, so a large "
                 "part of each batch is padding; bucketing removes most of it."),
              too_low=N_("A batch of random texts is padded to its longest one: one long text in the batch pads "
                         "every other text to its length, and with many texts per batch a long one is almost always "
                         "there."),
              too_high=N_("Padding to the batch's longest text is far less than padding every text to MAX_SEQ_LEN "
                          "(the fixed row of notebook 04's table): a batch's longest text is rarely that long."),
              share=True),
    NumberKey(head_weights, 0,
              N_("The head is one linear layer from the encoder's hidden size to the four classes, plus a bias per "
                 "class: hidden size x 4 + 4 weights; everything else starts pre-trained."),
              too_low=N_("Count the head's bias too, and the full hidden size: every one of the encoder's output "
                         "features is connected to each of the four classes."),
              too_high=N_("Only the head is new: one linear layer from the hidden size to four classes (and a bias). "
                          "The encoder's millions of weights come from the checkpoint.")),
]


def _normalised(choice):
    return str(choice).strip().lower().strip("()").strip()


def _written(key, value):
    """A figure or an answer to a number question, as the course's language writes it."""
    if key.share:
        return percent(value, 1)
    return written_number(int(value)) if float(value).is_integer() else written_number(value, 3)


def _as_share(key, value):
    """An answer to a share question as a fraction: 22 (meant as 22%) is read as 0.22."""
    return value / 100 if key.share and 1 < abs(value) <= 100 else value


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

    def _verdict(self, number, choice):
        """The Result for ``choice`` as the answer to question ``number`` (nothing printed)."""
        key = self._key(number)
        if choice is None:
            return Result("not attempted", tr("Question {number}: not answered yet.", number=number))
        if isinstance(key, NumberKey):
            return self._number_verdict(number, key, choice)
        picked = _normalised(choice)
        if picked not in key.options:
            return Result("wrong", tr("Question {number}: answer with one of {options}, not {choice!r}.",
                                      number=number, options=", ".join(repr(o) for o in key.options), choice=choice))
        if picked == key.answer:
            return Result("correct", tr("Question {number}: ({picked}) is right. {explanation}", number=number,
                                        picked=picked, explanation=_shown(key.explanation)))
        return Result("wrong", tr("Question {number}: ({picked}) is not right: {why} Think again, or "
                                  "quiz.reveal({number}) shows the answer.", number=number, picked=picked,
                                  why=_shown(key.wrong[picked])))

    def _number_verdict(self, number, key, choice):
        if isinstance(choice, bool) or not isinstance(choice, numbers.Real):
            return Result("wrong", tr("Question {number}: answer with a number, such as 0.3 or 1200, not {choice!r}.",
                                      number=number, choice=choice))
        if not math.isfinite(choice):
            return Result("wrong", tr("Question {number}: {choice!r} is not a figure; answer with a finite number.",
                                      number=number, choice=choice))
        given, figure = _as_share(key, float(choice)), key.figure()
        if abs(given - figure) <= key.tolerance:
            return Result("correct", tr("Question {number}: {given} is right: the notebooks measured {figure}. "
                                        "{explanation}", number=number, given=_written(key, given),
                                        figure=_written(key, figure), explanation=_shown(key.explanation)))
        too_low = given < figure
        return Result("wrong", tr("Question {number}: {given} is too {side}: {why} Think again, or "
                                  "quiz.reveal({number}) shows the figure.", number=number,
                                  given=_written(key, given), side=tr("low") if too_low else tr("high"),
                                  why=_shown(key.too_low if too_low else key.too_high)))

    def answer(self, number, choice):
        """Print and return whether ``choice`` ("a".."d", or a number for a number question) is the right answer to
        question ``number``."""
        result = self._verdict(number, choice)
        print(result.message)
        return result

    def reveal(self, number):
        """Print the answer to question ``number`` with its explanation."""
        key = self._key(number)
        if isinstance(key, NumberKey):
            message = tr("Question {number}: the notebooks measured {figure}. {explanation}", number=number,
                         figure=_written(key, key.figure()), explanation=_shown(key.explanation))
        else:
            message = tr("Question {number}: the answer is ({answer}). {explanation}", number=number,
                         answer=key.answer, explanation=_shown(key.explanation))
        print(message)
        return Result("correct", message)

    def score(self, answers):
        """Print how many of ``answers`` (a list, question 1 first) are answered and right."""
        verdicts = [self._verdict(n, a) for n, a in enumerate(answers, start=1) if a is not None]
        right = sum(v.correct for v in verdicts)
        message = tr("{answered} of {count} questions answered, {right} right.", answered=len(verdicts),
                     count=len(self.keys), right=right)
        print(message)
        return Result("correct" if right == len(self.keys) else "not attempted" if not verdicts else "wrong",
                      message)


quiz = Quiz()
