# ruff: noqa: E501
"""Every bad input gets the course's own clear error (issues 18 and 20): one test, or one parametrized case,
per row of the table below. README's Troubleshooting section shows the same table, and
``test_readme_table_is_generated_from_these_cases`` checks it word for word, so the two cannot drift.
Regenerate the README table with ``python tests/test_robustness.py``.
"""
import contextlib
import io
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import finetune
import torchnlp
from course import ag_news, checkpoints
from course import bert as course_bert
from torchnlp import CheckpointError, DataError

ROOT = Path(__file__).resolve().parents[1]

#: case id -> (what happens when ..., what the course does). The README table is rendered from this.
CASES = {
    # finetune.py options (exit status 2, one line)
    "epochs-0": ("`finetune.py --epochs 0`", "exit 2: `argument --epochs: 0 is out of range: must be a number at least 1`"),
    "batch-size-0": ("`finetune.py --batch-size 0`", "exit 2, one line naming `--batch-size`, the value and the range"),
    "lr-negative": ("`finetune.py --lr -1`", "exit 2: `--lr ... must be a number greater than 0`"),
    "save-every-0": ("`finetune.py --save-every 0`", "exit 2, one line naming `--save-every`"),
    "max-length-0": ("`finetune.py --max-length 0`", "exit 2: must be an integer at least 2"),
    "max-length-too-long": ("`finetune.py --max-length 5000`", "exit 2: must be from 2 to the model's `max_position_embeddings`"),
    "checkpoint-dir-is-file": ("`--checkpoint-dir` names an existing file", "exit 2 before anything loads; the file is untouched"),
    "checkpoint-dir-foreign": ("`--checkpoint-dir` is a non-empty folder the course did not create", "exit 2; nothing in it is touched"),
    "checkpoint-dir-read-only": ("the checkpoint location is not writable", "exit 2 before the model loads, not at the first save"),
    "data-dir-missing": ("`--data-dir` is mistyped (does not exist)", "exit 2; nothing is created or downloaded"),
    "data-dir-is-file": ("`--data-dir` names a file", "exit 2"),
    "empty-folder-name": ("`finetune.py --data-dir ''` (or `--checkpoint-dir ''`)", "exit 2: an empty name, never taken for the current folder"),
    "lock-parent-read-only": ("the checkpoint folder is writable but its parent, where the lock goes, is not", "exit 2 before the model loads, naming the parent and the lock"),
    "train-config": ("`TrainConfig` gets a value out of range (notebooks)", "`ValueError` naming the field, the value and the range"),
    # checkpoints
    "truncated-training-state": ("`load_fine_tuned` on a checkpoint with a truncated `training_state.pt`", "`CheckpointError` naming the folder, the file and the fix"),
    "truncated-weights": ("`load_fine_tuned` on a checkpoint with a truncated `model.safetensors`", "`CheckpointError` naming the folder, the file and the fix"),
    "resume-after-damage": ("training resumes after the newest checkpoint was damaged", "a warning, then it resumes from the previous checkpoint and ends with the same weights"),
    "second-writer": ("a second process trains into the same checkpoint folder", "refused, naming the other process (pid, host) and the lock file"),
    "stale-lock": ("the lock was left by a process that died", "taken over, with a note"),
    "unique-staging": ("two processes save checkpoints at once", "each stages in its own `.staging-<pid>` folder; neither removes the other's"),
    "resume-other-data": ("resume with another `--train-limit` or `--max-length`", "refused with one message listing each differing setting"),
    "resume-other-settings": ("resume with another learning rate (or any `TrainConfig` field)", "refused with one message listing the differences"),
    "resume-save-every": ("resume with only another `--save-every`", "allowed (it changes when checkpoints are written, not the result): the same weights"),
    "second-writer-symlink": ("a second writer reaches the same checkpoint folder through a symlink", "refused like any second writer: the lock is named after the resolved path"),
    "load-step-folder": ("`load_fine_tuned` is given one checkpoint, `.../step-0000003`", "loads that checkpoint, verified"),
    "all-checkpoints-damaged": ("every checkpoint in a folder is damaged", "`CheckpointError` listing them, with advice that works: delete that folder (the course made it) and train again"),
    "stale-staging": ("a save was killed and left its `.staging-<pid>` folder", "the next save removes it once that process is gone (a running process's is kept)"),
    # texts
    "predict-none": ("`predict_texts` gets `None` or a non-string", "`TypeError` naming the item and what it was"),
    "predict-unicode": ("`predict_texts` gets emoji, CJK or right-to-left text", "classified like any text"),
    "predict-long": ("`predict_texts` gets texts longer than `max_length` tokens", "truncated, with a note how many were"),
    "predict-features": ("`predict` gets raw texts instead of features", "`TypeError` pointing to `predict_texts`"),
    "predict-too-long": ("`predict` gets a feature longer than the model's positions, or one with no tokens", "`ValueError` naming the feature, its length and the limit"),
    "predict-surrogate": ("`predict_texts` gets a text with a lone surrogate", "`ValueError` naming the text and the character"),
    # data
    "mirror-truncated-no-manifest": ("the mirror has no `manifest.json` and a truncated `train.csv`", "refused before copying: the file ends mid-row; advice not to delete the mirror"),
    "mirror-unverified": ("the mirror has no `manifest.json` but is whole", "copied and reported as an *unverified copy* with its row counts, never \"verified\""),
    "copy-interrupted": ("a copy from the mirror is interrupted", "nothing appears in `data/ag_news` (staged, verified, renamed); the next run copies afresh"),
    "partial-copy": ("`data/ag_news` holds an incomplete copy made by an earlier version", "refused: it does not match the mirror's manifest; delete it if the course made it"),
    "mirror-odd-counts": ("the mirror has no `manifest.json` and row counts of neither known variant (half a copy)", "copied as an *unverified copy* with its counts, and a warning that they match neither variant"),
    "data-dir-no-classes": ("`--data-dir` holds `train.csv` and `test.csv` but no `classes.txt` (the Kaggle copy)", "read as it is, with AG News's four classes; nothing is downloaded or copied over it"),
    "download-fails": ("the download of the second file fails", "nothing is saved: both files are staged and moved into place together"),
    "foreign-data-advice": ("a CSV in a data folder the course did not make is malformed", "`DataError` naming the file, the line and the fault; advice to delete only for a copy the course made (`course-data.json`)"),
    "data-dir-in-place": ("`--data-dir` is an existing empty folder (a mount point) and the mirror is set", "the copy is made inside it; the folder itself is never removed or replaced"),
    "data-parent-is-file": ("`data` is a file where `data/ag_news` should go", "`DataError` naming that file; it is left alone"),
    "classes-not-utf8": ("`classes.txt` is not UTF-8", "`DataError` naming the file and the byte offset"),
    "csv-is-folder": ("`train.csv` is a folder", "`DataError` naming it"),
    "csv-utf16": ("a CSV is saved as UTF-16", "`DataError`: the file is UTF-16, save it as UTF-8 (not \"cut off\")"),
    "csv-kaggle-header": ("a CSV starts with the Kaggle header row `Class Index,Title,Description`", "no advice to restore the file (nothing is damaged)"),
    "mirror-checksum": ("a mirror file fails its checksum", "refused; the advice is to restore the mirror, never to delete it"),
    "manifest-not-json": ("`manifest.json` is not valid JSON", "`DataError` naming the file"),
    "csv-bom": ("a CSV starts with a UTF-8 byte-order mark", "read normally"),
    "csv-latin1": ("a CSV has bytes that are not UTF-8", "`DataError` with the file, the line and the byte offset"),
    "csv-empty": ("a CSV is empty", "`DataError`: the file holds no rows"),
    "csv-line-numbers": ("an error follows a quoted field spanning lines", "the line number counts physical lines"),
    "bert-model-offline": ("`BERT_MODEL=no-such/model` offline", "fails at once, naming `BERT_MODEL`"),
    "bert-model-no-folder": ("`BERT_MODEL` names a folder that does not exist", "fails at once, naming `BERT_MODEL` and the folder"),
    "bert-truncated": ("`finetune.py` with a damaged `bert/model.safetensors`", "exit 1, naming the file (checked by checksum, as provisioning does)"),
    "bert-model-too-long": ("`BERT_MODEL` is longer than a file name may be", "fails at once, naming `BERT_MODEL` (exit 2 in `finetune.py`)"),
    # the course's own checks
    "make-test-laptop": ("`make test` on a laptop without chromium or npm, not as root", "the browser tests and slide decks are skipped with one line saying how to get them; with `CI` set it fails instead"),
    "lint": ("a notebook's code breaks the linter (a long line, an unused import)", "`make test` fails at `ruff check .`, which covers the notebooks of both editions"),
    "two-nodes": ("`torchrun --nnodes 2 --nproc_per_node 1` (two launchers on `127.0.0.1`)", "each node trains its share, both end with the same weights, rank 0 alone writes the checkpoints"),
}

