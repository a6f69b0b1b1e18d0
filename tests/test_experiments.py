"""The experiments' checks (course/experiments.py): each refuses to measure before a prediction, accepts the
reference change (solutions/solutions.py) with the prediction the measurement supports, and rejects typical
wrong changes and wrong predictions with a message that names them. Models and measurements are tiny stand-ins."""
import dataclasses

import pytest
import torch

import torchnlp
from course import exercises, experiments

solutions = exercises.load_solutions()


def stub(*args, **kwargs):
    raise NotImplementedError("write this function")


# --- stand-ins ------------------------------------------------------------------------------------------------

class _Layer(torch.nn.Module):
    """An encoder layer with notebook 02's interface: layer(x, mask) -> (x, weights)."""

    def __init__(self, d_model):
        super().__init__()
        self.inner = torch.nn.TransformerEncoderLayer(d_model, 2, 2 * d_model, dropout=0.5, batch_first=True)

    def forward(self, x, mask):
        return self.inner(x, src_key_padding_mask=~mask), None


class TinyTransformer(torch.nn.Module):
    """The parts of notebook 02's TransformerClassifier that the check reads: embed, pe, layers."""

    def __init__(self, vocab_size=30, d_model=8):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(vocab_size, d_model, padding_idx=torchnlp.PAD_IDX)
        self.register_buffer("pe", torchnlp.positional_encoding(32, d_model))
        self.layers = torch.nn.ModuleList(_Layer(d_model) for _ in range(2))


def tiny_bert(tokenizer=None):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=30522, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=64, num_labels=4, initializer_range=0.5))
    model.set_attn_implementation("eager")
    return model.eval()


def tiny_features(count=40):
    g = torch.Generator().manual_seed(1)
    features = []
    for i in range(count):
        length = int(torch.randint(3, 30, (1,), generator=g))
        features.append({"input_ids": [101, *torch.randint(1000, 30000, (length - 2,), generator=g).tolist(), 102],
                         "labels": i % 4})
    return features


# --- every experiment: no measurement before a prediction ---------------------------------------------------------

def test_no_prediction_is_not_attempted_and_measures_nothing():
    def measure(*args):
        raise AssertionError("measured before a prediction was written")

    config = torchnlp.TrainConfig()
    results = [
        exercises.check_longer_budget(None, 1200, measure, 600, 0.0, 1.0),
        exercises.check_permutation(solutions.token_vectors, None, TinyTransformer(), torch.tensor([[3, 4, 5]])),
        exercises.check_mlm_masking(solutions.mask_for_mlm, None),
        exercises.check_freeze_last_layer(solutions.freeze_all_but_last_layer, None, measure, 0.85, 0.78),
        exercises.check_warmup_off(solutions.without_warmup, None, config, measure),
        exercises.check_from_scratch_rate(solutions.from_scratch_rate, None, config, measure, 0.85),
        exercises.check_mask_off(solutions.predict_without_mask, None, None, [], None),
        exercises.check_previous_token_head(solutions.previous_token_weight, None, None, None, []),
    ]
    for result in results:
        assert result.status == "not attempted" and "write your prediction first" in result.message


def test_a_stub_change_is_not_attempted():
    config = torchnlp.TrainConfig()
    assert exercises.check_mlm_masking(stub, 0.12).status == "not attempted"
    assert exercises.check_warmup_off(stub, "up", config, lambda c: 1.0).status == "not attempted"
    assert exercises.check_freeze_last_layer(stub, "b", lambda fn: 0.8, 0.85, 0.78).status == "not attempted"


# --- 1.4 the model without attention, trained longer --------------------------------------------------------------

@pytest.mark.parametrize("after,key", [(0.01, "a"), (0.3, "b"), (0.99, "c"), (0.0, "a")])
def test_longer_budget_key_follows_the_measurement(after, key):
    result = exercises.check_longer_budget(key, 1200, lambda steps: after, 600, 0.002, 1.0)
    assert result.correct, result.message
    assert "could hold 30 digits" in result.message and "learnable within the same budget" in result.message


