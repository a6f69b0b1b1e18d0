import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import torchnlp
from course import checkpoints


def tiny_bert():
    torchnlp.set_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=4)
    return BertForSequenceClassification(config)


@pytest.fixture(scope="module")
def features(ag_news, tokenizer):
    return torchnlp.encode_for_bert(ag_news[0][:96], tokenizer, max_length=32)


CONFIG = torchnlp.TrainConfig(epochs=2, batch_size=8, lr=1e-3, save_every=5, report_freq=4, seed=11)


def train(features, checkpoint_dir, tokenizer, config=CONFIG):
    model = tiny_bert()
    history = torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(0),
                                 tokenizer=tokenizer, checkpoint_dir=checkpoint_dir, progress=False,
                                 log=lambda *_: None)
    return model, history


def interrupt_at(monkeypatch, call):
    """Raise KeyboardInterrupt inside the ``call``-th training step, as a learner's interrupt would."""
    original, calls = torch.nn.utils.clip_grad_norm_, [0]

    def clip(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, features, tokenizer, monkeypatch):
    reference, reference_history = train(features, tmp_path / "reference", tokenizer)
    assert reference_history["step"][-1] == 24  # 12 batches an epoch, 2 epochs

    with monkeypatch.context() as patch:
        interrupt_at(patch, 18)
        with pytest.raises(KeyboardInterrupt):
            train(features, tmp_path / "interrupted", tokenizer)
    state = checkpoints.load_state(torchnlp.latest_checkpoint(tmp_path / "interrupted"))
    assert state["step"] == 15  # the last checkpoint before the interrupt: at most save_every steps lost

    resumed, history = train(features, tmp_path / "interrupted", tokenizer)
    assert history == reference_history
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_checkpoint_holds_safetensors_weights_tokenizer_and_state(tmp_path, features, tokenizer):
    model, _ = train(features, tmp_path / "ckpt", tokenizer)
    # The course's marker and the two newest checkpoints (saves every 5 steps and at the end, step 24).
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "course-checkpoint.json", "step-0000020", "step-0000024"]
    latest = torchnlp.latest_checkpoint(tmp_path / "ckpt")
    names = {p.name for p in latest.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "training_state.pt", "checksums.json"} <= names
    assert not any(n.endswith((".bin", ".pkl")) for n in names)
    reloaded = BertForSequenceClassification.from_pretrained(latest)
    for (name, a), b in zip(model.state_dict().items(), reloaded.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_finished_run_only_loads(tmp_path, features, tokenizer):
    first, _ = train(features, tmp_path / "ckpt", tokenizer)
    second, history = train(features, tmp_path / "ckpt", tokenizer)
    assert history["step"][-1] == 24
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_resuming_with_other_settings_is_refused(tmp_path, features, tokenizer):
    train(features, tmp_path / "ckpt", tokenizer)
    other = torchnlp.TrainConfig(**{**CONFIG.__dict__, "lr": 2e-3})
    with pytest.raises(checkpoints.CheckpointMismatch, match="delete it to start afresh"):
        train(features, tmp_path / "ckpt", tokenizer, other)


def test_training_lowers_the_loss_and_predict_keeps_order(features, tokenizer):
    model, history = train(features, None, tokenizer)
    assert history["loss"][-1] < history["loss"][0]
    collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
    probabilities = torchnlp.predict(model, features, collate, batch_size=16)
    assert probabilities.shape == (96, 4)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(96))
    with torch.no_grad():
        one = torch.softmax(model(**collate([features[5]])).logits, -1)[0]
    torch.testing.assert_close(probabilities[5], one, atol=1e-5, rtol=1e-4)


def test_evaluation_without_a_checkpoint_says_to_run_notebook_05(tmp_path):
    with pytest.raises(torchnlp.DataError, match="no fine-tuned checkpoint in .*run notebooks/05_fine_tuning"):
        torchnlp.load_fine_tuned(tmp_path / "nothing")


def test_load_fine_tuned_returns_model_tokenizer_and_state(tmp_path, features, tokenizer):
    trained, _ = train(features, tmp_path / "ckpt", tokenizer)
    model, loaded_tokenizer, state = torchnlp.load_fine_tuned(tmp_path / "ckpt")
    assert state["step"] == state["total_steps"] == 24
    assert loaded_tokenizer("a b")["input_ids"] == tokenizer("a b")["input_ids"]
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), model.state_dict().values()))


def test_notebook02_results_prefer_a_local_run_over_stored_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(torchnlp, "RESULTS_02", tmp_path / "results.json")
    stored = torchnlp.notebook02_results()
    assert set(stored) == set(torchnlp.STORED_RESULTS_02)
    assert all(source.startswith("stored figure") for _, source in stored.values())
    torchnlp.save_notebook02_results({"bag of embeddings": 0.5})
    assert torchnlp.notebook02_results()["bag of embeddings"][0] == 0.5