COVERED = set()


def covers(*ids):
    """Mark a test as covering these case ids (checked: every case has a test, every id is a case)."""
    unknown = set(ids) - set(CASES)
    assert not unknown, unknown
    COVERED.update(ids)
    return lambda test: test


def readme_table():
    lines = ["| what happens when ... | the course | test case |", "|---|---|---|"]
    lines += [f"| {when} | {then} | `{case}` |" for case, (when, then) in CASES.items()]
    return "\n".join(lines)


def test_readme_table_is_generated_from_these_cases():
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
    assert all(torch.equal(a, b) for a, b in zip(finished[1].state_dict().values(), model.state_dict().values()))


@covers("resume-after-damage")
def test_resume_after_a_damaged_newest_checkpoint_falls_back_to_the_previous(finished, features, tokenizer, tmp_path):
    def stop_at_3(step, model):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(features, tokenizer, tmp_path / "ckpt", on_step=stop_at_3)
    truncate(tmp_path / "ckpt" / "step-0000003" / "model.safetensors")
    messages = []
    model, history = train(features, tokenizer, tmp_path / "ckpt", log=messages.append)
    assert messages[0].startswith("warning: ") and "step-0000003/model.safetensors is damaged" in messages[0]
    assert "resuming from the previous checkpoint, step-0000002" in messages[0]
    assert messages[1].endswith("at step 2 of 4")
    assert history == finished[2]
    assert all(torch.equal(a, b) for a, b in zip(finished[1].state_dict().values(), model.state_dict().values()))


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



