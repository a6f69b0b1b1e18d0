"""The exercises' self-checks (course/checks_*.py): each accepts its reference solution (solutions/solutions.py),
calls a stub "not attempted", and rejects a typical wrong answer with the message that names the mistake.
Also the quiz, and the assignment's reference solution (solutions/assignment.py) on a tiny slice."""
import collections
import importlib.util
import json
import math
import re

import nbformat
import pytest
import torch
from test_experiments import EXPERIMENT_CASES

import torchnlp
from course import checkpoints, exercises, i18n
from course.quiz import KEYS, Key, NumberKey, Quiz, quiz

solutions = exercises.load_solutions()


def stub(*args, **kwargs):
    raise NotImplementedError("write this function")


# --- typical wrong answers -------------------------------------------------------------------------------

def left_padded(texts, vocab):
    right = solutions.encode_and_pad(texts, vocab)
    lengths = (right != 0).sum(1)
    return torch.stack([row.roll(int(row.numel() - n)) for row, n in zip(right, lengths)])


def ends_not_starts(lengths):
    return torch.tensor(lengths).cumsum(0)


def without_tanh(query, keys, W_q, W_k, v):
    return ((query @ W_q).unsqueeze(1) + keys @ W_k) @ v


def naive_masked_softmax(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)


def unmasked_softmax(scores, mask):
    return torch.softmax(scores, -1)


def not_reversed(inputs):
    source, target = solutions.reversal_batch([x[::-1] for x in inputs])
    return solutions.reversal_batch(inputs)[0], target


def sin_cos_swapped(max_len, d_model):
    pe = solutions.sinusoidal_encoding(max_len, d_model)
    return torch.stack([pe[:, 1::2], pe[:, 0::2]], -1).reshape(max_len, d_model)


def unscaled_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)
    weights = torch.softmax(scores, -1) if mask is None else torchnlp.masked_softmax(scores, mask)
    return weights @ v, weights


def head_scaled_by_d_model(x, W_q, W_k, W_v, key_padding_mask):
    scores = (x @ W_q) @ (x @ W_k).transpose(-2, -1) / math.sqrt(x.shape[-1])
    weights = torchnlp.masked_softmax(scores, key_padding_mask[:, None, :])
    return weights @ (x @ W_v), weights


def first_sep_in_segment_b(ids_a, ids_b=None):
    input_ids, types = solutions.with_special_tokens(ids_a, ids_b)
    if ids_b is not None:
        types[len(ids_a) + 1] = 1
    return input_ids, types


def cut_without_sep(ids, max_length):
    return ids[:max_length]


def padded_with_zero(features, pad_token_id):
    return solutions.collate_with_mask(features, 0)


def without_mask(features, pad_token_id):
    batch = solutions.collate_with_mask(features, pad_token_id)
    del batch["attention_mask"]
    return batch


def padding_over_real(batches, lengths):
    computed = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    real = sum(lengths[i] for b in batches for i in b)
    return (computed - real) / real


def unsorted_batches(lengths, batch_size):
    return [list(range(i, min(i + batch_size, len(lengths)))) for i in range(0, len(lengths), batch_size)]


def full_batches_only(lengths, batch_size):
    return [b for b in solutions.bucket_batches(lengths, batch_size) if len(b) == batch_size]


def step_returning_tensor(model, batch, optimizer):
    output = model(**batch)
    output.loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return output.loss


def step_without_zero_grad(model, batch, optimizer):
    output = model(**batch)
    output.loss.backward()
    optimizer.step()
    return output.loss.item()


def step_with_clipping(model, batch, optimizer):  # also right: clipping at 1 changes nothing on these gradients
    output = model(**batch)
    output.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()
    return output.loss.item()


def no_warmup(step, total_steps, peak_lr, warmup_steps):
    return peak_lr * (total_steps - step) / total_steps


def correct_count(predictions, labels):
    return int((predictions == labels).sum())


def transposed_confusion(predictions, labels, num_classes):
    return solutions.my_confusion_matrix(predictions, labels, num_classes).T


def accuracy_not_f1(confusion):
    return (confusion.diag().sum() / confusion.sum()).item()


def f1_with_nan(confusion):
    confusion = confusion.double()
    precision = confusion.diag() / confusion.sum(0)
    recall = confusion.diag() / confusion.sum(1)
    return (2 * precision * recall / (precision + recall)).mean().item()