def test_longer_budget_rejects_a_wrong_prediction_and_a_budget_out_of_range():
    result = exercises.check_longer_budget("a", 1200, lambda steps: 0.4, 600, 0.002, 1.0)
    assert result.status == "wrong" and "the measured answer is (b)" in result.message
    assert "at most four times" in exercises.check_longer_budget("b", 600, lambda s: 0.4, 600, 0.0, 1.0).message
    assert "finite" in exercises.check_longer_budget("b", 1200, lambda s: float("nan"), 600, 0.0, 1.0).message


# --- 2.5 no positional encoding ------------------------------------------------------------------------------------

def test_permutation_accepts_the_solution_and_explains():
    model, ids = TinyTransformer().train(), torch.tensor([[3, 4, 5, 6, 7, 8, 9]])
    result = exercises.check_permutation(solutions.token_vectors, solutions.PERMUTATION_PREDICTION, model, ids)
    assert result.correct, result.message
    assert "bag of words" in result.message and model.training  # the check restores the model's mode


def test_permutation_rejects_positions_that_stay_and_a_wrong_prediction():
    model, ids = TinyTransformer(), torch.tensor([[3, 4, 5, 6, 7, 8, 9]])

    def always_positions(model, ids, use_positions):
        return solutions.token_vectors(model, ids, True)

    result = exercises.check_permutation(always_positions, "b", model, ids)
    assert result.status == "wrong" and "still hold the positional encodings" in result.message
    result = exercises.check_permutation(solutions.token_vectors, "a", model, ids)
    assert result.status == "wrong" and "the measured answer is (b)" in result.message


# --- 3.4 BERT's masking ------------------------------------------------------------------------------------------

def test_mlm_masking_accepts_the_solution():
    result = exercises.check_mlm_masking(solutions.mask_for_mlm, solutions.MLM_PREDICTION)
    assert result.correct, result.message
    assert "15% chosen x 80%" in result.message


def only_mask_token(input_ids, special_tokens_mask, mask_token_id, vocab_size, generator):
    chosen = (torch.rand(input_ids.shape, generator=generator) < 0.15) & ~special_tokens_mask.bool()
    return input_ids.masked_fill(chosen, mask_token_id), input_ids.masked_fill(~chosen, -100)


def masks_special_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, generator):
    return solutions.mask_for_mlm(input_ids, torch.zeros_like(special_tokens_mask), mask_token_id, vocab_size,
                                  generator)


def labels_everywhere(input_ids, special_tokens_mask, mask_token_id, vocab_size, generator):
    inputs, _ = solutions.mask_for_mlm(input_ids, special_tokens_mask, mask_token_id, vocab_size, generator)
    return inputs, input_ids.masked_fill(special_tokens_mask.bool(), -100)


@pytest.mark.parametrize("wrong,message", [
    (only_mask_token, "every chosen piece became [MASK]"),
    (masks_special_tokens, "never masked"),
    (labels_everywhere, "BERT chooses 15%"),
])
def test_mlm_masking_names_the_mistake(wrong, message):
    result = exercises.check_mlm_masking(wrong, 0.12)
    assert result.status == "wrong" and message in result.message, result.message


def test_mlm_masking_judges_the_prediction():
    assert "you predicted 15.0%" in exercises.check_mlm_masking(solutions.mask_for_mlm, 0.15).message
    assert exercises.check_mlm_masking(solutions.mask_for_mlm, 12).correct  # a percentage


# --- 5.4-5.6 freezing, warmup, a from-scratch rate -----------------------------------------------------------------

def test_freeze_last_layer():
    result = exercises.check_freeze_last_layer(solutions.freeze_all_but_last_layer, "b", lambda fn: 0.82, 0.85, 0.78)
    assert result.correct, result.message

    def head_only(model):
        model.bert.requires_grad_(False)

    def everything_but_embeddings(model):
        model.bert.embeddings.requires_grad_(False)

    assert "last layer is (partly) frozen" in exercises.check_freeze_last_layer(
        head_only, "b", lambda fn: 0.8, 0.85, 0.78).message
    assert "encoder layer 0 is still trainable" in exercises.check_freeze_last_layer(
        everything_but_embeddings, "b", lambda fn: 0.8, 0.85, 0.78).message
    result = exercises.check_freeze_last_layer(solutions.freeze_all_but_last_layer, "a", lambda fn: 0.84, 0.85, 0.78)
    assert result.status == "wrong" and "the measured answer is (c)" in result.message