# --- issue 30: nothing lost, no traceback, no wrong advice ------------------------------------------------


@covers("second-writer-symlink")
def test_second_writer_through_a_symlink_is_refused(features, tokenizer, tmp_path):
    (tmp_path / "ck").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "ck")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = tmp_path / "ck.lock"  # the lock of the real folder, taken by a live process
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(), "since": "now"}))
        with pytest.raises(CheckpointError, match=f"in use by process {other.pid}.*delete {lock}"):
            train(features, tokenizer, tmp_path / "alias")
        assert list((tmp_path / "ck").iterdir()) == [] and not (tmp_path / "alias.lock").exists()
    finally:
        other.kill()
        other.wait()


def kaggle_folder(source, folder):
    """A user's own AG News folder as the Kaggle copy has it: train.csv and test.csv, no classes.txt."""
    folder.mkdir()
    for name in ("train.csv", "test.csv"):
        shutil.copyfile(source / name, folder / name)
    (folder / "notes.txt").write_text("mine")
    return folder


@covers("data-dir-no-classes")
def test_data_dir_without_classes_txt_is_read_and_never_replaced(source, tmp_path, monkeypatch):
    mine = kaggle_folder(source, tmp_path / "mine")
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "train.csv").write_text('"1","other","rows"\n')
    urls = {name: (other / "train.csv").as_uri() for name in ("train.csv", "test.csv")}
    monkeypatch.delenv("AG_NEWS_MIRROR", raising=False)
    assert torchnlp.ensure_ag_news(mine, urls=urls) == mine  # no download, no copy: the user's files are read
    train, test, classes, _ = torchnlp.load_dataset(mine, verbose=False)
    assert classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert (train, test) == (torchnlp.read_ag_news_csv(mine / "train.csv"), torchnlp.read_ag_news_csv(mine / "test.csv"))
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before