# Two splits with known <unk> shares: of the 200 test tokens 10 are words never seen in training (5% unknown with
# min_freq=1) and 5 are words seen once in training (7.5% with min_freq=2).
COMMON = "oil prices rise as stocks fall and the team wins the cup final".split()
UNK_TRAIN = [(0, " ".join(COMMON))] * 2 + [(1, "rare0 rare1 rare2 rare3 rare4 solo0 solo1 solo2")]
UNK_TEST = ([(0, " ".join(COMMON[i % len(COMMON)] for i in range(37)) + f" rare{n} new{2 * n} new{2 * n + 1}")
             for n in range(5)])
UNK = (UNK_TRAIN, UNK_TEST)
LABELS = torch.arange(40) % 4  # a balanced split of the four classes
CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
SHARES = (0.477, 0.55)
# Token counts of 1,000 texts: 13% longer than 64, 3% longer than 96, 0.5% longer than 128 (answer (b)).
TOKEN_LENGTHS = torch.tensor([50] * 870 + [80] * 100 + [110] * 25 + [140] * 5)

# check, the arguments after the answer, the solution, typical wrong answers with their message
CASES = {
    "encode_and_pad": (exercises.check_encode_and_pad, (), solutions.encode_and_pad,
                       [(left_padded, "padded at the start")]),
    "offsets": (exercises.check_offsets, (), solutions.offsets_from_lengths,
                [(ends_not_starts, "where the texts end")]),
    "unk_share_prediction": (exercises.check_unk_share_prediction, UNK, solutions.UNK_SHARE_PREDICTION,
                             [(0.05, "no more than the 5.00% of min_freq=1"), (0.03, "can only make more tokens"),
                              (0.055, "too low"), (0.12, "too high"), (12, "you predicted 12.00%: too high"),
                              (150, "between 0 and 1"), ("up", "as a number")]),
    "additive_scores": (exercises.check_additive_scores, (), solutions.additive_scores,
                        [(without_tanh, "without the tanh")]),
    "masked_softmax": (exercises.check_masked_softmax, (), solutions.my_masked_softmax,
                       [(naive_masked_softmax, "must come out as zeros, not NaN"),
                        (unmasked_softmax, "masked positions are not zero")]),
    "reversal_batch": (exercises.check_reversal_batch, (), solutions.reversal_batch,
                       [(not_reversed, "digits in input order")]),
    "positional_encoding": (exercises.check_positional_encoding, (), solutions.sinusoidal_encoding,
                            [(sin_cos_swapped, "sine and cosine are swapped")]),
    "scaled_dot_product_attention": (exercises.check_scaled_dot_product_attention, (),
                                     solutions.scaled_dot_product_attention,
                                     [(unscaled_attention, "without the scale")]),
    "scaling_answer": (exercises.check_scaling_answer, (), solutions.SCALING_ANSWER,
                       [("a", "is not what happens"), ("e", "answer with one of")]),
    "attention_head": (exercises.check_attention_head, (), solutions.attention_head,
                       [(head_scaled_by_d_model, "sqrt(d_head)")]),
    "special_tokens": (exercises.check_special_tokens, (), solutions.with_special_tokens,
                       [(first_sep_in_segment_b, "up to and including the first [SEP]")]),
    "truncate": (exercises.check_truncate, (), solutions.truncate_ids,
                 [(cut_without_sep, "the last id must be [SEP]")]),
    "truncation_prediction": (exercises.check_truncation_prediction, (TOKEN_LENGTHS,),
                              solutions.TRUNCATION_PREDICTION,
                              [("a", "between the 0.50% cut at 128 and the 13.00% cut at 64"),
                               ("a", "nine texts in ten have at most 80 tokens, so the answer is (b)")]),
    "collate": (exercises.check_collate, (), solutions.collate_with_mask,
                [(padded_with_zero, "pad_token_id was 5"), (without_mask, "has no 'attention_mask'")]),
    "padding_share": (exercises.check_padding_share, (), solutions.padding_share,
                      [(padding_over_real, "divided the padding by the real tokens")]),
    "batch_size_prediction": (exercises.check_batch_size_prediction, SHARES, solutions.BATCH_SIZE_PREDICTION,
                              [("down", "you predicted 'down', but it went up")]),
    "bucket_batches": (exercises.check_bucket_batches, (), solutions.bucket_batches,
                       [(unsorted_batches, "sort the indices by length"), (full_batches_only, "are in no batch")]),
    "training_step": (exercises.check_training_step, (), solutions.training_step,
                      [(step_returning_tensor, "not a float"), (step_without_zero_grad, "gradients of both steps")]),
    "learning_rate": (exercises.check_learning_rate, (), solutions.learning_rate_at,
                      [(no_warmup, "warmup starts from 0")]),
    "steps_prediction": (exercises.check_steps_prediction, (879, 4680, 16, 3), solutions.STEPS_PREDICTION,
                         [(1000, "293 batches an epoch")]),
    "accuracy": (exercises.check_accuracy, (), solutions.my_accuracy,
                 [(correct_count, "number of correct predictions")]),
    "confusion_matrix": (exercises.check_confusion_matrix, (), solutions.my_confusion_matrix,
                         [(transposed_confusion, "rows and columns are swapped")]),
    "macro_f1": (exercises.check_macro_f1, (), solutions.my_macro_f1,
                 [(accuracy_not_f1, "is the accuracy"), (f1_with_nan, "got NaN")]),
    "constant_baseline_prediction": (exercises.check_constant_baseline_prediction, (LABELS, CLASSES),
                                     solutions.CONSTANT_BASELINE_PREDICTION,
                                     [(0.25, "is its accuracy, not its macro F1"), (25, "is its accuracy"),
                                      (0.4, "is the F1 of Sports alone"), (0.0, "too low"), (0.7, "too high"),
                                      (-0.1, "between 0 and 1")]),
}


