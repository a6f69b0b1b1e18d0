# ruff: noqa: E501
"""Every bad input gets the course's own clear error (issues 18 and 20): one test, or one parametrized case,
per row of the table below. README's Troubleshooting section shows the same table, and
``test_readme_table_is_generated_from_these_cases`` checks it word for word, so the two cannot drift.
Regenerate the README table with ``python tests/test_robustness.py``.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from robustness_cases import CASES, COVERED, covers, readme_table
from transformers import BertConfig, BertForSequenceClassification

import finetune
import torchnlp
from course import ag_news, checkpoints
from course import bert as course_bert
from torchnlp import CheckpointError, DataError

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_is_generated_from_these_cases():
    import test_robustness_more  # noqa: F401  (its tests cover the later cases: they register on import)

    readme = (ROOT / "README.md").read_text()
    assert readme_table() in readme, "README's table differs: regenerate it with python tests/test_robustness.py"
    assert COVERED == set(CASES), f"cases without a test: {sorted(set(CASES) - COVERED)}"


# --- helpers -------------------------------------------------------------------------------------------------


def run_script(args, capsys):
    """finetune.main(args) that must stop early: (exit status, stderr)."""
    with pytest.raises(SystemExit) as stop:
        finetune.main(args)
    code = stop.value.code
    if isinstance(code, str):  # SystemExit("message") is status 1, message on stderr
        return 1, code
    return code, capsys.readouterr().err.strip()


def script_args(tiny_model, checkpoint_dir, *extra):
    return ["--model", str(tiny_model), "--train-limit", "16", "--epochs", "1", "--batch-size", "8", "--lr", "1e-3",
            "--max-length", "32", "--no-eval", "--checkpoint-dir", str(checkpoint_dir), *extra]


# --- finetune.py options ---------------------------------------------------------------------------------------


@covers("epochs-0", "batch-size-0", "lr-negative", "save-every-0", "max-length-0", "max-length-too-long")
@pytest.mark.parametrize("option, value, says", [
    ("--epochs", "0", "argument --epochs: 0 is out of range: must be a number at least 1"),
    ("--batch-size", "0", "argument --batch-size: 0 is out of range: must be an integer at least 1"),
    ("--lr", "-1", "argument --lr: -1 is out of range: must be a number greater than 0"),
    ("--lr", "nan", "argument --lr: nan is out of range"),
    ("--save-every", "0", "argument --save-every: 0 is out of range: must be an integer at least 1"),
    ("--max-length", "0", "argument --max-length: 0 is out of range: must be an integer at least 2"),
    ("--max-length", "5000", "argument --max-length: 5000 is out of range: must be an integer from 2 to 128"),
    ("--batch-size", "x", "argument --batch-size: invalid value 'x'"),
])
def test_bad_option_exits_2_with_one_line(tiny_model, tmp_path, capsys, option, value, says):
    code, err = run_script(script_args(tiny_model, tmp_path / "ckpt", option, value), capsys)
    assert code == 2
    assert err.startswith(f"finetune.py: error: {says}")
    assert "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "ckpt").exists()


@covers("checkpoint-dir-is-file")
def test_checkpoint_dir_that_is_a_file_is_refused_and_kept(tiny_model, tmp_path, capsys):
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes")
    code, err = run_script(script_args(tiny_model, mine), capsys)
    assert code == 2 and "argument --checkpoint-dir" in err and "is a file" in err
    assert mine.read_text() == "my notes" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@covers("checkpoint-dir-foreign")
def test_foreign_non_empty_folder_is_refused_and_kept(tiny_model, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("chapter 1")
    code, err = run_script(script_args(tiny_model, tmp_path / "mine"), capsys)
    assert code == 2 and "not a course checkpoint folder" in err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]


def read_only_folder(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return folder
    (folder / "probe").unlink()  # root ignores permission bits: a file system it cannot write instead
    try:
        Path("/sys/probe").write_text("x")
    except OSError:
        return Path("/sys")
    pytest.skip("no read-only location available")


@covers("checkpoint-dir-read-only")
def test_read_only_checkpoint_location_is_refused_before_loading(tiny_model, tmp_path, capsys, monkeypatch):
    loaded = []
    monkeypatch.setattr(BertForSequenceClassification, "from_pretrained", lambda *a, **k: loaded.append(1))
    code, err = run_script(script_args(tiny_model, read_only_folder(tmp_path) / "ckpt"), capsys)
    assert code == 2 and "argument --checkpoint-dir" in err and "not writable" in err
    assert not loaded


@covers("data-dir-missing", "data-dir-is-file")
def test_data_dir_must_exist_unless_default(tiny_model, tmp_path, capsys):
    code, err = run_script(script_args(tiny_model, tmp_path / "ckpt", "--data-dir", str(tmp_path / "dta")), capsys)
    assert code == 2 and f"argument --data-dir: {tmp_path / 'dta'} does not exist" in err
    assert not (tmp_path / "dta").exists()
    (tmp_path / "file").write_text("x")
    code, err = run_script(script_args(tiny_model, tmp_path / "ckpt", "--data-dir", str(tmp_path / "file")), capsys)
    assert code == 2 and "is a file" in err


@covers("train-config")
@pytest.mark.parametrize("field, value, says", [
    ("epochs", 0, "TrainConfig.epochs=0 is out of range: it must be at least 1"),
    ("batch_size", 0, "TrainConfig.batch_size=0 is out of range"),
    ("batch_size", 2.5, "TrainConfig.batch_size must be a finite integer, got 2.5"),
    ("lr", -1e-3, "TrainConfig.lr=-0.001 is out of range: it must be greater than 0"),
    ("lr", float("inf"), "TrainConfig.lr must be a finite number"),
    ("save_every", 0, "TrainConfig.save_every=0 is out of range"),
    ("warmup_ratio", 2, "TrainConfig.warmup_ratio=2 is out of range: it must be from 0 to 1"),
])
def test_train_config_refuses_values_out_of_range(field, value, says):
    with pytest.raises(ValueError, match=f"^{says}".replace("(", r"\(").replace(".", r"\.")):
        torchnlp.TrainConfig(**{field: value})


def test_fine_tune_checks_a_config_changed_after_creation_and_the_max_length(tokenizer):
    config = torchnlp.TrainConfig()
    config.batch_size = 0
    model = tiny_classifier()
    features = [{"input_ids": [101, 2003, 102], "labels": 0}]
    with pytest.raises(ValueError, match="batch_size=0"):
        torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(0), progress=False)
    with pytest.raises(ValueError, match="feature 0 has 300 tokens but the model has 128 positions"):
        torchnlp.fine_tune(model, [{"input_ids": [101] * 300, "labels": 0}], torchnlp.TrainConfig(),
                           collate=torchnlp.PaddingCollator(0), progress=False)
    with pytest.raises(ValueError, match="max_length must be an integer from 2 to 512, got 0"):
        torchnlp.encode_for_bert([(0, "text")], tokenizer, 0)


# --- checkpoints ---------------------------------------------------------------------------------------------


def tiny_classifier():
    torchnlp.set_seed(0)
    return BertForSequenceClassification(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                    intermediate_size=64, max_position_embeddings=128, num_labels=4))


CONFIG = torchnlp.TrainConfig(epochs=2, batch_size=8, lr=1e-3, save_every=1, report_freq=1, seed=3)


@pytest.fixture(scope="module")
def features(ag_news, tokenizer):
    return torchnlp.encode_for_bert(ag_news[0][:16], tokenizer, max_length=24)  # 2 steps an epoch


def train(features, tokenizer, checkpoint_dir, on_step=None, log=lambda *_: None, config=CONFIG):
    model = tiny_classifier()
    history = torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(0), tokenizer=tokenizer,
                                 checkpoint_dir=checkpoint_dir, progress=False, log=log, on_step=on_step)
    return model, history


def train_interrupted_at(step, features, tokenizer, checkpoint_dir):
    """A run stopped by a KeyboardInterrupt at ``step``, as a learner's stop button does."""
    def stop(at, model):
        if at == step:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(features, tokenizer, checkpoint_dir, on_step=stop)


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, features, tokenizer):
    folder = tmp_path_factory.mktemp("finished") / "ckpt"
    model, history = train(features, tokenizer, folder)
    return folder, model, history


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