@covers("download-fails")
def test_a_failed_download_saves_nothing(source, tmp_path, monkeypatch):
    monkeypatch.delenv("AG_NEWS_MIRROR", raising=False)
    monkeypatch.setattr(ag_news, "AG_NEWS_MD5", {})  # the offline variant's train.csv stands in for the release's
    urls = {"train.csv": (source / "train.csv").as_uri(), "test.csv": (tmp_path / "gone.csv").as_uri()}
    with pytest.raises(DataError, match="gone.csv failed.*nothing was saved"):
        torchnlp.ensure_ag_news(tmp_path / "data", urls=urls, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no data/, no staging, no half download


@covers("load-step-folder")
def test_load_fine_tuned_takes_one_step_folder(finished):
    model, _, state = torchnlp.load_fine_tuned(finished[0] / "step-0000003")
    assert state["step"] == 3
    whole, _, _ = torchnlp.load_fine_tuned(finished[0])
    assert not all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), model.state_dict().values()))


@covers("foreign-data-advice")
def test_advice_to_delete_only_for_folders_the_course_made(source, tmp_path, monkeypatch):
    monkeypatch.delenv("AG_NEWS_MIRROR", raising=False)
    mine = kaggle_folder(source, tmp_path / "mine")
    (mine / "test.csv").write_text('"1","only two columns"\n')
    with pytest.raises(DataError) as error:
        torchnlp.load_dataset(mine, verbose=False)
    message = str(error.value)
    assert f"{mine / 'test.csv'}, line 1: expected 3 columns" in message
    assert not re.search(r"\bdelete\b", message, re.IGNORECASE)
    assert f"The course did not make {mine}, so it changed and deleted nothing there: replace test.csv" in message
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "test.csv", "train.csv"]
    # A copy the course made carries its mark, and there the advice to delete it stands.
    mirror = make_mirror(source, tmp_path / "mirror")
    copy = torchnlp.ensure_ag_news(tmp_path / "copy", mirror=mirror)
    assert (copy / ag_news.DATA_MARKER).is_file()
    (copy / "test.csv").write_text('"1","only two columns"\n')
    (copy / ag_news.MANIFEST).unlink()
    with pytest.raises(DataError, match=f"Delete {copy} \\(a copy the course made"):
        torchnlp.load_dataset(copy, verbose=False)