CASES.update(EXPERIMENT_CASES)  # the experiments of course/experiments.py, with tiny stand-in models


def test_every_check_has_a_case():
    names = {name for name in dir(exercises) if name.startswith("check_")}
    assert names == {check.__name__ for check, *_ in CASES.values()}
    assert len(names) >= 32


@pytest.mark.parametrize("name", CASES)
def test_check_accepts_the_solution(name, capsys):
    check, extra, solution, _ = CASES[name]
    result = check(solution, *extra)
    assert result.status == "correct", result.message
    assert capsys.readouterr().out.strip() == result.message
    assert "correct!" in result.message


@pytest.mark.parametrize("name", CASES)
def test_stub_is_not_attempted(name):
    check, extra, solution, _ = CASES[name]
    unanswered = stub if callable(solution) else None
    result = check(unanswered, *extra)
    assert result.status == "not attempted", result.message
    assert "not attempted yet" in result.message


@pytest.mark.parametrize("name,index", [(name, i) for name, case in CASES.items() for i in range(len(case[3]))])
def test_wrong_answer_is_named(name, index):
    check, extra, _, wrong = CASES[name]
    answer, message = wrong[index]
    result = check(answer, *extra)
    assert result.status == "wrong"
    assert message in result.message, result.message
    assert "not yet:" in result.message


def test_clipping_does_not_count_as_a_mistake():
    assert exercises.check_training_step(step_with_clipping).correct


def test_a_crash_in_the_learners_code_is_reported_not_raised():
    result = exercises.check_masked_softmax(lambda scores, mask: scores @ torch.ones(3))
    assert result.status == "wrong" and "your function raised RuntimeError" in result.message
    result = exercises.check_offsets(solutions.offsets_from_lengths([1, 2]))  # called instead of passed
    assert result.status == "wrong" and "pass your function itself" in result.message


def test_shape_and_type_messages():
    result = exercises.check_positional_encoding(lambda n, d: solutions.sinusoidal_encoding(n, d).T)
    assert "wrong shape" in result.message and "expected (7, 6), got (6, 7)" in result.message
    result = exercises.check_offsets(lambda lengths: solutions.offsets_from_lengths(lengths).tolist())
    assert "is a list, not a tensor" in result.message
    off_by = lambda scores, mask: solutions.my_masked_softmax(scores, mask) * 1.1  # noqa: E731
    assert "rows do not sum to 1" in exercises.check_masked_softmax(off_by).message


