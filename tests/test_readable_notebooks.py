"""What a learner reads in the stored notebooks, both editions, wherever they open them (GitHub, nbviewer, a
static export, JupyterLab without a kernel):

* no output carries terminal escape codes (ANSI colours print as "[1m" outside a terminal);
* no progress bar is stored as its first frame ("  0%|          | 0/600": the run looks as if it never
  started); the course's progress helper (course/progress.py) leaves a plain "600/600 steps in 40 s";
* no markdown cell a learner reads is over MAX_WORDS words (speaker notes, hidden from learners, are not).

COURSE_CHECK_NOTEBOOKS (a glob, e.g. "/tmp/nb*.ipynb") checks other notebooks' outputs instead, such as
copies just executed in quick mode, before the stored ones are re-run.
"""
import glob
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STORED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "de").glob("*.ipynb"))
CHECKED = [Path(p) for p in sorted(glob.glob(os.environ["COURSE_CHECK_NOTEBOOKS"]))] if os.environ.get(
    "COURSE_CHECK_NOTEBOOKS") else STORED
MAX_WORDS = 150
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FIRST_FRAME = re.compile(r"(^|[\s:|\r])\s*0%\|")


def label(path):
    return f"{path.parent.name}/{path.stem}"


def output_texts(cell):
    """Every text an output of the cell stores: streams, plain and HTML representations, tracebacks."""
    for output in cell.get("outputs", []):
        if "text" in output:
            yield "".join(output["text"])
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/"):
                yield "".join(value)
        yield from output.get("traceback", [])


def problems_in_outputs(notebook):
    found = []
    for cell in notebook["cells"]:
        for text in output_texts(cell):
            if ANSI.search(text):
                found.append(f"cell {cell.get('id')}: ANSI escape codes: {ANSI.sub('<ESC>', text)[:120]!r}")
            for line in re.split(r"[\r\n]", text):
                if FIRST_FRAME.search(line):
                    found.append(f"cell {cell.get('id')}: a progress bar stored as its first frame: {line[:80]!r}")
    return found


def test_the_checks_find_what_they_look_for():
    bad = {"cells": [{"id": "a", "outputs": [{"output_type": "stream", "text": "\x1b[1mLOAD REPORT\x1b[0m"}]},
                     {"id": "b", "outputs": [{"output_type": "display_data",
                                              "data": {"text/plain": "attention:   0%|          | 0/600"}}]}]}
    assert len(problems_in_outputs(bad)) == 2
    good = {"cells": [{"id": "c", "outputs": [{"output_type": "stream", "text": "attention: 600/600 steps in 40 s\n"
                                                                                "accuracy 0.90 (10%|20%)"}]}]}
    assert problems_in_outputs(good) == []


@pytest.mark.parametrize("path", CHECKED, ids=label)
def test_outputs_read_anywhere(path):
    problems = problems_in_outputs(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, f"{label(path)}:\n" + "\n".join(problems)


def words(text):
    return len(text.split())


@pytest.mark.parametrize("path", STORED, ids=label)
def test_markdown_cells_are_short(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    long = [f"{cell.get('id')}: {words(''.join(cell['source']))} words" for cell in notebook["cells"]
            if cell["cell_type"] == "markdown" and words("".join(cell["source"])) > MAX_WORDS
            and cell.get("metadata", {}).get("slideshow", {}).get("slide_type") != "notes"]
    assert not long, (f"{label(path)}: markdown cells over {MAX_WORDS} words (split them, one topic per cell; "
                      f"German in i18n/de, then tools/translate.py build): " + "; ".join(long))
