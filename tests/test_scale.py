"""The course at the official release's scale: 120,000 training and 7,600 test rows, header-less, no manifest.

Every stored output comes from the offline variant (5,200 / 1,600 rows), so a size assumption in a notebook or a
script would only show with the data a learner with a network downloads. This test generates a mirror of the
official shape (tools/make_official_mirror.py, from the offline variant), provisions it into a temporary data
folder, runs notebooks 00, 05 and 06 in quick mode against it (executed copies, not compared with the stored
outputs) and finetune.py, and checks the sizes they report. data/, checkpoints/ and the notebooks stay untouched:
AG_NEWS_DIR and COURSE_CHECKPOINT_DIR point the course at temporary folders.

    COURSE_QUICK=1 .venv/bin/python -m pytest tests/test_scale.py      # about 4 minutes on 2 cores
    .venv/bin/python -m pytest -m "not scale" tests                    # everything else
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from make_official_mirror import make_official_mirror  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["00_ag_news.ipynb", "05_fine_tuning.ipynb", "06a_evaluation.ipynb"]

pytestmark = pytest.mark.scale


def fingerprint(folder):
    """Every file under ``folder`` with its size and modification time (an absent folder: empty)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): fingerprint_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def fingerprint_file(path):
    return path.stat().st_size, path.stat().st_mtime_ns


def outputs(notebook, cell_id):
    cell = next(c for c in notebook.cells if c.get("id") == cell_id)
    return "".join(o.get("text", "") for o in cell.outputs)


@pytest.fixture(scope="module")
def official_mirror(tmp_path_factory):
    source = os.environ.get("AG_NEWS_MIRROR")
    if not source:
        pytest.skip("AG_NEWS_MIRROR (the offline variant) is not set")
    return make_official_mirror(tmp_path_factory.mktemp("official"), source)


def test_the_course_runs_on_the_official_release(official_mirror, tmp_path):
    env = {**os.environ, "AG_NEWS_MIRROR": str(official_mirror), "AG_NEWS_DIR": str(tmp_path / "data"),
           "COURSE_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "COURSE_QUICK": "1"}
    env.pop("TRAIN_SAMPLES", None)  # the default policy
    untouched = {folder: fingerprint(ROOT / folder) for folder in ("data", "checkpoints")}
    untouched.update({name: fingerprint_file(ROOT / "notebooks" / name) for name in NOTEBOOKS})

    def run(*command, timeout):
        result = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    printed = run("-m", "torchnlp", "provision", timeout=120)
    assert "unverified copy" in printed and "120,000 train / 7,600 test rows" in printed, printed

    run("tools/run_notebooks.py", "--output-dir", str(tmp_path / "executed"),
        *(str(ROOT / "notebooks" / name) for name in NOTEBOOKS), timeout=600)
    executed = {name[:2]: nbformat.read(tmp_path / "executed" / name, as_version=4) for name in NOTEBOOKS}
    assert "120,000 train / 7,600 test rows" in outputs(executed["00"], "c03")
    # 05 trains on the CPU's sample: 6,000 of the 120,000 rows, 10% of them held out for validation
    assert "5,400 training texts, 600 held out for validation" in outputs(executed["05"], "c04")
    assert re.search(r"validation accuracy: [0-9.]+ on 600 texts", outputs(executed["05"], "hd-06"))
    # 06a evaluates the whole test split
    assert re.search(r"test accuracy: [0-9.]+ \(\d+ of 7,?600 texts\)", outputs(executed["06"], "c06"))

    printed = run("finetune.py", "--epochs", "1", "--train-samples", "160", "--max-length", "32",
                  "--checkpoint-dir", str(tmp_path / "finetune"), timeout=300)
    assert "validation accuracy:" in printed and "on 16 rows" in printed, printed
    assert "test accuracy:" in printed and "on 7,600 rows (unverified copy)" in printed, printed
    now = {folder: fingerprint(ROOT / folder) for folder in ("data", "checkpoints")}
    now.update({name: fingerprint_file(ROOT / "notebooks" / name) for name in NOTEBOOKS})
    assert now == untouched
