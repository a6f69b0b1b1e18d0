"""Fine-tuning checkpoints: the course's mark on a checkpoint folder, the lock that keeps one writer, saving a
checkpoint atomically with its checksums, verifying and finding the newest sound one, what identifies a run
(so that a resume matches it), and loading a fine-tuned model back."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from course.bert import BERT_DIR, BERT_SHA256
from course.files import ROOT, DataError, RecordError, file_digest, fsync, pid_alive, verify_record, write_record
from course.heads import classifier_class
from course.i18n import tr

# COURSE_CHECKPOINT_DIR points the notebooks, finetune.py and notebook 02's results at another folder
# (tests/test_scale.py: a temporary one, so that a run on other data never meets the course's checkpoints).
CHECKPOINT_DIR = Path(os.environ.get("COURSE_CHECKPOINT_DIR") or ROOT / "checkpoints")


class CheckpointError(DataError):
    """A fine-tuning checkpoint is damaged, in use, or its folder is not the course's; the message says what to do."""


class CheckpointMismatch(CheckpointError):
    """A checkpoint was written by a run with other settings, data or model than the one asked to resume it."""


#: The course's mark on a checkpoint folder: only folders holding it are ever written into or cleaned up.
CHECKPOINT_MARKER = "course-checkpoint.json"
#: Each saved checkpoint (a ``step-NNNNNNN`` folder) records the sha256 of every file in it here.
CHECKSUMS = "checksums.json"


