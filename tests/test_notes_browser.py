"""Speaker notes out of the learner's path, where a person sees them.

A learner opens a notebook in JupyterLab (on 127.0.0.1, headless Chromium, as tests/test_explorer_browser.py
does): no sentence of a speaker note may be visible, while the notes' cells are still there (collapsed: one
source for the teacher). Notebook 04 of both editions is opened; the screenshots, scrolled to the first
collapsed note, are build/notes/04-en.png and 04-de.png. Exercise hints sit in closed ``<details>`` blocks
there too (build/notes/04-en-hint-open.png: the first one, opened). The reveal.js deck of the same notebook keeps the
notes in its speaker view (``<aside class="notes">``).
"""
import re
import time
from pathlib import Path

import nbformat
import pytest
from test_explorer_browser import lab_in_browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "notes"
NOTEBOOK = "04_padding_collation.ipynb"
EDITIONS = {"en": ROOT / "notebooks" / NOTEBOOK, "de": ROOT / "notebooks" / "de" / NOTEBOOK}


def is_note(cell):
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes"


def plain(markdown):
    """The text of markdown as a reader sees it rendered, near enough: no markup, no HTML comments."""
    return re.sub(r"[`*_#>\[\]()$|]", " ", re.sub(r"<!--.*?-->", " ", markdown, flags=re.DOTALL))


def phrases(markdown, words=4):
    """Runs of ``words`` plain words of a markdown text, as a reader would see them rendered."""
    runs = []
    for sentence in re.split(r"[.:;!?,\n\"“”„]", plain(markdown)):
        tokens = sentence.split()
        if len(tokens) >= words and all(re.fullmatch(r"[\wÄÖÜäöüß'’-]+", t) for t in tokens[:words]):
            runs.append(" ".join(tokens[:words]))
    return runs


def test_phrases_are_what_a_reader_reads():
    assert phrases("**Most say they agree.** The next cell shows they differ") == ["Most say they agree",
                                                                                  "The next cell shows"]


@pytest.mark.parametrize("edition", EDITIONS)
def test_speaker_notes_are_hidden_in_the_notebook_file(edition):
    notebook = nbformat.read(EDITIONS[edition], as_version=4)
    notes = [cell for cell in notebook.cells if is_note(cell)]
    assert notes, f"{EDITIONS[edition]} has no speaker notes to hide"
    for cell in notes:
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, cell.id
        assert "speaker-notes" in cell.metadata.get("tags", []), cell.id


def test_no_speaker_note_is_visible_in_jupyterlab():
    SHOTS.mkdir(parents=True, exist_ok=True)
    files = {f"{edition}.ipynb": path.read_bytes() for edition, path in EDITIONS.items()}
    # Render every cell (no windowing), so that innerText holds the whole notebook a learner scrolls through.
    windowing_off = {"notebook-extension/tracker": {"windowingMode": "none"}}
    with lab_in_browser(files, windowing_off) as (page, port, token):
        for edition, path in EDITIONS.items():
            check_notes_hidden(page, port, token, edition, nbformat.read(path, as_version=4))