def test_the_prediction_checks_measure_the_real_splits(ag_news):
    """Exercises 0.3 and 6.4 measure their figures on the data they are given (either variant), not on numbers
    written into the checks: the <unk> share printed in notebook 00 (cell c14), and the labels' class balance."""
    train_dataset, test_dataset, classes, vocab = ag_news
    test_tokens = [token for _, text in test_dataset for token in torchnlp.tokenize(text)]
    share = sum(vocab[token] == torchnlp.UNK_IDX for token in test_tokens) / len(test_tokens)
    result = exercises.check_unk_share_prediction(share, train_dataset, test_dataset)  # no rise at all: too low
    assert result.status == "wrong" and f"no more than the {share:.2%} of min_freq=1" in result.message
    measured = float(re.search(r"to ([\d.]+)%: the dropped", result.message).group(1)) / 100
    assert measured > share and exercises.check_unk_share_prediction(measured, train_dataset, test_dataset).correct
    labels = torch.tensor([label for label, _ in test_dataset])
    assert exercises.check_constant_baseline_prediction(0.1, labels, classes).correct  # balanced: F1 0.4 / 4
    assert "is its accuracy" in exercises.check_constant_baseline_prediction(0.25, labels, classes).message


def test_checks_leave_the_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    exercises.check_training_step(solutions.training_step)
    exercises.check_scaled_dot_product_attention(solutions.scaled_dot_product_attention)
    assert torch.equal(torch.rand(3), expected)


# --- quiz --------------------------------------------------------------------------------------------------

CHOICE_KEYS = [(number, key) for number, key in enumerate(KEYS, start=1) if isinstance(key, Key)]
NUMBER_KEYS = [(number, key) for number, key in enumerate(KEYS, start=1) if isinstance(key, NumberKey)]


def test_quiz(capsys):
    quiz = Quiz()
    assert len(quiz) >= 12 and len(CHOICE_KEYS) >= 12 and len(NUMBER_KEYS) >= 3
    assert quiz.answer(1, None).status == "not attempted"
    assert capsys.readouterr().out == "Question 1: not answered yet.\n"
    for number, key in CHOICE_KEYS:
        assert key.options == "abcd" and key.answer in key.options
        assert quiz.answer(number, f" ({key.answer.upper()}) ").correct
    assert "answer with one of" in quiz.answer(2, "z").message
    assert f"({quiz.keys[3].answer})" in quiz.reveal(4).message
    with pytest.raises(ValueError):
        quiz.answer(len(quiz) + 1, "a")


def test_quiz_key_is_balanced_over_the_options():
    counts = collections.Counter(key.answer for _, key in CHOICE_KEYS)
    assert set(counts) == set("abcd"), counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts


@pytest.mark.parametrize("number, option", [(n, o) for n, key in CHOICE_KEYS for o in key.options if o != key.answer])
def test_every_wrong_option_has_its_own_explanation_in_both_languages(number, option, monkeypatch):
    key = KEYS[number - 1]
    assert set(key.wrong) == set(key.options) - {key.answer}
    why = key.wrong[option]
    assert why not in {key.explanation, *(key.wrong[o] for o in key.wrong if o != option)}  # its own
    german = i18n.strings("de")[why]
    assert german != why
    monkeypatch.setenv("COURSE_LANG", "en")
    result = Quiz().answer(number, option)
    assert result.status == "wrong" and why in result.message and f"quiz.reveal({number})" in result.message
    monkeypatch.setenv("COURSE_LANG", "de")
    result = Quiz().answer(number, option)
    assert result.status == "wrong" and german in result.message and result.message.startswith(f"Frage {number}:")


def fixed(figure):
    return lambda: figure


SHARE = NumberKey(fixed(0.4), 0.08, "right", too_low="more", too_high="less", share=True)
COUNT = NumberKey(fixed(1540), 0, "right", too_low="more", too_high="less")


@pytest.mark.parametrize("answer, status, says", [
    (0.4, "correct", "is right"), (0.47, "correct", "is right"), (0.33, "correct", "is right"),
    (40, "correct", "is right"),  # 40 meant as 40%
    (0.49, "wrong", "too high: less"), (0.3, "wrong", "too low: more"), (0.0, "wrong", "too low"),
    (None, "not attempted", "not answered yet"),
    (float("nan"), "wrong", "finite number"), (float("inf"), "wrong", "finite number"),
    (-float("inf"), "wrong", "finite number"), ("0.4", "wrong", "answer with a number"),
    ("", "wrong", "answer with a number"), ("a", "wrong", "answer with a number"), (True, "wrong", "with a number"),
    ([0.4], "wrong", "answer with a number"), (torch.tensor(0.4), "wrong", "answer with a number"),
])
def test_a_number_question_judges_within_its_tolerance(answer, status, says):
    result = Quiz([SHARE, COUNT]).answer(1, answer)
    assert result.status == status and says in result.message, result.message


