"""Inference with a fine-tuned classifier: class probabilities for tokenized features or raw texts, and an
int8 copy of a model for faster CPU inference."""
from __future__ import annotations

import torch

from course.bert import LengthBucketSampler, PaddingCollator, check_max_length, check_text
from course.i18n import tr


@torch.inference_mode()
def predict(model, features, collate, batch_size=64, device=None, progress=False):
    """Class probabilities for every feature, in the order given (batched by length for speed).

    ``features`` are tokenized (``encode_for_bert``); for raw texts use ``predict_texts``.
    """
    from course.progress import progress as shown

    if isinstance(features, str):
        raise TypeError("predict takes tokenized features, not a text: use predict_texts(model, tokenizer, [text])")
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or "input_ids" not in feature:
            raise TypeError(f"feature {i} is {type(feature).__name__} {feature!r:.60}, not a dict with input_ids: "
                            "tokenize with encode_for_bert, or use predict_texts(model, tokenizer, texts) for texts")
    if not features:
        return torch.empty(0, model.config.num_labels)
    check_lengths(features, model)

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    sampler = LengthBucketSampler([len(f["input_ids"]) for f in features], batch_size, shuffle=False)
    probabilities = torch.empty(len(features), model.config.num_labels)
    for indices in shown(sampler, desc=tr("predicting"), unit=tr("batches"), disable=not progress):
        batch = collate([{"input_ids": features[i]["input_ids"]} for i in indices])
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        probabilities[indices] = torch.softmax(logits.float(), dim=-1).cpu()
    return probabilities


def check_lengths(features, model):
    """Every feature has from 1 token to the model's number of positions (else torch fails with an index error)."""
    positions = getattr(model.config, "max_position_embeddings", None)
    for i, feature in enumerate(features):
        length = len(feature["input_ids"])
        if length == 0:
            raise ValueError(f"feature {i} has no tokens: tokenize its text with encode_for_bert (which adds [CLS] "
                             "and [SEP]), or drop it")
        if positions and length > positions:
            raise ValueError(f"feature {i} has {length} tokens but the model has {positions} positions: encode with "
                             f"max_length at most {positions} (encode_for_bert truncates), or use predict_texts")


def predict_texts(model, tokenizer, texts, max_length=128, batch_size=64, device=None, log=print):
    """Class probabilities for raw texts: a list of strings in any script (emoji, CJK, right-to-left...) and of
    any length. ``None``, non-strings and empty texts are refused with a message naming the item; texts longer
    than ``max_length`` tokens are truncated (keeping [SEP]) and ``log`` says how many were. Uses ``predict``.
    """
    if isinstance(texts, str) or texts is None:
        raise TypeError(f"texts must be a list of strings, not {type(texts).__name__}: pass [text] for one text")
    texts = list(texts)
    for i, text in enumerate(texts):
        check_text(text, f"text {i}")
        if not text.strip():
            raise ValueError(f"text {i} is empty: there is nothing to classify")
    check_max_length(max_length, model)
    lengths = [len(ids) for ids in tokenizer(texts, verbose=False)["input_ids"]] if texts else []
    truncated = sum(n > max_length for n in lengths)
    if truncated:
        log(f"note: {truncated} of {len(texts)} texts were longer than {max_length} tokens and were truncated "
            f"(the longest had {max(lengths)})")
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"] if texts else []
    collate = PaddingCollator(tokenizer.pad_token_id)
    return predict(model, [{"input_ids": x} for x in ids], collate, batch_size=batch_size, device=device)


def quantize_for_cpu(model):
    """A copy of ``model`` whose Linear layers compute in int8 (dynamic quantization), for CPU inference.

    Weights are stored as int8 and activations quantized on the fly per batch: a quarter of the bytes to
    stream from memory, and int8 dot products (AVX2/VNNI) where fp32 needed four times the work. It changes
    a few predictions (bench/inference.py measures how many), so it is an opt-in, not ``predict``'s default.
    """
    import copy
    import warnings

    with warnings.catch_warnings():
        # torch.ao.quantization warns that it moves to the separate torchao package; torchao's eager int8
        # path measured slower than this one on a CPU with torch 2.13 (bench/inference.py, RESULTS.md).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                                                      dtype=torch.qint8)



def classification_report_text(labels, predictions, classes, digits=3):
    """scikit-learn's classification_report, laid out as it lays it out, with the course language's labels and
    numbers (German: Präzision, 0,914); in English the same text as ``classification_report(..., digits=digits)``."""
    from sklearn.metrics import classification_report

    from course.i18n import table_row

    report = classification_report(labels, predictions, target_names=classes, digits=digits, output_dict=True)
    shown = {"accuracy": tr("accuracy"), "macro avg": tr("macro avg"), "weighted avg": tr("weighted avg")}
    width = max(max(len(name) for name in classes), len(shown["weighted avg"]), len("weighted avg"), digits)
    headers = [tr("precision"), tr("recall"), tr("f1-score"), tr("support")]
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    text = ("{:>{width}s} " + " {:>9}" * len(headers)).format("", *headers, width=width) + "\n\n"
    for name in [*classes, "", "accuracy", "macro avg", "weighted avg"]:
        if name == "":
            text += "\n"
        elif name == "accuracy":  # one figure: precision and recall are left blank, as scikit-learn does
            text += table_row("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n", shown[name], "", "",
                              report["accuracy"], int(report["macro avg"]["support"]), width=width, digits=digits)
        else:
            scores = report[name]
            text += table_row(row, shown.get(name, name), scores["precision"], scores["recall"], scores["f1-score"],
                              int(scores["support"]), width=width, digits=digits)
    return text
