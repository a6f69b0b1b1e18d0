"""The classification heads on the BERT encoder: the [CLS] pooler of ``BertForSequenceClassification`` and mean
pooling (``BertForMeanPooledClassification``), chosen by name and recognised in a saved checkpoint."""
from __future__ import annotations

import torch
from transformers import BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from course.bert import bert_model_path


def mean_pool(hidden_states, attention_mask):
    """The average of each text's token vectors, padding excluded: ``(batch, T, d), (batch, T) -> (batch, d)``."""
    weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class BertForMeanPooledClassification(BertPreTrainedModel):
    """BERT with a classifier over the masked mean of the last layer's token vectors.

    ``BertForSequenceClassification`` classifies from the pooler (tanh of a dense layer over ``[CLS]``). A
    checkpoint trained as a sentence encoder with mean pooling, like all-MiniLM-L6-v2, never trained that
    pooler; this head reads the representation the encoder was trained to produce. Same inputs and outputs
    as ``BertForSequenceClassification``, so ``fine_tune``, ``predict`` and ``save_pretrained`` /
    ``from_pretrained`` (safetensors) work unchanged; the checkpoint's unused pooler weights are dropped.
    """

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            return_dict=True, **kwargs)
        logits = self.classifier(self.dropout(mean_pool(outputs.last_hidden_state, attention_mask)))
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


HEADS = {"cls": "BertForSequenceClassification", "mean": "BertForMeanPooledClassification"}
#: The head chosen on the validation split by bench/heads.py (3 seeds each; RESULTS.md has the table): the two
#: heads tied on mean validation accuracy, and mean pooling's seeds spread less.
DEFAULT_HEAD = "mean"


def sequence_classifier(head, model_path=None, num_labels=4, **kwargs):
    """A classifier on the pre-trained encoder: ``head`` "cls" (the [CLS] pooler) or "mean" (mean pooling)."""
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as transformers_logging

    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, not {head!r}")
    cls = BertForMeanPooledClassification if head == "mean" else BertForSequenceClassification
    # transformers prints a load report (with terminal colour codes) listing the new head's keys as MISSING;
    # that is expected here, and a stored notebook should not carry escape codes: ask for the same lists with
    # output_loading_info=True and word them for the learner (notebook 05 does).
    # Its "Loading weights" bar would store a widget's first frame: also off for this load (it takes a second).
    verbosity, bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        loaded = cls.from_pretrained(model_path or bert_model_path(), num_labels=num_labels, **kwargs)
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()
    model = loaded[0] if isinstance(loaded, tuple) else loaded  # (model, loading_info) if asked for
    model.config.architectures = [cls.__name__]  # the checkpoint's config names the bare encoder
    return loaded


def head_of(model):
    """"cls" or "mean": which head a model, or the config of a saved one, has."""
    if isinstance(model, torch.nn.Module):
        return "mean" if isinstance(model, BertForMeanPooledClassification) else "cls"
    return "mean" if HEADS["mean"] in (model.architectures or []) else "cls"


def classifier_class(checkpoint_dir):
    """The model class a saved classifier was written from, read from its config: the right head, rebuilt."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if head_of(AutoConfig.from_pretrained(checkpoint_dir)) == "mean":
        return BertForMeanPooledClassification
    return AutoModelForSequenceClassification