def check_notes_hidden(page, port, token, edition, notebook):
    # a workspace of its own, reset: only this edition's notebook is open (both have as many cells)
    page.send("Page.navigate",
              url=f"http://127.0.0.1:{port}/lab/workspaces/{edition}/tree/{edition}.ipynb?reset&token={token}")
    cells = "document.querySelectorAll('.jp-Notebook .jp-Cell')"
    assert page.wait_for(f"{cells}.length === {len(notebook.cells)}", 90), "JupyterLab did not show the notebook"
    rendered = "document.querySelectorAll('.jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown').length"
    shown_markdown = sum(1 for cell in notebook.cells if cell.cell_type == "markdown" and not is_note(cell))
    assert page.wait_for(f"{rendered} >= {shown_markdown}", 60), "the markdown cells did not render"
    time.sleep(1.0)
    text = " ".join(page.evaluate("document.querySelector('.jp-Notebook').innerText").split())

    visible = [cell for cell in notebook.cells if cell.cell_type == "markdown" and not is_note(cell)]
    seen = [p for cell in visible for p in phrases(cell.source)]
    assert seen and sum(p in text for p in seen) >= 0.8 * len(seen), "the learner's prose is not on the page"
    notes = sum(is_note(cell) for cell in notebook.cells)
    collapsed = page.evaluate("document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPlaceholder').length")
    if collapsed:  # the screenshot first, so that a failure can be looked at
        page.evaluate("document.querySelector('.jp-Notebook .jp-InputPlaceholder').closest('.jp-Cell')"
                      ".scrollIntoView({block: 'center'}), true")
        time.sleep(0.5)
    page.screenshot(SHOTS / f"04-{edition}.png")
    assert (SHOTS / f"04-{edition}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert collapsed == notes, f"{edition}: {collapsed} collapsed cells on the page, {notes} speaker notes"
    # JupyterLab's placeholder of a collapsed cell shows its first line: a note opens with NOTE_MARKER
    # a note's phrase that the learner's own cells also contain ("a collate that pads") proves nothing
    shown = " ".join(" ".join(plain(cell.source).split()) for cell in notebook.cells if not is_note(cell))
    leaked = [(cell.id, p) for cell in notebook.cells if is_note(cell) for p in phrases(cell.source)
              if p in text and p not in shown]
    assert not leaked, f"{edition}: speaker-note text visible in JupyterLab: {leaked}"
    check_hints_collapsed(page, edition, notebook, text)


HINT = re.compile(r"<details><summary>(.*?)</summary>(.*?)</details>", re.DOTALL)


def check_hints_collapsed(page, edition, notebook, text):
    """An exercise's hint waits behind its summary line until the learner opens it."""
    hints = [(cell.id, m[1], m[2]) for cell in notebook.cells if cell.cell_type == "markdown"
             for m in HINT.finditer(cell.source)]
    assert hints, f"{edition}: notebook 04 has no hints to check"
    outside = " ".join(" ".join(plain(HINT.sub(" ", cell.source)).split()) for cell in notebook.cells)
    text = " ".join(plain(text).split())  # as phrases() reads markdown: `pad_token_id` is "pad token id"
    shown = [(cell_id, p) for cell_id, _, body in hints for p in phrases(body) if p in text and p not in outside]
    assert not shown, f"{edition}: hint text visible before the hint is opened: {shown}"
    summaries = "document.querySelectorAll('.jp-Notebook .jp-RenderedMarkdown details > summary')"
    assert page.evaluate(f"{summaries}.length") == len(hints), f"{edition}: not every hint is a closed <details>"
    page.evaluate(f"{summaries}[0].scrollIntoView({{block: 'center'}}), {summaries}[0].click(), true")
    time.sleep(0.5)
    page.screenshot(SHOTS / f"04-{edition}-hint-open.png")
    opened = " ".join(plain(page.evaluate("document.querySelector('.jp-Notebook').innerText")).split())
    first = [p for p in phrases(hints[0][2]) if p not in outside]
    assert first and all(p in opened for p in first), f"{edition}: the first hint does not open: {first}"


@pytest.mark.parametrize("edition", EDITIONS)
def test_the_deck_keeps_the_notes_for_the_speaker_view(edition):
    from nbconvert import SlidesExporter

    notebook = nbformat.read(EDITIONS[edition], as_version=4)
    page, _ = SlidesExporter().from_notebook_node(notebook)
    asides = " ".join(re.sub(r"<[^>]+>", " ", aside) for aside in
                      re.findall(r'<aside class="notes">(.*?)</aside>', page, flags=re.DOTALL))
    asides = " ".join(asides.split())
    notes = [cell for cell in notebook.cells if is_note(cell)]
    assert notes
    for cell in notes:
        assert any(p in asides for p in phrases(cell.source)), f"{cell.id} is missing from the speaker notes"
