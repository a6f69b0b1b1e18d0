"""What the notebooks call ``exercises``: the self-check of every exercise in notebooks 00-06, and the helpers of
the assignment (notebook 08). Each notebook imports it as ``from course import exercises``.

The checks live with their notebooks (``course/checks_attention.py``: 00-02, ``course/checks_bert.py``: 03-04,
``course/checks_training.py``: 05-06; the experiments of 01-06, where the learner changes one thing in a model or
a run, predicts and measures: ``course/experiments.py``), built on the framework in ``course/feedback.py``, which
says how to add one; the quiz of notebook 07 is ``course/quiz.py``.
"""
from course.checks_attention import (
    check_additive_scores,
    check_attention_head,
    check_encode_and_pad,
    check_masked_softmax,
    check_offsets,
    check_positional_encoding,
    check_reversal_batch,
    check_scaled_dot_product_attention,
    check_scaling_answer,
    check_unk_share_prediction,
)
from course.checks_bert import (
    check_batch_size_prediction,
    check_bucket_batches,
    check_collate,
    check_padding_share,
    check_special_tokens,
    check_truncate,
    check_truncation_prediction,
)
from course.checks_training import (
    check_accuracy,
    check_confusion_matrix,
    check_constant_baseline_prediction,
    check_learning_rate,
    check_macro_f1,
    check_steps_prediction,
    check_training_step,
)
from course.experiments import (
    check_freeze_last_layer,
    check_from_scratch_rate,
    check_longer_budget,
    check_mask_off,
    check_mlm_masking,
    check_permutation,
    check_previous_token_head,
    check_warmup_off,
)
from course.feedback import Result, attempt, load_solutions

__all__ = [
    "check_accuracy",
    "check_additive_scores",
    "check_attention_head",
    "check_batch_size_prediction",
    "check_bucket_batches",
    "check_collate",
    "check_confusion_matrix",
    "check_constant_baseline_prediction",
    "check_encode_and_pad",
    "check_freeze_last_layer",
    "check_from_scratch_rate",
    "check_longer_budget",
    "check_mask_off",
    "check_mlm_masking",
    "check_permutation",
    "check_previous_token_head",
    "check_warmup_off",
    "check_learning_rate",
    "check_macro_f1",
    "check_masked_softmax",
    "check_offsets",
    "check_padding_share",
    "check_positional_encoding",
    "check_reversal_batch",
    "check_scaled_dot_product_attention",
    "check_scaling_answer",
    "check_special_tokens",
    "check_steps_prediction",
    "check_training_step",
    "check_truncate",
    "check_truncation_prediction",
    "check_unk_share_prediction",
    "Result",
    "attempt",
    "load_solutions",
]