def test_a_count_question_with_no_tolerance_takes_only_the_count():
    quiz = Quiz([SHARE, COUNT])
    assert quiz.answer(2, 1540).correct and quiz.answer(2, 1540.0).correct
    assert "too low" in quiz.answer(2, 1536).message and "too high" in quiz.answer(2, 1544).message
    assert "1,540" in quiz.reveal(2).message and "40.0%" in quiz.reveal(1).message
    assert quiz.score([0.41, 1539]).message == "2 of 2 questions answered, 1 right."


@pytest.mark.parametrize("number", [n for n, _ in NUMBER_KEYS])
@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf"), "0.5", "nan", "b", [], True])
def test_the_quiz_number_questions_never_call_a_bad_answer_correct(number, bad, capsys):
    result = quiz.answer(number, bad)  # answered before the figure is computed: no data is read
    assert result.status == ("not attempted" if bad is None else "wrong") and result.message
    assert capsys.readouterr().out.strip() == result.message


def test_the_quiz_figures_are_the_notebooks_measurements(ag_news, monkeypatch):
    """Each figure comes from where the notebooks get it (not from numbers written in course/quiz.py): notebook 01's
    bench results, notebook 04's padding table (its stored output, same data), notebook 05's head."""
    from course import quiz as quiz_module

    bench = json.loads((torchnlp.ROOT / "bench" / "bottleneck-results.json").read_text())
    first = next(r for r in bench["runs"] if not r["attention"])
    assert quiz_module.bottleneck_exact_share() == first["exact_overall"]
    outputs = "".join("".join(o.get("text", "")) for c in nbformat.read(
        torchnlp.ROOT / "notebooks" / "04_padding_collation.ipynb", as_version=4).cells
        if c.cell_type == "code" for o in c.get("outputs", []))
    stored = re.search(r"^random .* ([\d.]+)% of them padding$", outputs, re.MULTILINE)
    assert stored and f"{quiz_module.random_batch_padding_share():.1%}" == f"{stored.group(1)}%"
    model = torchnlp.sequence_classifier(torchnlp.DEFAULT_HEAD)
    assert quiz_module.head_weights() == sum(p.numel() for p in model.classifier.parameters())
    monkeypatch.setenv("COURSE_LANG", "en")
    for number, key in NUMBER_KEYS:
        figure = key.figure()
        assert math.isfinite(figure)
        assert quiz.answer(number, figure).correct
        assert "too high" in quiz.answer(number, figure + key.tolerance + 0.01).message
        assert "too low" in quiz.answer(number, figure - key.tolerance - 0.01).message
        assert quiz.answer(number, float("nan")).status == "wrong"
    assert quiz.score([key.answer if isinstance(key, Key) else key.figure() for key in KEYS]).correct


def quiz_questions(path, word):
    """``{number: option letters}`` of the questions a quiz notebook shows ("**Question N.**" or "**Question N
    (predict a figure).**", options "* **(a)** ..."; a number question has none)."""
    notebook = nbformat.read(path, as_version=4)
    questions = {}
    for cell in notebook.cells:
        heading = cell.cell_type == "markdown" and re.match(rf"\*\*{word} (\d+)(?: \([^)]*\))?\.\*\*", cell.source)
        if heading:
            number = int(heading.group(1))
            assert number not in questions, f"{path.name}: question {number} is shown twice"
            questions[number] = "".join(re.findall(r"^\* \*\*\(([a-z])\)\*\*", cell.source, re.MULTILINE))
    return questions


@pytest.mark.parametrize("edition, word", [("", "Question"), ("de", "Frage")])
def test_quiz_notebook_shows_one_question_per_key_with_its_options(edition, word):
    """The questions are content (notebook 07, translated with it); the key must fit them, in both editions."""
    path = torchnlp.ROOT / "notebooks" / edition / "07_quiz.ipynb"
    assert quiz_questions(path, word) == {number: key.options for number, key in enumerate(KEYS, start=1)}
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    for number in range(1, len(quiz) + 1):
        assert f"quiz.answer({number}, " in code


# --- the exercises in the notebooks ------------------------------------------------------------------------