def step_folders(checkpoint_dir):
    """The saved checkpoints in ``checkpoint_dir``, newest first."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return []
    steps = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit()]
    return sorted(steps, key=lambda p: int(p.name[5:]), reverse=True)


def _probe_writable(folder, what):
    try:
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        raise CheckpointError(f"{what}: {folder} is not writable ({error.strerror or error}). Choose a folder you "
                              "can write to; nothing was trained.") from None


def check_writable_folder(folder, what):
    """``folder`` exists as a writable folder, or can be created: else ``CheckpointError`` (nothing changes)."""
    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise CheckpointError(f"{what}: {folder} is a file, not a folder (it was left untouched). Name a folder.")
        _probe_writable(folder, what)
        return
    ancestor = folder.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CheckpointError(f"{what}: {folder} cannot be created, {ancestor} is a file. Name another folder.")
    _probe_writable(ancestor, f"{what}: {folder} cannot be created")


def check_checkpoint_dir(checkpoint_dir):
    """Refuse, before anything trains, a checkpoint location that would cost the user a file or a run: a file,
    a non-empty folder the course did not create (no ``course-checkpoint.json``), or one that is not writable."""
    folder = Path(checkpoint_dir)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} is a file, not a checkpoint folder; it was left untouched. Name a new "
                              "folder for the checkpoints (or move the file away yourself).")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CHECKPOINT_MARKER).is_file():
        if (folder / "training_state.pt").exists():
            raise CheckpointError(f"{folder} holds a checkpoint written by an earlier version of the course, without "
                                  f"checksums: delete {folder} to start afresh, or name another folder.")
        raise CheckpointError(f"{folder} is not empty and is not a course checkpoint folder (it has no "
                              f"{CHECKPOINT_MARKER}); nothing in it was touched. Name a new or empty folder.")
    check_writable_folder(folder, "checkpoint folder")
    # The lock file goes beside the folder: its parent must take a new file too, or training would stop at the
    # lock after the model and data had loaded.
    lock = lock_path(folder)
    if lock.exists() and not lock.is_file():
        raise CheckpointError(f"{lock} (where the lock of {folder} goes) is not a file; move it away or name "
                              "another folder.")
    try:
        if lock.parent.is_dir():  # else it is created with the folder, whose nearest ancestor was probed above
            _probe_writable(lock.parent, "the lock's folder")
    except CheckpointError:
        raise CheckpointError(f"{lock.parent} is not writable, so the lock file {lock} cannot be created beside "
                              f"{folder}: choose a checkpoint folder whose parent you can write to; nothing was "
                              "trained.") from None


def lock_path(checkpoint_dir):
    """``<folder>.lock`` beside the folder, named after its resolved path: two writers that reach one folder by
    different names (a symlink, ``..``) meet at the same lock."""
    folder = Path(checkpoint_dir).expanduser().resolve()
    return folder.with_name(folder.name + ".lock")


class CheckpointLock:
    """A lock file beside the checkpoint folder (``<folder>.lock``, of the resolved path) holding the writer's
    pid and host.

    A second writer is refused with a message naming the first; a lock whose process is gone (same host, pid
    not running) is taken over.
    """

    def __init__(self, checkpoint_dir):
        self.checkpoint_dir = Path(checkpoint_dir)
        self.path = lock_path(checkpoint_dir)
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S"), "folder": str(self.checkpoint_dir)}

    def _read(self):
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
            return owner if isinstance(owner.get("pid"), int) and isinstance(owner.get("host"), str) else None
        except (OSError, ValueError, AttributeError):
            return None

    def acquire(self, log=print):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointError(f"the lock {self.path} cannot be created ({error.strerror or error}): choose a "
                                  "checkpoint folder whose parent you can write to.") from None
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except OSError as error:
                if not isinstance(error, FileExistsError):
                    raise CheckpointError(f"the lock {self.path} cannot be created ({error.strerror or error}): "
                                          "choose a checkpoint folder whose parent you can write to.") from None
                other = self._read()
                if other is None:
                    raise CheckpointError(
                        f"{self.checkpoint_dir} is locked by {self.path}, which names no process (it may be being "
                        f"written right now). If no training is running into {self.checkpoint_dir}, delete "
                        f"{self.path}.") from None
                if other["host"] == self.owner["host"] and (other["pid"] == self.owner["pid"]
                                                            or not pid_alive(other["pid"])):
                    log(f"note: taking over the lock {self.path} of process {other['pid']}, which is not running")
                    self.path.unlink(missing_ok=True)
                    continue
                raise CheckpointError(
                    f"{self.checkpoint_dir} is in use by process {other['pid']} on {other['host']} (since "
                    f"{other.get('since', '?')}), which is training into it; two writers would spoil each other's "
                    f"checkpoints. Wait for it to finish or stop it, or name another checkpoint folder; if that "
                    f"process no longer runs, delete {self.path}.") from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self.owner) + "\n")
            return self
        raise CheckpointError(f"could not take the lock {self.path}: another process keeps taking it; try again.")

    def release(self):
        if (self._read() or {}).get("pid") == self.owner["pid"]:
            self.path.unlink(missing_ok=True)


def verify_checkpoint(folder):
    """Check one saved checkpoint against its ``checksums.json``; return the record or raise ``CheckpointError``
    naming the folder and the file at fault (the caller adds the fix)."""
    folder = Path(folder)
    try:
        return verify_record(folder, CHECKSUMS)
    except RecordError as problem:
        if problem.kind == "absent":
            message = f"{folder} is incomplete: it has no {CHECKSUMS} (it was cut off while written)"
        elif problem.kind == "mismatch":
            message = (f"{problem.path} is damaged: sha256 {problem.actual[:16]}..., recorded "
                       f"{problem.expected[:16]}... ({problem.path.stat().st_size:,} bytes, "
                       f"{problem.recorded_bytes!r} recorded)")
        else:  # the record does not read, or a file it lists is missing or unreadable
            message = f"{problem.path} is unreadable ({problem.detail})"
        raise CheckpointError(message) from None


def _mark_folder(checkpoint_dir):
    marker = checkpoint_dir / CHECKPOINT_MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"written_by": "torchnlp.fine_tune (Attention & Transformers course)",
                                      "format": 2}, indent=2) + "\n")


def _save_model(model, folder):
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # one bar per save would bury the training bar
    try:
        model.save_pretrained(folder)  # safetensors
    finally:
        if bars:
            transformers_logging.enable_progress_bar()


def _check_read_back(staging):
    import zipfile

    try:  # torch.save writes a zip with a CRC per record: read back, it proves the bytes on disk are whole
        with zipfile.ZipFile(staging / "training_state.pt") as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as error:
        bad = str(error)
    if bad:
        raise CheckpointError(f"{staging / 'training_state.pt'} did not read back whole ({bad}); the disk may be "
                              "full or failing. The previous checkpoint was kept.")


def _remove_stale_staging(checkpoint_dir):
    """Remove the ``.staging-<pid>`` folders of processes that no longer run (a save killed half-way leaves one,
    up to the size of a checkpoint); a running process's is left alone."""
    for staging in checkpoint_dir.glob(".staging-*"):
        pid = staging.name.removeprefix(".staging-")
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def save_checkpoint(checkpoint_dir, model, tokenizer, optimizer, scheduler, state, keep=2):
    """Write weights and tokenizer (``save_pretrained``, safetensors) and the training state as one checkpoint,
    ``checkpoint_dir/step-NNNNNNN``.

    Written into a staging folder unique to this process, with the sha256 of every file recorded and checked,
    then renamed into place; only then are older checkpoints removed, keeping the ``keep`` newest, so a
    damaged newest checkpoint always has a complete one before it. Returns the new checkpoint's folder.
    """
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    _mark_folder(checkpoint_dir)
    _remove_stale_staging(checkpoint_dir)
    staging = checkpoint_dir / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    _save_model(model, staging)
    if tokenizer is not None:
        tokenizer.save_pretrained(staging)
    torch.save({**state, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               staging / "training_state.pt")
    names = [str(path.relative_to(staging)) for path in sorted(p for p in staging.rglob("*") if p.is_file())]
    for name in names:
        fsync(staging / name)
    fsync(write_record(staging, names, CHECKSUMS, step=state["step"]))
    _check_read_back(staging)
    final = checkpoint_dir / f"step-{state['step']:07d}"
    if final.exists():
        shutil.rmtree(final)  # a damaged checkpoint of the same step, which this run replaced
    os.rename(staging, final)
    for old in step_folders(checkpoint_dir)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(folder):
    """The training state (``training_state.pt``) of a verified checkpoint folder."""
    try:
        return torch.load(Path(folder) / "training_state.pt", weights_only=True)
    except Exception as error:  # verified, so only a change since, or a foreign file, gets here
        raise CheckpointError(f"{Path(folder) / 'training_state.pt'} is unreadable ({type(error).__name__})") \
            from None


def latest_checkpoint(checkpoint_dir, log=None):
    """The newest checkpoint in ``checkpoint_dir`` that passes its checksums, or None if there is none.

    A damaged newer one is reported through ``log`` and skipped (training resumes from the previous one); if
    ``log`` is None it raises ``CheckpointError`` instead. If every one is damaged, ``CheckpointError`` saying
    that only a fresh start helps (a new run would meet the same damage).
    """
    checkpoint_dir = Path(checkpoint_dir)
    folders = step_folders(checkpoint_dir)
    damaged = []  # (folder, error), newest first
    for folder in folders:
        try:
            verify_checkpoint(folder)
        except CheckpointError as error:
            damaged.append((folder, error))
            continue
        if damaged and log is None:
            raise CheckpointError(
                f"{damaged[0][1]}. The newest checkpoint in {checkpoint_dir} is damaged: run the training again "
                f"with the same settings (notebook 05 or finetune.py), which resumes from the previous checkpoint "
                f"({folder.name}) and rewrites it; or delete {checkpoint_dir} to start afresh.")
        for bad, error in damaged:
            log(f"warning: {error}; skipped {bad.name}, resuming from the previous checkpoint, {folder.name}, "
                "instead (at most one save interval of training is repeated)")
        return folder
    if damaged:
        names = ", ".join(folder.name for folder, _ in damaged)
        raise CheckpointError(
            f"{damaged[0][1]}. Every checkpoint in {checkpoint_dir} is damaged ({names}), so there is nothing to "
            f"resume from: delete {checkpoint_dir} (a course checkpoint folder) and train again, or name another "
            "folder.")
    return None


def run_identity(model, train_features):
    """What defines a run besides its ``TrainConfig``: the model's weights, its head, and the training data
    (a fingerprint of the tokenized features, so the data variant, a train limit, the max length and the
    tokenizer are all in it). A resume must match all of it."""
    name = str(getattr(model.config, "_name_or_path", "") or "")
    weights = Path(name).expanduser() / "model.safetensors" if name else None
    if weights is not None and weights.is_file():
        known = weights.resolve() == (BERT_DIR / "model.safetensors").resolve()
        model_id = "sha256 " + (BERT_SHA256["model.safetensors"] if known else file_digest(weights))
    else:
        model_id = name or "built in memory"
    digest = hashlib.sha256()
    for feature in train_features:
        digest.update(repr((list(feature["input_ids"]), feature.get("labels"))).encode())
    return {"model": model_id, "head": f"{type(model).__name__}, {model.config.num_labels} labels",
            "train_data": f"{len(train_features):,} texts, sha256 {digest.hexdigest()}"}


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Settings a resumed run may change: when checkpoints are written does not change what is trained.
FREE_ON_RESUME = {"save_every"}


def settings_differences(state, config, world, run):
    saved = {**state.get("config", {}), "processes": state.get("world_size"), **state.get("run", {})}
    now = {**asdict(config), "processes": world, **run}
    return [f"{key} {_short(saved.get(key))} in the checkpoint, {_short(now.get(key))} now"
            for key in sorted(set(saved) | set(now)) if saved.get(key) != now.get(key) and key not in FREE_ON_RESUME]


def load_fine_tuned(checkpoint_dir):
    """The model, tokenizer and training state of the newest checkpoint ``fine_tune`` saved in ``checkpoint_dir``.

    Every file is checked against its recorded sha256 first; a damaged or unreadable one raises
    ``CheckpointError`` naming the folder, the file and the fix.
    """
    checkpoint_dir = Path(checkpoint_dir)
    if (checkpoint_dir / CHECKSUMS).is_file():  # one saved checkpoint (a step-NNNNNNN folder) rather than a run's
        try:
            verify_checkpoint(checkpoint_dir)
        except CheckpointError as error:
            raise CheckpointError(f"{error}. Load the folder that holds it, {checkpoint_dir.parent}, for its newest "
                                  "sound checkpoint.") from None
        return _load_step_folder(checkpoint_dir, checkpoint_dir.parent)
    if checkpoint_dir.is_dir() and (checkpoint_dir / "training_state.pt").exists() \
            and not (checkpoint_dir / CHECKPOINT_MARKER).exists():
        raise CheckpointError(f"{checkpoint_dir} holds a checkpoint written by an earlier version of the course, "
                              "without checksums: run notebooks/05_fine_tuning.ipynb again (after deleting "
                              f"{checkpoint_dir}), or finetune.py with --checkpoint-dir.")
    folder = latest_checkpoint(checkpoint_dir)
    if folder is None:
        raise DataError(f"no fine-tuned checkpoint in {checkpoint_dir}: run notebooks/05_fine_tuning.ipynb "
                        "first (with the same COURSE_QUICK setting), or finetune.py with --checkpoint-dir.")
    return _load_step_folder(folder, checkpoint_dir)


def _load_step_folder(folder, checkpoint_dir):
    """Model, tokenizer and state of one verified checkpoint ``folder`` of the run folder ``checkpoint_dir``."""
    from transformers import AutoTokenizer

    state = load_state(folder)
    if state["step"] < state["total_steps"]:
        print(tr("note: training stopped at step {step} of {total}; run notebook 05 again to finish it",
                 step=state["step"], total=state["total_steps"]))
    try:
        model = classifier_class(folder).from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as error:  # verified files that still do not load: written by another version, say
        raise CheckpointError(f"{folder} passed its checksums but does not load ({type(error).__name__}: {error}); "
                              f"delete {checkpoint_dir} and train again.") from None
    return model, tokenizer, state


