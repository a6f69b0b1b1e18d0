# ruff: noqa: E501
"""The cases of the course's robustness tables (tests/test_robustness*.py): one row per case, rendered into
README's "What happens when ..." table. Regenerate that table with ``python tests/test_robustness.py``.
"""

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


if __name__ == "__main__":
    print(readme_table())