@covers("truncated-training-state", "truncated-weights")
@pytest.mark.parametrize("name", ["training_state.pt", "model.safetensors"])
def test_load_fine_tuned_refuses_a_truncated_file(finished, tmp_path, name):
    folder = tmp_path / "ckpt"
    shutil.copytree(finished[0], folder)
    newest = torchnlp.latest_checkpoint(folder)
    assert newest.name == "step-0000004" and (folder / "step-0000003").is_dir()
    truncate(newest / name)
    with pytest.raises(CheckpointError) as error:
        torchnlp.load_fine_tuned(folder)
    message = str(error.value)
    assert f"{newest / name} is damaged" in message
    assert "resumes from the previous checkpoint (step-0000003)" in message and f"delete {folder}" in message
    assert isinstance(error.value, DataError)


def test_load_fine_tuned_loads_the_verified_newest_checkpoint(finished):
    model, _, state = torchnlp.load_fine_tuned(finished[0])
    assert state["step"] == 4 and state["run"]["head"] == "BertForSequenceClassification, 4 labels"
    assert same_weights(finished[1], model)


@covers("resume-after-damage")
def test_resume_after_a_damaged_newest_checkpoint_falls_back_to_the_previous(finished, features, tokenizer, tmp_path):
    train_interrupted_at(3, features, tokenizer, tmp_path / "ckpt")
    truncate(tmp_path / "ckpt" / "step-0000003" / "model.safetensors")
    messages = []
    model, history = train(features, tokenizer, tmp_path / "ckpt", log=messages.append)
    assert messages[0].startswith("warning: ") and "step-0000003/model.safetensors is damaged" in messages[0]
    assert "resuming from the previous checkpoint, step-0000002" in messages[0]
    assert messages[1].endswith("at step 2 of 4")
    assert history == finished[2]
    assert same_weights(finished[1], model)


