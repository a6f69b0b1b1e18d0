# ruff: noqa: E501, F811  (F811: the fixtures imported from test_robustness are used as test arguments)
"""The third robustness pass (issue 30): nothing lost, no traceback, no wrong advice. The cases and the README
table they render are in robustness_cases.py; the helpers and fixtures are test_robustness.py's."""
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
from pathlib import Path

import pytest
import torch
from robustness_cases import covers
from test_robustness import (  # noqa: F401  (fixtures, used as test arguments)
    CONFIG,
    features,
    finished,
    make_mirror,
    run_script,
    same_weights,
    script_args,
    source,
    tiny_classifier,
    train,
    train_interrupted_at,
    truncate,
)

import finetune
import torchnlp
from course import ag_news, checkpoints
from torchnlp import CheckpointError, DataError

ROOT = Path(__file__).resolve().parents[1]


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
    assert not same_weights(whole, model)


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
    train_interrupted_at(3, features, tokenizer, tmp_path / "ckpt")
    other = torchnlp.TrainConfig(**{**CONFIG.__dict__, "save_every": 2})
    model, history = train(features, tokenizer, tmp_path / "ckpt", config=other)
    assert history == finished[2]
    assert same_weights(finished[1], model)


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
