"""The mean-pooling head: padding-invariant, round-trips through save_pretrained, trains and resumes exactly."""
import json

import pytest
import torch
from transformers import BertConfig

import torchnlp
from course import heads


def tiny_mean_bert():
    torchnlp.set_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=4)
    return torchnlp.BertForMeanPooledClassification(config)


@pytest.fixture(scope="module")
def features(ag_news, tokenizer):
    return torchnlp.encode_for_bert(ag_news[0][:96], tokenizer, max_length=32)


def test_mean_pool_ignores_padding():
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = heads.mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :3].mean(0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(0))
    hidden[0, 3:] = 1e6  # whatever sits at padded positions
    torch.testing.assert_close(heads.mean_pool(hidden, mask)[0], pooled[0])


def test_padding_does_not_change_a_texts_logits(tokenizer):
    model = tiny_mean_bert().eval()
    alone = tokenizer(["Phelps wins gold"], return_tensors="pt")
    batched = tokenizer(["Phelps wins gold", "a much longer headline about markets, oil prices and rates"],
                        padding=True, return_tensors="pt")
    assert batched["input_ids"].shape[1] > alone["input_ids"].shape[1]
    with torch.no_grad():
        torch.testing.assert_close(model(**batched).logits[0], model(**alone).logits[0], atol=1e-5, rtol=1e-4)


def test_save_and_load_round_trip_gives_identical_logits(tmp_path, tokenizer):
    model = tiny_mean_bert().eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    reloaded = torchnlp.BertForMeanPooledClassification.from_pretrained(tmp_path).eval()
    batch = tokenizer(["Oil prices rise", "Phelps wins gold in the medley"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reloaded(**batch).logits)
    assert torchnlp.head_of(reloaded) == "mean" and torchnlp.head_of(reloaded.config) == "mean"


def test_sequence_classifier_builds_either_head_on_the_checkpoint():
    assert torchnlp.head_of(torchnlp.sequence_classifier("cls")) == "cls"
    mean = torchnlp.sequence_classifier("mean")
    assert torchnlp.head_of(mean) == "mean" and mean.config.architectures == ["BertForMeanPooledClassification"]
    assert not any("pooler" in name for name, _ in mean.named_parameters())
    with pytest.raises(ValueError, match="head must be one of"):
        torchnlp.sequence_classifier("max")


def test_validation_split_is_stratified_seeded_and_disjoint(ag_news):
    train = ag_news[0]
    part, held_out = torchnlp.validation_split(train, fraction=0.1, seed=0)
    per_class = {label: sum(1 for y, _ in train if y == label) for label in range(4)}
    assert len(part) + len(held_out) == len(train)
    # a tenth of every class, rounded: 130 of each of the offline variant's 1,300
    assert {label: sum(1 for y, _ in held_out if y == label) for label in range(4)} == {
        label: round(0.1 * count) for label, count in per_class.items()}
    assert not {text for _, text in part} & {text for _, text in held_out}
    assert torchnlp.validation_split(train, seed=0)[1] == held_out
    assert torchnlp.validation_split(train, seed=1)[1] != held_out


def test_mean_head_trains_and_resumes_to_the_same_weights(tmp_path, features, tokenizer, monkeypatch):
    config = torchnlp.TrainConfig(epochs=2, batch_size=8, lr=1e-3, save_every=5, report_freq=4, seed=11)

    def train(checkpoint_dir):
        model = tiny_mean_bert()
        history = torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(0),
                                     tokenizer=tokenizer, checkpoint_dir=checkpoint_dir, progress=False,
                                     log=lambda *_: None)
        return model, history

    reference, reference_history = train(tmp_path / "reference")
    assert reference_history["loss"][-1] < reference_history["loss"][0]
    original, calls = torch.nn.utils.clip_grad_norm_, [0]

    def clip(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 18:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
        with pytest.raises(KeyboardInterrupt):
            train(tmp_path / "interrupted")
    resumed, history = train(tmp_path / "interrupted")
    assert history == reference_history
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    loaded, _, _ = torchnlp.load_fine_tuned(tmp_path / "interrupted")
    assert isinstance(loaded, torchnlp.BertForMeanPooledClassification)


def test_bench_chooses_the_head_on_validation_and_breaks_ties_by_spread():
    import importlib.util

    spec = importlib.util.spec_from_file_location("heads_bench", torchnlp.ROOT / "bench" / "heads.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.choose({"cls": (0.9100, 0.02), "mean": (0.9050, 0.001)}) == "cls"  # the higher mean wins
    assert bench.choose({"cls": (1415 / 1560, 0.0099), "mean": (1415 / 1560, 0.0062)}) == "mean"  # a tie
    assert bench.choose({"cls": (0.9071, 0.0062), "mean": (0.9071, 0.0099)}) == "cls"
    stored = json.loads((torchnlp.ROOT / "bench" / "heads-results.json").read_text())
    assert stored["chosen"] == torchnlp.DEFAULT_HEAD  # the library's default is the benchmark's choice
    assert sorted((r["head"], r["seed"]) for r in stored["runs"]) == [(h, s) for h in ("cls", "mean") for s in range(3)]