@covers("second-writer", "stale-lock")
def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(features, tokenizer, tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = tmp_path / "ckpt.lock"
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(), "since": "now"}))
        with pytest.raises(CheckpointError, match=f"in use by process {other.pid} on .*delete {lock}"):
            train(features, tokenizer, tmp_path / "ckpt")
        assert not (tmp_path / "ckpt").exists() and lock.exists()
    finally:
        other.kill()
        other.wait()
    messages = []
    train(features, tokenizer, tmp_path / "ckpt", log=messages.append)  # the pid is gone now: stale
    assert f"taking over the lock {lock} of process {other.pid}" in messages[0]
    assert not lock.exists()  # released at the end


@covers("unique-staging")
def test_staging_is_unique_per_process_and_leaves_others_alone(finished, features, tokenizer, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(finished[0], folder)
    theirs = folder / f".staging-{os.getppid()}"  # a running process's
    theirs.mkdir()
    (theirs / "model.safetensors").write_bytes(b"half")
    model = tiny_classifier()
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    saved = checkpoints.save_checkpoint(folder, model, tokenizer, optimizer, scheduler, {"step": 5, "total_steps": 5})
    assert saved.name == "step-0000005" and checkpoints.verify_checkpoint(saved)["step"] == 5
    assert (theirs / "model.safetensors").read_bytes() == b"half"
    assert not (folder / f".staging-{os.getpid()}").exists()
    assert [p.name for p in checkpoints.step_folders(folder)] == ["step-0000005", "step-0000004"]


@covers("resume-other-settings")
def test_resume_with_other_settings_lists_the_differences(finished, features, tokenizer, tmp_path):
    shutil.copytree(finished[0], tmp_path / "ckpt")
    other = torchnlp.TrainConfig(**{**CONFIG.__dict__, "lr": 2e-3, "seed": 4})
    with pytest.raises(checkpoints.CheckpointMismatch) as error:
        train(features, tokenizer, tmp_path / "ckpt", config=other)
    assert "lr 0.001 in the checkpoint, 0.002 now; seed 3 in the checkpoint, 4 now." in str(error.value)
    with pytest.raises(checkpoints.CheckpointMismatch, match="train_data '16 texts.*in the checkpoint, '15 texts"):
        train(features[:15], tokenizer, tmp_path / "ckpt")


@covers("resume-other-data")
def test_script_resume_with_other_limit_or_max_length_is_refused(tiny_model, tmp_path, capsys):
    finetune.main(script_args(tiny_model, tmp_path / "ckpt"))
    for extra, says in [(["--train-limit", "24"], "train_limit 16 in the checkpoint, 24 now"),
                        (["--max-length", "64"], "max_length 32 in the checkpoint, 64 now")]:
        args = script_args(tiny_model, tmp_path / "ckpt")
        args[args.index(extra[0]) + 1] = extra[1]
        code, err = run_script(args, capsys)
        assert code == 1 and err.startswith("finetune.py: error: ") and says in err and "train_data" in err


# --- texts ---------------------------------------------------------------------------------------------------


@covers("predict-none", "predict-unicode", "predict-long", "predict-features")
def test_predict_texts_checks_its_input_and_takes_any_text(tokenizer):
    model = tiny_classifier()
    for texts, error, says in [([None], TypeError, "text 0 is None"), (["ok", 5], TypeError, "text 1 is int 5"),
                               ("one text", TypeError, r"pass \[text\]"), (["ok", " "], ValueError, "text 1 is empty")]:
        with pytest.raises(error, match=says):
            torchnlp.predict_texts(model, tokenizer, texts)
    notes = []
    texts = ["⚽ 🎉 Federer wins", "中国经济增长放缓", "محادثات السلام تستأنف", "word " * 300]
    probabilities = torchnlp.predict_texts(model, tokenizer, texts, max_length=64, log=notes.append)
    assert probabilities.shape == (4, 4) and torch.allclose(probabilities.sum(1), torch.ones(4))
    assert notes == ["note: 1 of 4 texts were longer than 64 tokens and were truncated (the longest had 302)"]
    single = torchnlp.predict_texts(model, tokenizer, texts[1:2], log=notes.append)
    torch.testing.assert_close(single[0], probabilities[1])
    with pytest.raises(TypeError, match="use predict_texts"):
        torchnlp.predict(model, ["a text"], torchnlp.PaddingCollator(0))
    with pytest.raises(TypeError, match="item 1 is None"):
        torchnlp.encode_for_bert([(0, "fine"), (1, None)], tokenizer, 32)


# --- data ----------------------------------------------------------------------------------------------------


def make_mirror(source, folder, manifest=True):
    folder.mkdir()
    for name in ["train.csv", "test.csv", "classes.txt"] + (["manifest.json", "readme.txt"] if manifest else []):
        shutil.copyfile(source / name, folder / name)
    return folder


@pytest.fixture
def source():
    return torchnlp.ensure_ag_news()


@covers("mirror-truncated-no-manifest")
def test_mirror_without_manifest_with_a_truncated_file_is_refused(source, tmp_path):
    mirror = make_mirror(source, tmp_path / "mirror", manifest=False)
    data = (mirror / "train.csv").read_bytes()
    (mirror / "train.csv").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="train.csv ends in the middle of a row") as error:
        torchnlp.ensure_ag_news(tmp_path / "data", mirror=mirror)
    assert "do not delete it" in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror"]