def test_warmup_off():
    config = torchnlp.TrainConfig()

    def measure(run_config):
        return 0.004 if run_config.warmup_ratio == 0 else 0.001

    result = exercises.check_warmup_off(solutions.without_warmup, solutions.WARMUP_PREDICTION, config, measure)
    assert result.correct and "4.0 times as far" in result.message, result.message
    assert "went up" in exercises.check_warmup_off(solutions.without_warmup, "down", config, measure).message
    two_changes = lambda c: dataclasses.replace(c, warmup_ratio=0.0, lr=1e-4)  # noqa: E731
    assert "change one thing only: you also changed lr" in exercises.check_warmup_off(
        two_changes, "up", config, measure).message


def test_from_scratch_rate():
    config = torchnlp.TrainConfig()
    result = exercises.check_from_scratch_rate(solutions.from_scratch_rate, "d", config, lambda c: 0.25, 0.85)
    assert result.correct and "20 to 50 times smaller" in result.message, result.message
    result = exercises.check_from_scratch_rate(solutions.from_scratch_rate, "a", config, lambda c: 0.6, 0.85)
    assert result.status == "wrong" and "the measured answer is (c)" in result.message
    assert "set lr to 1e-3" in exercises.check_from_scratch_rate(
        lambda c: dataclasses.replace(c, lr=1e-2), "d", config, lambda c: 0.25, 0.85).message


# --- 6.5 and 6.6 -----------------------------------------------------------------------------------------------

def test_mask_off_on_a_tiny_model():
    model, features = tiny_bert(), tiny_features()
    collate = torchnlp.PaddingCollator(0)
    keys = [key for key in experiments.MASK_OFF_OPTIONS
            if exercises.check_mask_off(solutions.predict_without_mask, key, model, features, collate).correct]
    assert len(keys) == 1
    with_mask = lambda model, batch: model(**batch).logits.argmax(-1)  # noqa: E731
    logits = lambda model, batch: model(input_ids=batch["input_ids"]).logits  # noqa: E731
    assert "with the mask" in exercises.check_mask_off(with_mask, "c", model, features, collate).message
    assert "return the predicted class ids" in exercises.check_mask_off(logits, "c", model, features, collate).message


def test_previous_token_head_on_a_tiny_model(tokenizer):
    model = tiny_bert()
    headlines = ["Stocks fall as oil prices surge", "Federer beats Nadal in five sets", "New chip doubles battery life"]
    keys = [key for key in experiments.PREVIOUS_TOKEN_OPTIONS
            if exercises.check_previous_token_head(solutions.previous_token_weight, key, model, tokenizer,
                                                   headlines).correct]
    assert len(keys) == 1

    def next_token(attentions, attention_mask):
        return torch.stack([torch.diagonal(a, offset=1, dim1=-2, dim2=-1).mean((0, 2)) for a in attentions])

    def counting_padding(attentions, attention_mask):
        return torch.stack([torch.diagonal(a, offset=-1, dim1=-2, dim2=-1).mean((0, 2)) for a in attentions])

    assert "next token" in exercises.check_previous_token_head(next_token, "a", model, tokenizer, headlines).message
    result = exercises.check_previous_token_head(counting_padding, "a", model, tokenizer, headlines)
    assert result.status == "wrong" and "must not count" in result.message


# --- the reference predictions against the full-mode measurements that solutions/solutions.py names -------------