@covers("all-checkpoints-damaged")
def test_every_checkpoint_damaged_advises_what_works(finished, features, tokenizer, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(finished[0], folder)
    for step in checkpoints.step_folders(folder):
        truncate(step / "model.safetensors")
    for attempt in (lambda: train(features, tokenizer, folder), lambda: torchnlp.load_fine_tuned(folder)):
        with pytest.raises(CheckpointError) as error:
            attempt()
        message = str(error.value)
        assert f"Every checkpoint in {folder} is damaged (step-0000004, step-0000003)" in message
        assert f"delete {folder}" in message and "run the training again" not in message
    shutil.rmtree(folder)  # the advice, followed, works
    model, history = train(features, tokenizer, folder)
    assert history == finished[2]


@covers("csv-utf16")
def test_utf16_csv_is_named_as_utf16(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes('"1","Title","Text"\n'.encode("utf-16"))
    with pytest.raises(DataError, match=f"{path} is UTF-16 text, not UTF-8: nothing in it is damaged.*Save it as UTF-8") \
            as error:
        torchnlp.read_ag_news_csv(path)
    assert "cut off" not in str(error.value)
    (tmp_path / "test.csv").write_bytes(path.read_bytes())
    (tmp_path / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n")
    with pytest.raises(DataError, match="is UTF-16") as error:
        torchnlp.check_ag_news_copy(tmp_path)
    assert "cut off" not in str(error.value)


@covers("csv-kaggle-header")
def test_kaggle_header_gets_no_advice_to_restore(source, tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"Class Index,Title,Description\n" + (source / "test.csv").read_bytes())
    try:
        rows = torchnlp.read_ag_news_csv(path)
    except DataError as error:
        assert "restore" not in str(error).lower() and "Class Index" in str(error)
    else:
        assert rows == torchnlp.read_ag_news_csv(source / "test.csv")


def as_unprivileged(function):
    """``function()``'s result, computed as an unprivileged user: as root (who ignores permission bits) in a
    forked child that becomes ``nobody``; otherwise here."""
    if os.geteuid() != 0:
        return function()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, compute, send the result, leave at once
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = function()
        except BaseException as error:  # noqa: B036  (the parent reports it)
            result = ("error", repr(error))
        os.write(write, pickle.dumps(result))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@covers("lock-parent-read-only")
def test_checkpoint_folder_whose_parent_is_read_only_is_refused_before_loading(tiny_model):
    base = Path(tempfile.mkdtemp(prefix="course-read-only-"))  # readable by nobody, unlike pytest's tmp_path
    try:
        model = shutil.copytree(tiny_model, base / "model")
        folder = base / "parent" / "ckpt"
        folder.mkdir(parents=True)
        for path in [base, *base.rglob("*")]:
            path.chmod(0o777 if path == folder else 0o755 if path.is_dir() else 0o644)
        (base / "parent").chmod(0o555)  # the folder is writable, its parent (where the lock goes) is not

        def check():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                try:
                    finetune.parse_args(script_args(model, folder))
                except SystemExit as stop:
                    return stop.code, err.getvalue()
            return 0, err.getvalue()

        code, err = as_unprivileged(check)
    finally:
        (base / "parent").chmod(0o755)
        shutil.rmtree(base)
    assert code == 2, err
    assert f"argument --checkpoint-dir: {folder.parent} is not writable" in err and "ckpt.lock" in err


@covers("data-parent-is-file")
def test_data_parent_that_is_a_file_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").write_text("not a folder")
    monkeypatch.setattr(ag_news, "DATA_DIR", tmp_path / "data" / "ag_news")
    with pytest.raises(DataError, match=f"{tmp_path / 'data'} is a file"):
        torchnlp.ensure_ag_news()
    assert (tmp_path / "data").read_text() == "not a folder"


@covers("classes-not-utf8", "csv-is-folder")
def test_classes_txt_not_utf8_and_csv_that_is_a_folder(source, tmp_path, monkeypatch):
    monkeypatch.delenv("AG_NEWS_MIRROR", raising=False)
    folder = make_mirror(source, tmp_path / "d", manifest=False)
    (folder / "classes.txt").write_bytes("Welt\nSport\nWirtschaft\nWissenschaft/Technik\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=f"{folder / 'classes.txt'}.*not UTF-8"):
        torchnlp.load_dataset(folder, verbose=False)
    (folder / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n")
    (folder / "train.csv").unlink()
    (folder / "train.csv").mkdir()
    with pytest.raises(DataError, match=f"{folder / 'train.csv'} is a folder, not a file"):
        torchnlp.load_dataset(folder, verbose=False)


@covers("data-dir-in-place")
def test_an_existing_empty_data_dir_is_filled_in_place(source, tmp_path):
    mirror = make_mirror(source, tmp_path / "mirror")
    mount = tmp_path / "mount"
    mount.mkdir()
    inode = mount.stat().st_ino  # a mount point cannot be removed or replaced: the copy must go inside
    assert torchnlp.ensure_ag_news(mount, mirror=mirror) == mount
    assert mount.stat().st_ino == inode
    assert {"train.csv", "test.csv", "classes.txt"} <= {p.name for p in mount.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left beside it


@covers("bert-model-too-long")
def test_bert_model_name_too_long(monkeypatch, tiny_model, tmp_path, capsys):
    monkeypatch.setenv("BERT_MODEL", "m" * 300)
    with pytest.raises(DataError, match=r"BERT_MODEL=m{60}\.\.\. \(300 characters\): not a usable name \(File name too"):
        torchnlp.bert_model_path()
    code, err = run_script(["--checkpoint-dir", str(tmp_path / "ck")], capsys)
    assert code == 2 and "BERT_MODEL" in err and "Traceback" not in err


@covers("predict-too-long", "predict-surrogate")
def test_predict_checks_lengths_and_texts_are_valid_unicode(tokenizer):
    model = tiny_classifier()  # 128 positions
    collate = torchnlp.PaddingCollator(0)
    with pytest.raises(ValueError, match="feature 1 has 200 tokens but the model has 128 positions"):
        torchnlp.predict(model, [{"input_ids": [101, 102]}, {"input_ids": [101] * 200}], collate)
    with pytest.raises(ValueError, match="feature 0 has no tokens"):
        torchnlp.predict(model, [{"input_ids": []}], collate)
    with pytest.raises(ValueError, match=re.escape("text 1 holds a lone surrogate ('\\ud800') at character 3")):
        torchnlp.predict_texts(model, tokenizer, ["fine", "bad\ud800 text"])


@covers("empty-folder-name")
def test_empty_data_dir_name_is_refused(tiny_model, tmp_path, capsys):
    for option in ("--data-dir", "--checkpoint-dir"):
        args = script_args(tiny_model, tmp_path / "ck") + [option, ""]
        code, err = run_script(args, capsys)
        assert code == 2 and f"argument {option}: an empty name" in err


@covers("stale-staging")
def test_stale_staging_of_a_dead_process_is_removed(finished, tokenizer, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(finished[0], folder)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = folder / f".staging-{int(dead.stdout)}"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    model = tiny_classifier()
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    checkpoints.save_checkpoint(folder, model, tokenizer, optimizer, scheduler, {"step": 5, "total_steps": 5})
    assert not stale.exists()


@covers("resume-save-every")
def test_resume_with_only_another_save_every_is_allowed(finished, features, tokenizer, tmp_path):
    def stop_at_3(step, model):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(features, tokenizer, tmp_path / "ckpt", on_step=stop_at_3)
    other = torchnlp.TrainConfig(**{**CONFIG.__dict__, "save_every": 2})
    model, history = train(features, tokenizer, tmp_path / "ckpt", config=other)
    assert history == finished[2]
    assert all(torch.equal(a, b) for a, b in zip(finished[1].state_dict().values(), model.state_dict().values()))


@covers("mirror-odd-counts")
def test_mirror_with_counts_of_no_known_variant_is_copied_with_a_warning(source, tmp_path, monkeypatch, capsys):
    mirror = make_mirror(source, tmp_path / "mirror", manifest=False)
    lines = (mirror / "train.csv").read_bytes().splitlines(keepends=True)
    (mirror / "train.csv").write_bytes(b"".join(lines[: len(lines) // 2]))  # half a copy, cut at a row's end
    rows = {name: len(torchnlp.read_ag_news_csv(mirror / name)) for name in ("train.csv", "test.csv")}
    monkeypatch.setattr(ag_news, "DATA_DIR", tmp_path / "data")
    monkeypatch.setenv("AG_NEWS_MIRROR", str(mirror))
    torchnlp.provision()
    out = capsys.readouterr().out
    assert "unverified copy" in out and f"{rows['train.csv']:,} train / {rows['test.csv']:,} test rows" in out
    assert "warning: " in out and "match neither" in out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@covers("two-nodes")
def test_two_nodes_on_loopback_agree_and_one_writes_the_checkpoint(tiny_model, tmp_path):
    out, checkpoint_dir, port = tmp_path / "out", tmp_path / "ckpt", free_port()
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo's traffic stays on loopback
    launchers = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
         "--node_rank", str(node), "--master_addr", "127.0.0.1", "--master_port", str(port),
         str(ROOT / "tests" / "ddp_probe.py"), str(out), "--",
         "--model", str(tiny_model), "--train-limit", "32", "--epochs", "1", "--batch-size", "4", "--lr", "1e-3",
         "--max-length", "32", "--save-every", "2", "--no-eval", "--checkpoint-dir", str(checkpoint_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT) for node in (0, 1)]
    outputs = []
    try:
        for launcher in launchers:
            outputs.append(launcher.communicate(timeout=300)[0])
    finally:
        for launcher in launchers:
            launcher.kill()
            launcher.wait()
    assert [launcher.returncode for launcher in launchers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    rank0, rank1 = (json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1))
    # Each node trained on its own half of every batch, and the averaged gradients left both with the same weights.
    assert len(rank0["seen"]) == len(rank1["seen"]) == 16
    assert not {tuple(x) for x in rank0["seen"]} & {tuple(x) for x in rank1["seen"]}
    assert rank0["weights"] == rank1["weights"]
    # The checkpoints were written once, by rank 0 (node 0): steps 2 and 4, the two newest kept.
    assert rank0["saved"] == ["step-0000002", "step-0000004"] and rank1["saved"] == []
    assert [p.name for p in checkpoints.step_folders(checkpoint_dir)] == ["step-0000004", "step-0000002"]
    assert sorted(p.name for p in checkpoint_dir.iterdir() if p.name.startswith(".")) == []
    checkpoints.verify_checkpoint(checkpoint_dir / "step-0000004")
    state = checkpoints.load_state(checkpoint_dir / "step-0000004")
    assert state["world_size"] == 2 and state["step"] == state["total_steps"] == 4


@covers("make-test-laptop")
def test_make_test_without_browser_tools_skips_them_in_one_line_and_ci_fails(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with the shell's tools but no chromium, npm or apt-get
    bin_dir.mkdir()
    for tool in ("sh", "id", "sed"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir)}
    result = subprocess.run(["sh", str(ROOT / "tools" / "browser_tools.sh"), "for-test"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1 and result.stdout.startswith(
        "make test: skipping the browser tests (no chromium) and the slide decks (no npm), which cannot be installed "
        "here (there is no apt-get); to include them: sudo apt-get install chromium npm")
    result = subprocess.run(["sh", str(ROOT / "tools" / "browser_tools.sh"), "for-test"], env={**env, "CI": "true"},
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "CI must run the browser tests" in result.stderr
    # The browser tests skip on a laptop, and fail under CI, where chromium is missing.
    import test_slides_browser

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shutil, "which", lambda name: None)
        patch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
            test_slides_browser.chromium()
        patch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
            test_slides_browser.chromium()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ttest: provision lint" not in makefile and "test: provision lint" in makefile
    assert "@sh tools/browser_tools.sh for-test" in makefile


@covers("lint")
def test_the_linter_covers_the_notebooks_and_they_pass(tmp_path):
    ruff = [sys.executable, "-m", "ruff"]
    files = subprocess.run([*ruff, "check", "--show-files", "."], cwd=ROOT, capture_output=True, text=True).stdout
    for edition in ("notebooks", "notebooks/de"):
        assert str(ROOT / edition / "04_padding_collation.ipynb") in files.splitlines()
    result = subprocess.run([*ruff, "check", "--output-format", "concise", "notebooks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    # A notebook with a long line and an unused import fails, with the project's settings.
    bad = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "outputs": [], "execution_count": None,
                      "source": ["import csv\n", "x = '" + "a" * 120 + "'\n"]}],
           "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "bad.ipynb").write_text(json.dumps(bad))
    result = subprocess.run([*ruff, "check", "--config", str(ROOT / "pyproject.toml"), "--output-format", "concise",
                             str(tmp_path / "bad.ipynb")], capture_output=True, text=True)
    assert result.returncode == 1 and "F401" in result.stdout and "E501" in result.stdout
    assert "lint:" in (ROOT / "Makefile").read_text() and "$(PY) -m ruff check ." in (ROOT / "Makefile").read_text()


if __name__ == "__main__":
    print(readme_table())