@covers("mirror-unverified")
def test_mirror_without_manifest_is_an_unverified_copy_in_words(source, tmp_path, monkeypatch, capsys):
    mirror = make_mirror(source, tmp_path / "mirror", manifest=False)
    monkeypatch.setattr(ag_news, "DATA_DIR", tmp_path / "data")
    monkeypatch.setenv("AG_NEWS_MIRROR", str(mirror))
    torchnlp.provision()
    data_line = capsys.readouterr().out.splitlines()[0]
    rows = {name: len(torchnlp.read_ag_news_csv(mirror / name)) for name in ("train.csv", "test.csv")}
    assert "unverified copy" in data_line and f"{rows['train.csv']:,} train / {rows['test.csv']:,} test rows" in data_line
    assert "verified" not in data_line.replace("unverified", "")
    assert torchnlp.describe_variant(tmp_path / "data") == "unverified copy"


@covers("copy-interrupted")
def test_an_interrupted_copy_leaves_nothing_and_the_next_run_copies_afresh(source, tmp_path, monkeypatch):
    mirror = make_mirror(source, tmp_path / "mirror")
    original, calls = shutil.copyfile, []

    def copy_then_die(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "copyfile", copy_then_die)
        with pytest.raises(KeyboardInterrupt):
            torchnlp.ensure_ag_news(tmp_path / "data", mirror=mirror)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror"]  # no data/, no staging left
    data_dir = torchnlp.ensure_ag_news(tmp_path / "data", mirror=mirror)
    assert ag_news.verify_against_manifest(data_dir)["name"] == "ag_news_offline"


