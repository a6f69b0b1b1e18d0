"""Slide structure of the committed notebooks (tools/slides.py check), and what `annotate` may change."""
import copy
import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("slides", ROOT / "tools" / "slides.py")
slides = importlib.util.module_from_spec(spec)
spec.loader.exec_module(slides)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS + sorted((ROOT / "notebooks" / "de").glob("*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_slide_structure(path):  # the German edition too: its prose is longer, on the same slides
    assert slides.check(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_annotate_changes_only_slide_metadata_and_is_idempotent(path, tmp_path):
    before = nbformat.read(path, as_version=4)
    before.cells = [cell for cell in before.cells if not cell.get("id", "").startswith("sl-")]
    for cell in before.cells:  # as a newly added cell would arrive: no slide type, other metadata kept
        cell.metadata.pop("slideshow", None)
    target = tmp_path / path.name
    nbformat.write(before, target)
    slides.annotate(target)
    after = nbformat.read(target, as_version=4)
    assert slides.annotate(target) == 0  # a second run changes nothing
    kept = [cell for cell in after.cells if not cell.get("id", "").startswith("sl-")]
    assert [c.get("id") for c in kept] == [c.get("id") for c in before.cells]
    for old, new in zip(before.cells, kept):
        assert new.source == old.source and new.get("outputs") == old.get("outputs")
        metadata = copy.deepcopy(new.metadata)
        assert metadata.pop("slideshow")["slide_type"] in slides.SLIDE_TYPES
        assert metadata == old.metadata  # tags and every other key as they were


def test_new_cells_get_structure(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# 07 · Quiz"),
                      nbformat.v4.new_code_cell("import torch"),
                      nbformat.v4.new_markdown_cell("**Question 1.** What does the mask do?"),
                      nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["nbval-ignore-output"]}),
                      nbformat.v4.new_markdown_cell("**Question 2.** Why scale by the root of d_k?")]
    path = tmp_path / "07_quiz.ipynb"
    nbformat.write(notebook, path)
    slides.annotate(path)
    annotated = nbformat.read(path, as_version=4)
    assert [slides.slide_type(c) for c in annotated.cells] == ["slide", "skip", "slide", "-", "slide"]
    assert annotated.cells[3].metadata["tags"] == ["nbval-ignore-output"]
    assert slides.check(path) == []


def test_offline_check_finds_remote_urls():
    page = ('<script src="https://cdn.example/require.js"></script><link rel="stylesheet" href="//x/y.css">'
            '<style>@import url(https://fonts.example/css);</style><a href="https://example.org">a link</a>')
    assert len(slides.remote_urls(page)) == 3


def test_annotate_hides_speaker_notes_from_learners(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# 09 · Notes"),
                      nbformat.v4.new_markdown_cell("Ask the room first.", id="sl-09-ask"),
                      nbformat.v4.new_markdown_cell("## Next"), nbformat.v4.new_code_cell("x = 1")]
    notebook.cells[1].metadata["tags"] = ["keep-me"]
    path = tmp_path / "09_notes.ipynb"
    nbformat.write(notebook, path)
    visible = copy.deepcopy(notebook)
    visible.cells[1].metadata["slideshow"] = {"slide_type": "notes"}
    nbformat.write(visible, tmp_path / "visible.ipynb")
    assert any("visible to learners" in p for p in slides.check(tmp_path / "visible.ipynb"))
    slides.annotate(path)
    note = nbformat.read(path, as_version=4).cells[1]
    assert note.metadata["jupyter"]["source_hidden"] is True
    assert note.metadata["tags"] == ["keep-me", slides.NOTE_TAG]
    assert slides.annotate(path) == 0 and slides.check(path) == []