def test_reference_predictions_are_the_answers_the_recorded_measurements_give():
    """Fed the measurements recorded beside the predictions (offline AG News variant; notebook 01's reversal task)
    in place of a run, each check must find the reference prediction right."""
    whole, head = 0.853, 0.777  # notebook 05's stored comparison: 60 steps, 400 validation texts
    results = {
        "1.4": exercises.check_longer_budget(solutions.LONGER_BUDGET_PREDICTION, 1200, lambda steps: 0.442, 600,
                                             0.221, 0.995),
        "5.4": exercises.check_freeze_last_layer(solutions.freeze_all_but_last_layer, solutions.FREEZE_PREDICTION,
                                                 lambda fn: 0.740, whole, head),
        "5.6": exercises.check_from_scratch_rate(solutions.from_scratch_rate, solutions.FROM_SCRATCH_RATE_PREDICTION,
                                                 torchnlp.TrainConfig(epochs=1, batch_size=16, lr=5e-5),
                                                 lambda config: 0.812, whole),
    }
    wrong = {name: result.message for name, result in results.items() if not result.correct}
    assert not wrong, wrong
    # 6.5: 102 of 1,600 test predictions flipped in the check's batches (notebook 06's own batches of 8: 62)
    assert experiments.mask_off_option(102, 1600) == experiments.mask_off_option(62, 1600) == \
        solutions.MASK_OFF_PREDICTION


# --- the experiments in the generic tables (tests/test_exercises.py: solution, stub, wrong answer;
#     tests/test_check_inputs.py: every bad input) -------------------------------------------------------------

def _tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(torchnlp.ensure_bert()))


def _headline_ids():
    return torch.tensor([[3, 4, 5, 6, 7, 8, 9]])


_BERT, _FEATURES, _COLLATE = tiny_bert(), tiny_features(), torchnlp.PaddingCollator(0)
_HEADLINES = ["Stocks fall as oil prices surge", "Federer beats Nadal in five sets"]
_MODEL_KEY = next(key for key in experiments.MASK_OFF_OPTIONS if experiments.check_mask_off(
    solutions.predict_without_mask, key, _BERT, _FEATURES, _COLLATE).correct)
_TOKENIZER = _tokenizer()
_HEAD_KEY = next(key for key in experiments.PREVIOUS_TOKEN_OPTIONS if experiments.check_previous_token_head(
    solutions.previous_token_weight, key, _BERT, _TOKENIZER, _HEADLINES).correct)


def _drift(config):
    return 0.004 if config.warmup_ratio == 0 else 0.001


# name: (check, the arguments after the answer, the answer, typical wrong answers with their message)
EXPERIMENT_CASES = {
    "longer_budget": (exercises.check_longer_budget, (1200, lambda steps: 0.3, 600, 0.002, 1.0), "b",
                      [("a", "the measured answer is (b)")]),
    "permutation": (exercises.check_permutation, ("b", TinyTransformer(), _headline_ids()), solutions.token_vectors,
                    [(lambda model, ids, use: solutions.token_vectors(model, ids, True), "positional encodings")]),
    "mlm_masking": (exercises.check_mlm_masking, (0.12,), solutions.mask_for_mlm,
                    [(only_mask_token, "every chosen piece became [MASK]")]),
    "freeze_last_layer": (exercises.check_freeze_last_layer, ("b", lambda fn: 0.82, 0.85, 0.78),
                          solutions.freeze_all_but_last_layer,
                          [(lambda model: model.bert.embeddings.requires_grad_(False), "still trainable")]),
    "warmup_off": (exercises.check_warmup_off, ("up", torchnlp.TrainConfig(), _drift), solutions.without_warmup,
                   [(lambda config: config, "set warmup_ratio to 0")]),
    "from_scratch_rate": (exercises.check_from_scratch_rate, ("d", torchnlp.TrainConfig(), lambda c: 0.25, 0.85),
                          solutions.from_scratch_rate, [(lambda config: config, "set lr to 1e-3")]),
    "mask_off": (exercises.check_mask_off, (_MODEL_KEY, _BERT, _FEATURES, _COLLATE), solutions.predict_without_mask,
                 [(lambda model, batch: model(input_ids=batch["input_ids"]).logits, "return the predicted class")]),
    "previous_token_head": (exercises.check_previous_token_head, (_HEAD_KEY, _BERT, _TOKENIZER, _HEADLINES),
                            solutions.previous_token_weight,
                            [(lambda attentions, mask: torch.stack([torch.diagonal(a, 1, -2, -1).mean((0, 2))
                                                                    for a in attentions]), "next token")]),
}
