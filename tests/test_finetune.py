"""finetune.py: the same training as notebook 05, in one process and under torchrun (gloo on CPU)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import finetune
import torchnlp
from course import checkpoints

ROOT = Path(__file__).resolve().parents[1]


def test_script_and_notebook_loop_give_the_same_weights(tiny_model, tmp_path, ag_news, tokenizer):
    args = ["--model", str(tiny_model), "--train-limit", "48", "--epochs", "1", "--batch-size", "8",
            "--lr", "1e-3", "--max-length", "32", "--seed", "5", "--no-eval"]
    script_model = finetune.main(args + ["--checkpoint-dir", str(tmp_path / "script")])

    # Notebook 05's cells, in order, with the same settings: validation split, head, seed.
    train_part, _ = torchnlp.validation_split(ag_news[0], fraction=0.1)
    features = torchnlp.encode_for_bert(train_part[:48], tokenizer, 32)
    torchnlp.set_seed(5)
    model = torchnlp.sequence_classifier(torchnlp.DEFAULT_HEAD, tiny_model, num_labels=4)
    config = torchnlp.TrainConfig(epochs=1, batch_size=8, lr=1e-3, seed=5)
    torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(tokenizer.pad_token_id),
                       checkpoint_dir=tmp_path / "notebook", progress=False)

    for (name, a), b in zip(model.state_dict().items(), script_model.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("head", sorted(torchnlp.HEADS))
def test_script_trains_the_head_it_is_given(tiny_model, tmp_path, head, capsys, ag_news):
    model = finetune.main(["--model", str(tiny_model), "--train-limit", "16", "--epochs", "1", "--batch-size", "8",
                           "--max-length", "32", "--head", head, "--checkpoint-dir", str(tmp_path / head)])
    assert torchnlp.head_of(model) == head
    loaded, _, _ = torchnlp.load_fine_tuned(tmp_path / head)
    assert torchnlp.head_of(loaded) == head
    printed = capsys.readouterr().out
    # the validation split of the device's training sample (notebook 05's policy), the whole test split
    sample = torchnlp.training_sample(ag_news[0], torchnlp.train_samples(torchnlp.choose_device()))
    validation = torchnlp.validation_split(sample)[1]
    assert "validation accuracy:" in printed and f"on {len(validation):,} rows" in printed
    assert "test accuracy: " in printed and f"on {len(ag_news[1]):,} rows" in printed


def torchrun(out_dir, checkpoint_dir, tiny_model, *probe_args):
    out_dir.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(ROOT / "tests" / "ddp_probe.py"), str(out_dir), *probe_args, "--",
               "--model", str(tiny_model), "--train-limit", "64", "--epochs", "1", "--batch-size", "4",
               "--lr", "1e-3", "--max-length", "32", "--save-every", "3", "--no-eval",
               "--checkpoint-dir", str(checkpoint_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    return result


def read_ranks(out_dir):
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_torchrun_two_processes_share_data_average_gradients_and_resume(tiny_model, tmp_path, ag_news, tokenizer):
    result = torchrun(tmp_path / "full", tmp_path / "ckpt-full", tiny_model)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = read_ranks(tmp_path / "full")

    # Each rank trained on its own half: disjoint, and together every sample exactly once.
    train_part, _ = torchnlp.validation_split(ag_news[0], fraction=0.1)
    expected = [f["input_ids"][:32] for f in torchnlp.encode_for_bert(train_part[:64], tokenizer, 32)]
    assert len(rank0["seen"]) == len(rank1["seen"]) == 32
    assert not {tuple(x) for x in rank0["seen"]} & {tuple(x) for x in rank1["seen"]}
    assert sorted(rank0["seen"] + rank1["seen"]) == sorted(expected)
    # Gradients were averaged: after different data, both replicas hold the same weights.
    assert rank0["weights"] == rank1["weights"]
    # One checkpoint, written by rank 0, with the world size recorded.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("ckpt")] == ["ckpt-full"]
    assert checkpoints.load_state(torchnlp.latest_checkpoint(tmp_path / "ckpt-full"))["world_size"] == 2

    # Interrupt at step 5 (the last checkpoint is step 3), then run the same command again: it resumes and
    # ends with the weights of the uninterrupted run.
    interrupted = torchrun(tmp_path / "cut", tmp_path / "ckpt-cut", tiny_model, "--interrupt-at-step", "5")
    assert "interrupted" in interrupted.stdout, interrupted.stderr[-3000:]
    assert checkpoints.load_state(torchnlp.latest_checkpoint(tmp_path / "ckpt-cut"))["step"] == 3
    resumed = torchrun(tmp_path / "cut", tmp_path / "ckpt-cut", tiny_model)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("resuming from") == 1  # rank 0 alone reports
    assert [r["weights"] for r in read_ranks(tmp_path / "cut")] == [rank0["weights"]] * 2