def test_every_notebook_has_goals_and_checked_exercises():
    total = 0
    for number in range(7):  # chapters 02 and 06 come in two parts, 02a and 02b, 06a and 06b
        checks = []
        for path in sorted((torchnlp.ROOT / "notebooks").glob(f"0{number}*_*.ipynb")):
            sources = [c.source for c in nbformat.read(path, as_version=4).cells]
            assert any("After this notebook you can" in s for s in sources[:3]), path.name
            checks_here = [s for s in sources if "exercises.check_" in s]
            assert checks_here, f"{path.name} has no checked exercise"
            checks += checks_here
        assert 2 <= len(checks) <= 7, f"chapter 0{number}"
        total += len(checks)
    assert total >= 32


def test_the_guides_give_the_number_of_exercises_the_notebooks_hold():
    headings = set()
    for path in (torchnlp.ROOT / "notebooks").glob("0[0-6]*_*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            headings |= set(re.findall(r"^### Exercise (\d\.\d)", cell.source, re.MULTILINE))
    guides = {"README.md": r"hold (\d+) exercises", "README.de.md": r"enthalten (\d+) Übungen",
              "TEACHING.md": r"\((\d+) in all", "TEACHING.de.md": r"\(insgesamt (\d+)"}
    for guide, pattern in guides.items():
        stated = re.search(pattern, (torchnlp.ROOT / guide).read_text(encoding="utf-8"))
        assert stated and int(stated[1]) == len(headings), f"{guide} says {stated and stated[1]}, not {len(headings)}"


# --- the assignment ----------------------------------------------------------------------------------------

def load_assignment():
    spec = importlib.util.spec_from_file_location("assignment", torchnlp.ROOT / "solutions" / "assignment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_assignment_solution_on_a_tiny_slice(ag_news, tokenizer, tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    assignment = load_assignment()
    train_dataset, test_dataset = ag_news[0], ag_news[1]
    titles = assignment.build_title_dataset(train_dataset, "train")
    assert len(titles) == len(train_dataset)
    assert all(text.startswith(title) and len(title) < len(text)
               for (_, title), (_, text) in zip(titles[:200], train_dataset[:200]))
    assert [label for label, _ in titles] == [label for label, _ in train_dataset]
    with pytest.raises(ValueError, match="pass the test split"):
        assignment.build_title_dataset(train_dataset, "test")

    train_features = assignment.tokenize_titles(titles, tokenizer)
    assert max(len(f["input_ids"]) for f in train_features) <= assignment.MAX_TITLE_LEN
    test_features = assignment.tokenize_titles(assignment.build_title_dataset(test_dataset, "test")[:64], tokenizer)
    torchnlp.set_seed(0)
    tiny = BertForSequenceClassification(BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, num_labels=4))
    config = torchnlp.TrainConfig(epochs=1, batch_size=16, lr=1e-3, save_every=100, report_freq=1)
    model = assignment.train_on_titles(train_features, tokenizer, config, per_class=12, model=tiny,
                                       checkpoint_dir=tmp_path / "ckpt", device="cpu", progress=False)
    state = checkpoints.load_state(torchnlp.latest_checkpoint(tmp_path / "ckpt"))
    assert state["step"] == 3  # 48 titles, batches of 16
    accuracy = assignment.evaluate_titles(model, test_features, tokenizer.pad_token_id)
    assert isinstance(accuracy, float) and 0 <= accuracy <= 1
    assert assignment.course_pad_token_id() == tokenizer.pad_token_id
    assert assignment.evaluate_titles(model, test_features) == accuracy  # the notebook's call: the tokenizer's pad id


def test_assignment_pads_with_the_tokenizers_pad_id_not_0(monkeypatch):
    assignment = load_assignment()
    used = []
    monkeypatch.setattr(assignment, "course_pad_token_id", lambda: 7)
    monkeypatch.setattr(assignment.torchnlp, "PaddingCollator", lambda pad_token_id: used.append(pad_token_id))
    monkeypatch.setattr(assignment.torchnlp, "predict", lambda model, features, collate, batch_size: torch.eye(2))
    assert assignment.evaluate_titles(None, [{"labels": 0}, {"labels": 0}]) == 0.5
    assert used == [7]


def test_assignment_notebook_runs_its_stubs_without_error(capsys):
    assert exercises.attempt(stub, [1]) is None
    assert capsys.readouterr().out.startswith("not attempted yet: stub still raises NotImplementedError")
    assert exercises.attempt(solutions.my_accuracy, None, torch.tensor([1])) is None
    assert capsys.readouterr().out.startswith("not run yet: my_accuracy needs the result of an earlier task")