@covers("partial-copy")
def test_an_old_partial_copy_is_checked_against_the_mirror(source, tmp_path, monkeypatch):
    mirror = make_mirror(source, tmp_path / "mirror")
    partial = make_mirror(source, tmp_path / "data", manifest=False)
    monkeypatch.setattr(ag_news, "DATA_DIR", partial)  # the course's own data folder, copied by an older version
    data = (partial / "test.csv").read_bytes()
    (partial / "test.csv").write_bytes(data[: data.rindex(b"\n", 0, len(data) // 2) + 1])  # cut at a row's end
    with pytest.raises(DataError, match="test.csv differs from the mirror's copy") as error:
        torchnlp.ensure_ag_news(partial, mirror=mirror)
    assert f"If an earlier version of the course made {partial}, delete it" in str(error.value)


@covers("mirror-checksum")
def test_mirror_checksum_failure_never_advises_deleting_the_mirror(source, tmp_path):
    mirror = make_mirror(source, tmp_path / "mirror")
    with open(mirror / "test.csv", "ab") as f:
        f.write(b'"1","extra","row"\n')
    with pytest.raises(DataError, match="test.csv is corrupted") as error:
        torchnlp.ensure_ag_news(tmp_path / "data", mirror=mirror)
    assert "do not delete it" in str(error.value) and f"Delete {mirror}" not in str(error.value)
    assert (mirror / "test.csv").exists() and not (tmp_path / "data").exists()


@covers("manifest-not-json")
def test_manifest_that_is_not_json_is_named(source, tmp_path):
    mirror = make_mirror(source, tmp_path / "mirror")
    (mirror / "manifest.json").write_text('{"files": ')
    with pytest.raises(DataError, match=f"{mirror / 'manifest.json'} is not a valid manifest"):
        torchnlp.ensure_ag_news(tmp_path / "data", mirror=mirror)
    local = make_mirror(source, tmp_path / "local")
    (local / "manifest.json").write_text("not json")
    with pytest.raises(DataError, match=f"{local / 'manifest.json'} is not a valid manifest.*The course did not make "
                                        f"{local}, so it changed and deleted nothing there"):
        torchnlp.ensure_ag_news(local)


@covers("csv-bom", "csv-latin1", "csv-empty", "csv-line-numbers")
def test_csv_encodings_empty_files_and_physical_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf"3","Markets","Up."\n')
    assert torchnlp.read_ag_news_csv(path) == [(2, "Markets. Up.")]
    path.write_bytes(b'"1","ok","fine"\n"2","Caf\xe9","latin-1"\n')
    with pytest.raises(DataError, match=rf"{path}, line 2 \(byte offset 24\): the bytes b'\\xe9.*not UTF-8"):
        torchnlp.read_ag_news_csv(path)
    path.write_bytes(b"")
    with pytest.raises(DataError, match=f"{path} is empty"):
        torchnlp.read_ag_news_csv(path)
    path.write_text('"1","multi","line one\nline two\nline three"\n"7","t","d"\n')
    with pytest.raises(DataError, match=f"{path}, line 4: class '7'"):
        torchnlp.read_ag_news_csv(path)


@covers("bert-model-offline", "bert-model-no-folder")
def test_bert_model_failures_are_fast_and_name_the_variable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("BERT_MODEL", "no-such/model")
    start = time.perf_counter()
    with pytest.raises(DataError, match="BERT_MODEL=no-such/model: no such folder, not in the local Hugging Face"):
        torchnlp.bert_model_path()  # offline here; on a machine with a network the hub would answer instead
    assert time.perf_counter() - start < 10
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="BERT_MODEL=no-such/model.*HF_HUB_OFFLINE is set"):
        torchnlp.bert_model_path()
    monkeypatch.setenv("BERT_MODEL", "./models/no-such-folder")
    with pytest.raises(DataError, match="BERT_MODEL=./models/no-such-folder: no such folder.*unset it"):
        torchnlp.bert_model_path()


@covers("bert-truncated")
def test_finetune_verifies_bert_like_provisioning(tmp_path, monkeypatch, capsys, tiny_model):
    bert = tmp_path / "bert"
    shutil.copytree(torchnlp.ensure_bert(), bert)
    truncate(bert / "model.safetensors")
    monkeypatch.delenv("BERT_MODEL", raising=False)
    monkeypatch.setattr(course_bert, "BERT_DIR", bert)
    code, err = run_script(["--checkpoint-dir", str(tmp_path / "ckpt")], capsys)
    assert code == 1 and err.startswith("finetune.py: error: ") and "model.safetensors is corrupted" in err
    # Any other folder: the safetensors header is read before training.
    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    truncate(other / "model.safetensors")
    code, err = run_script(script_args(other, tmp_path / "ckpt"), capsys)
    assert code == 1 and f"{other / 'model.safetensors'} is damaged or incomplete" in err


if __name__ == "__main__":
    print(readme_table())
