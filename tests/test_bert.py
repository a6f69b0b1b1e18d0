import collections
import shutil

import pytest
import torch
from transformers import BertForSequenceClassification, BertTokenizer, DataCollatorWithPadding

import torchnlp
from course import bert
from torchnlp import DataError

LESSON_IDS = [101, 1052, 22123, 2953, 2818, 2003, 1037, 2307, 7705, 2005, 17953, 2361, 102]


def test_lesson_sentence_has_the_lesson_ids(monkeypatch):
    monkeypatch.chdir(torchnlp.ROOT)
    torchnlp.ensure_bert()
    assert BertTokenizer.from_pretrained("bert").encode("PyTorch is a great framework for NLP") == LESSON_IDS


def test_classifier_loads_with_only_the_head_newly_initialised():
    model, info = BertForSequenceClassification.from_pretrained(
        str(torchnlp.ensure_bert()), num_labels=4, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert not info["mismatched_keys"]
    config = model.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (6, 384, 12)


def test_corrupted_weights_are_refused(tmp_path):
    shutil.copytree(torchnlp.ensure_bert(), tmp_path / "bert")
    with open(tmp_path / "bert" / "model.safetensors", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01")
    with pytest.raises(DataError, match="model.safetensors is corrupted"):
        torchnlp.ensure_bert(tmp_path / "bert")


def test_provisioning_copies_the_model_config_not_the_pooling_config(tmp_path):
    bert_dir = torchnlp.ensure_bert(tmp_path / "bert")
    assert sorted(p.name for p in bert_dir.iterdir()) == sorted(bert.BERT_FILES)
    assert '"model_type": "bert"' in (bert_dir / "config.json").read_text()


def test_missing_model_folder_says_how_to_provision(monkeypatch, tmp_path):
    monkeypatch.delenv("BERT_MODEL", raising=False)
    monkeypatch.setattr(bert, "BERT_DIR", tmp_path / "nothing")
    with pytest.raises(DataError, match=r"no BERT checkpoint in .*make run.*BERT_MODEL"):
        torchnlp.bert_model_path()
    monkeypatch.setenv("BERT_MODEL", "bert-base-uncased")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(bert, "_hub_reachable", lambda: (True, ""))  # as on a machine with a network
    assert torchnlp.bert_model_path() == "bert-base-uncased"


def test_encode_for_bert_truncates_keeping_sep_and_refuses_empty_text(tokenizer):
    features = torchnlp.encode_for_bert([(2, "word " * 600), (1, "short")], tokenizer, max_length=64)
    assert len(features[0]["input_ids"]) == 64 and features[0]["input_ids"][-1] == tokenizer.sep_token_id
    assert features[1] == {"input_ids": [101, 2460, 102], "labels": 1}
    with pytest.raises(ValueError, match="item 1 has an empty text"):
        torchnlp.encode_for_bert([(0, "fine"), (0, "  ")], tokenizer, max_length=64)


def test_padding_collator_equals_data_collator_with_padding(tokenizer, ag_news):
    features = torchnlp.encode_for_bert(ag_news[0][:7], tokenizer, max_length=128)
    ours = torchnlp.PaddingCollator(tokenizer.pad_token_id)(features)
    reference = DataCollatorWithPadding(tokenizer, return_tensors="pt")(features)
    assert set(ours) == {"input_ids", "attention_mask", "labels"}
    for key in ours:
        assert torch.equal(ours[key], reference[key]), key
    lengths = [len(f["input_ids"]) for f in features]
    assert ours["attention_mask"].sum(1).tolist() == lengths
    assert ours["input_ids"].shape == (7, max(lengths))


def test_padding_collator_truncates_to_its_max_length(tokenizer):
    batch = torchnlp.PaddingCollator(0, max_length=4)([{"input_ids": list(range(1, 10)), "labels": 0}])
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4]]


def epoch(sampler, e):
    sampler.set_epoch(e)
    return list(sampler)


def test_bucket_sampler_sees_every_sample_once_with_batch_sizes_respected():
    lengths = torch.randint(5, 120, (1003,), generator=torch.Generator().manual_seed(1)).tolist()
    sampler = torchnlp.LengthBucketSampler(lengths, batch_size=16, seed=3, chunk_batches=10)
    batches = epoch(sampler, 0)
    assert sorted(i for b in batches for i in b) == list(range(1003))
    assert all(len(b) == 16 for b in batches[:-1] if len(b) != 1003 % 16)
    assert collections.Counter(len(b) for b in batches) == {16: 62, 11: 1}
    assert len(sampler) == len(batches)


def test_bucket_sampler_groups_similar_lengths():
    lengths = torch.randint(5, 120, (2000,), generator=torch.Generator().manual_seed(0)).tolist()
    batches = list(torchnlp.LengthBucketSampler(lengths, batch_size=16, seed=0))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded / sum(lengths) < 1.05  # random batches of 16 pad to about 1.6x


def test_bucket_sampler_shuffles_differently_per_epoch_and_is_seeded():
    lengths = list(range(500))
    a, b = torchnlp.LengthBucketSampler(lengths, 8, seed=7), torchnlp.LengthBucketSampler(lengths, 8, seed=7)
    assert epoch(a, 0) == epoch(b, 0)
    assert epoch(a, 1) == epoch(b, 1)
    assert epoch(a, 0) != epoch(a, 1)
    assert epoch(a, 0) != epoch(torchnlp.LengthBucketSampler(lengths, 8, seed=8), 0)
    assert list(torchnlp.LengthBucketSampler(lengths, 8, shuffle=False)) == [
        list(range(i, min(i + 8, 500))) for i in range(0, 500, 8)]


@pytest.mark.parametrize("n", [1001, 64, 33])
def test_distributed_bucket_sampler_splits_disjointly_with_equal_batch_counts(n):
    lengths = list(range(n))
    ranks = [torchnlp.LengthBucketSampler(lengths, 16, seed=1, num_replicas=2, rank=r) for r in (0, 1)]
    per_rank = [epoch(s, 2) for s in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) == len(ranks[0])
    seen = [i for batches in per_rank for b in batches for i in b]
    assert sorted(seen) == list(range(n))
    assert all(abs(len(a) - len(b)) <= 1 for a, b in zip(*per_rank))


def test_sampler_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rank 2"):
        torchnlp.LengthBucketSampler([1, 2, 3], 2, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="batch_size"):
        torchnlp.LengthBucketSampler([1, 2, 3], 0)
