"""Slide structure for the course notebooks, its check, and the static reveal.js decks.

    python tools/slides.py annotate [notebooks/*.ipynb]   # set metadata.slideshow.slide_type on every cell
    python tools/slides.py check [notebooks/*.ipynb]      # the structural test (tests/test_slides.py runs it)
    python tools/slides.py build --vendor build/npm/node_modules --output build/slides [notebooks/*.ipynb]

`annotate` derives every cell's slide type from rules (headings start slides, set-up and self-checks are
skipped, a slide that would grow taller than SLIDE_LINES is continued on a subslide), a small override table
keyed by cell id. The speaker notes are markdown cells of the notebooks themselves (ids "sl-...", or any cell
given the slide type "notes" in JupyterLab), translated with the rest of the notebook; `annotate` keeps them
"notes" and hides them from learners (`jupyter.source_hidden`, collapsed in JupyterLab, and the tag
"speaker-notes"). It changes nothing but `metadata.slideshow` and, on notes, those two keys, so it can be
rerun at any time: cells added later by others get a slide type from the same rules, and a second run
changes nothing.

`build` exports one reveal.js deck per notebook from the stored outputs, for reading from the file system:
reveal.js, require.js, jQuery and MathJax come from a local copy (`make slides` installs it with npm) and
are linked by relative paths; the mermaid import and the widget manager, which nbconvert loads from CDNs,
are left out, and widget outputs (tqdm bars) are replaced by the text of their final state.
"""
import argparse
import base64
import html
import math
import re
import shutil
import struct
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# The tallest slide, in lines of 25 deck pixels. nbconvert's reveal decks are 960 x 700 pixels, which
# reveal.js scales to the screen: x 1.54 on a 1080p projector, so code (19 px in the deck) is 29 pixels high
# there, readable from the back of a room. What is taller than 700 deck pixels is cut off (the static decks
# scroll it). cell_height's estimate was calibrated against the heights Chromium lays the slides out at
# (tests/test_slides_browser.py measures them): it is off by at most 2.3 lines (58 px) on the committed
# notebooks, so `annotate` fills a slide with at most 25 lines (625 px) of cells, which leaves room for that
# error; `check` refuses a slide over 28 lines (700 px) unless it is one cell listed in TALL_CELLS.
PACK_LINES = 25
SLIDE_LINES = 28
LINE_PX = 25
TEXT_CHARS = 90    # characters of prose per line on a 900-pixel-wide slide at 20 px
OUTPUT_CHARS = 78  # characters of output per line (outputs wrap, code does not)
PROSE_LINE = 0.85  # a line of prose is about 21 pixels high
IMAGE_WIDTH = 900  # wider images are scaled down to this width (the decks hide the In/Out prompts)
CELL_PADDING = 1.0  # the margins around a cell and around each of its outputs

SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
NOTE_TAG = "speaker-notes"  # a speaker note's tag: hidden in the learner's view (see hide_note)

# Cells that are not what their text suggests, by notebook and cell id: {cell id: (slide type, why)}.
OVERRIDES = {
    "00_ag_news": {
        "vocab-00-after": ("subslide", "after exercise 0.3, on a slide of its own: the German exercise is taller"),
    },
    "01_attention": {
        "xa-01-model": ("skip", "the look-ahead Transformer's code (54 lines): slides show its training, heatmap"),
    },
    "02b_transformer_classifier": {
        "c20": ("skip", "the classifiers' training loop: plumbing learners know; the slides show its results"),
    },
    "05_fine_tuning": {
        "ex-05-xp-helpers": ("skip", "the experiments' measuring helpers (30 lines): the slides show the checks"),
    },
    # The quiz: each question on a slide of its own with its answer cell under it, so the room votes on one
    # question at a time (the height rule alone would put some answers on the next slide).
    "07_quiz": {
        **{f"ex-07-q{n:02d}": ("subslide", "a quiz question starts its own slide") for n in range(1, 16)},
        **{f"ex-07-a{n:02d}": ("-", "a quiz answer stays with its question") for n in range(1, 16)},
    },
}

# Cells whose code alone is taller than a slide and that the deck still shows, on a slide of their own
# (the static decks scroll such a slide; live, the instructor scrolls the cell). Splitting them would
# change the notebooks' code, which this tool never does.
TALL_CELLS = {
    "00_ag_news": {"c05": "class counts: the plotting code and the bar chart together"},
    "01_attention": {
        "c13": "the decoder, with and without attention: the heart of the lesson",
        "c15": "the training loop and its progress bars",
        "rv-01-diagram-code": "the encoder-decoder diagram: one figure",
        "xa-01-train": "the cross-attention Transformer's training loop and its one-line result",
        "xa-01-heatmaps-code": "the two attention heatmaps side by side: one figure",
    },
    "02a_self_attention": {
        "c15": "the GRU vs self-attention timing and its table",
        "pic-02-heads-code": "multi-head split and concatenation with their shapes: one figure",
    },
    "02b_transformer_classifier": {
        "c18": "the encoder layer and the classifier, built from our own attention",
        "c25": "the attention maps of the four heads",
        "rv-02-encoder-code": "the Transformer encoder diagram: one figure",
    },
    "03_bert_tokenization": {"rv-03-family-table": "the BERT family table: one table that should not be split"},
    "04_padding_collation": {
        "c15": "the three batchings' padding share: the code and its three-line result",
        "pic-04-heatmap-code": "one layer's attention with and without the mask: one figure",
    },
    "05_fine_tuning": {
        "c06": "the model and its load report, read together",
        "c15": "the training curves: the plotting code and its figure together",
        "hd-02": "the two heads on validation: the code that reads the benchmark and its table",
        "c20": "the torchrun commands: one code block that should not be split",
        "rv-05-head-code": "whole network against head only: one experiment, shown whole",
    },
    "06b_inside_the_model": {
        "c22": "the [CLS] attention map and its prediction",
    },
}

# --- rules --------------------------------------------------------------------------------------------

def _lines(cell):
    return cell.source.splitlines()


def _code_lines(cell):
    return [line for line in _lines(cell) if line.strip() and not line.strip().startswith("#")]


def _heading_levels(cell):
    return {len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", cell.source, re.MULTILINE)}


def _is_setup(cell, first_code):
    """Imports and configuration: the first code cell when it opens with imports, or any imports-only cell."""
    lines = _code_lines(cell)
    imports = [line.startswith(("import ", "from ")) for line in lines]
    return bool(lines) and (all(imports) or (first_code and imports[0]))


def _is_self_check(cell):
    """The notebook checking itself: no output, and at least half of its lines are asserts."""
    lines = _code_lines(cell)
    asserts = [line for line in lines if line.strip().startswith("assert") or ".assert_" in line]
    return not cell.outputs and bool(lines) and 2 * len(asserts) >= len(lines)


def _image_lines(output):
    data = base64.b64decode(output["data"]["image/png"])
    width, height = struct.unpack(">II", data[16:24])
    return height * min(1.0, IMAGE_WIDTH / width) / LINE_PX


def _wrapped(text):
    return sum(max(1, math.ceil(len(line) / OUTPUT_CHARS)) for line in text.splitlines())


def cell_height(cell):
    """The cell's height on a slide, in lines of LINE_PX pixels (an estimate, rounded up)."""
    if cell.cell_type == "markdown":
        height = 0.0
        # A hint in <details> is shown collapsed: one line, its summary
        source = re.sub(r"<details>\s*<summary>(.*?)</summary>.*?</details>", r"\1", cell.source, flags=re.S)
        for line in source.splitlines():
            if not line.strip():
                height += 0.8
            elif line.startswith("# "):
                height += 2.8 * math.ceil(len(line) / 45)  # a title is set in capitals, about 70 px high
            elif line.startswith("## "):
                height += 1.6
            elif line.startswith("### "):
                height += 1.3
            elif "$$" in line:
                height += 1.5
            else:
                height += PROSE_LINE * math.ceil(len(line) / TEXT_CHARS)
        return height + CELL_PADDING
    if cell.cell_type != "code":
        return 0.0
    height = len(_lines(cell)) + CELL_PADDING
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            height += _wrapped(output["text"])
        elif output["output_type"] == "error":
            height += len(output.get("traceback", []))
        else:
            data = output.get("data", {})
            if "image/png" in data:
                height += _image_lines(output)
            elif "application/vnd.jupyter.widget-view+json" in data:
                height += 1
            elif "text/html" in data:
                height += len(data["text/html"].splitlines())
            elif "text/plain" in data:
                height += _wrapped(data["text/plain"])
        height += CELL_PADDING
    return height


def slide_type(cell):
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def planned_types(notebook, name):
    """The slide type of every cell, in order, from the rules and the override table."""
    overrides = OVERRIDES.get(name, {})
    tall = TALL_CELLS.get(name, {})
    has_sections = any(2 in _heading_levels(c) for c in notebook.cells if c.cell_type == "markdown")
    first_code = next((c.get("id") for c in notebook.cells if c.cell_type == "code"), None)
    types, height, previous_shown = [], 0.0, None
    for index, cell in enumerate(notebook.cells):
        cell_id = cell.get("id", "")
        if cell_id.startswith("sl-") or slide_type(cell) == "notes":  # a speaker note
            types.append("notes")
            continue
        if cell_id in overrides:
            kind = overrides[cell_id][0]
        elif cell.cell_type == "markdown":
            levels = _heading_levels(cell)
            if index == 0 or 1 in levels or 2 in levels or not has_sections:
                kind = "slide"
            elif 3 in levels:
                kind = "subslide"
            elif cell_id.startswith("ex-") and not (previous_shown or {}).get("id", "").startswith("ex-"):
                kind = "subslide"  # an exercise starts on a slide of its own
            elif previous_shown is not None and previous_shown.cell_type == "code":
                kind = "fragment"  # the reading of a result appears after the result
            else:
                kind = "-"
        elif cell.cell_type == "code" and (_is_setup(cell, cell_id == first_code) or _is_self_check(cell)):
            kind = "skip"
        else:
            kind = "-"
        if kind in ("skip", "notes"):
            types.append(kind)
            continue
        own = cell_height(cell)
        if kind in ("-", "fragment") and (height + own > PACK_LINES or cell_id in tall) and height > 0:
            kind = "subslide"
        if kind in ("slide", "subslide"):
            height = 0.0
        height += own
        if cell_id in tall:
            height = PACK_LINES  # nothing else joins a tall cell's slide
        types.append(kind)
        previous_shown = cell
    return types


def hide_note(cell):
    """Keep a speaker note out of the learner's view: collapsed in JupyterLab, tagged for other viewers.

    RISE and the reveal.js decks show a cell of slide type "notes" in the speaker view only; JupyterLab shows
    every cell, so the note's source is hidden (``jupyter.source_hidden``, which JupyterLab renders as a
    collapsed cell) and tagged NOTE_TAG, which a static export can drop with nbconvert's TagRemovePreprocessor.
    Returns whether the cell changed.
    """
    metadata = cell.setdefault("metadata", {})
    changed = False
    if metadata.get("jupyter", {}).get("source_hidden") is not True:
        metadata.setdefault("jupyter", {})["source_hidden"] = True
        changed = True
    if NOTE_TAG not in metadata.get("tags", []):
        metadata["tags"] = [*metadata.get("tags", []), NOTE_TAG]
        changed = True
    return changed


def annotate(path):
    """Set the slide types of one notebook, and hide its speaker notes; return the number of cells changed."""
    notebook = nbformat.read(path, as_version=4)
    name = Path(path).stem
    changed = 0
    for cell, kind in zip(notebook.cells, planned_types(notebook, name)):
        touched = False
        if slide_type(cell) != kind:
            cell.setdefault("metadata", {}).setdefault("slideshow", {})["slide_type"] = kind
            touched = True
        if kind == "notes":
            touched = hide_note(cell) or touched
        changed += touched
    if changed:
        nbformat.write(notebook, path)
    return changed


# --- check --------------------------------------------------------------------------------------------

def slides_of(notebook):
    """The deck's slides (slides and subslides) as lists of the cells shown on them."""
    slides = []
    for cell in notebook.cells:
        kind = slide_type(cell)
        if kind in ("skip", "notes"):
            continue
        if kind in ("slide", "subslide") or not slides:
            slides.append([])
        slides[-1].append(cell)
    return slides


def check(path):
    """The problems of one notebook's slide structure, as messages (empty when it is fine)."""
    notebook = nbformat.read(path, as_version=4)
    name = Path(path).stem
    problems = []
    for cell in notebook.cells:
        kind = slide_type(cell)
        if kind is None and cell.cell_type == "code":
            problems.append(f"{name}: code cell {cell.get('id')} has no slide type (shown or skipped?)")
        elif kind is not None and kind not in SLIDE_TYPES:
            problems.append(f"{name}: cell {cell.get('id')} has the unknown slide type {kind!r}")
        if cell.get("id", "").startswith("sl-") and kind != "notes":
            problems.append(f"{name}: {cell.get('id')} is a speaker note but its type is {kind!r}")
        if kind == "notes" and (cell.get("metadata", {}).get("jupyter", {}).get("source_hidden") is not True
                                or NOTE_TAG not in cell.get("metadata", {}).get("tags", [])):
            problems.append(f"{name}: the speaker note {cell.get('id')} is visible to learners in JupyterLab: "
                            f"run `python tools/slides.py annotate`, which hides it and tags it {NOTE_TAG!r}")
    first = notebook.cells[0] if notebook.cells else None
    if first is None or slide_type(first) != "slide":
        problems.append(f"{name}: the first cell must start a slide")
    slides = slides_of(notebook)
    if len(slides) < 2:
        problems.append(f"{name}: a deck of {len(slides)} slide(s)")
    tall = TALL_CELLS.get(name, {})
    for cells in slides:
        height = sum(cell_height(cell) for cell in cells)
        if height > SLIDE_LINES and not (len(cells) == 1 and cells[0].get("id") in tall):
            problems.append(f"{name}: the slide from cell {cells[0].get('id')} is {height:.0f} lines tall "
                            f"(at most {SLIDE_LINES}): {[c.get('id') for c in cells]}")
    return problems


# --- static decks -------------------------------------------------------------------------------------

# What the decks load, copied from the npm packages into the deck folder: {target: source in node_modules}.
VENDOR_FILES = {
    "reveal.js/dist": "reveal.js/dist",
    "reveal.js/plugin/notes": "reveal.js/plugin/notes",
    "js/require.js": "requirejs/require.js",
    "js/jquery.min.js": "jquery/dist/jquery.min.js",
    "mathjax/MathJax.js": "mathjax/MathJax.js",
    "mathjax/config/TeX-AMS_CHTML-full.js": "mathjax/config/TeX-AMS_CHTML-full.js",
    "mathjax/config/Safe.js": "mathjax/config/Safe.js",
    "mathjax/extensions": "mathjax/extensions",
    "mathjax/jax/input/TeX": "mathjax/jax/input/TeX",
    "mathjax/jax/output/CommonHTML": "mathjax/jax/output/CommonHTML",
    "mathjax/jax/element": "mathjax/jax/element",
    "mathjax/fonts/HTML-CSS/TeX/woff": "mathjax/fonts/HTML-CSS/TeX/woff",
    "mathjax/localization/en": "mathjax/localization/en",
}

TEMPLATE = """\
{%- extends 'reveal/index.html.j2' -%}
{#- Offline: no mermaid (the notebooks have no diagrams), no widget manager (widget outputs are text). -#}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""

# A URL that a page loads (not a link a reader may follow): src, link href, CSS url(), JS import.
LOADED_URL = re.compile(
    r"""(?:<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*["']?\s*(https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?\s*(https?:)?//"""
    r"""|url\(\s*["']?\s*(https?:)?//"""
    r"""|import\s*(?:[\w{}*,\s]+from\s*)?["'](https?:)?//"""
    r"""|@import\s+["'](https?:)?//)""",
    re.IGNORECASE)


def widget_text(state, model_id):
    """The final text of a tqdm widget (an HBox of a label, a progress bar and a postfix)."""
    models = state.get("state", {})
    box = models.get(model_id, {}).get("state", {})
    parts = []
    for child in box.get("children", []):
        child_state = models.get(child.removeprefix("IPY_MODEL_"), {}).get("state", {})
        if "max" in child_state and "value" in child_state:
            done = child_state["value"] / child_state["max"] if child_state["max"] else 0
            parts.append("█" * round(10 * done) + " " * (10 - round(10 * done)))
        else:
            parts.append(html.unescape(re.sub(r"<[^>]+>", "", str(child_state.get("value", "")))))
    return "|".join(parts) if parts else None


def offline_notebook(notebook):
    """The notebook as the decks show it: widget outputs as the text of their final state."""
    state = notebook.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            view = data.pop("application/vnd.jupyter.widget-view+json", None)
            if view is not None:
                text = widget_text(state, view.get("model_id", ""))
                if text:
                    data["text/plain"] = text
    return notebook


def copy_vendor(vendor, output):
    for target, source in VENDOR_FILES.items():
        source, target = Path(vendor) / source, Path(output) / target
        if not source.exists():
            raise SystemExit(f"{source} is missing: run `make slides`, which installs it with npm")
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def remote_urls(page, folder=None):
    """The remote URLs that a page loads, and those of the local style sheets it links (in folder)."""
    urls = [match.group(0) for match in LOADED_URL.finditer(page)]
    if folder is not None:
        for sheet in re.findall(r"""<link\b[^>]*\bhref\s*=\s*["']([^"':]+\.css)["']""", page):
            if (Path(folder) / sheet).is_file():
                urls += [f"{sheet}: {url}" for url in remote_urls((Path(folder) / sheet).read_text())]
    return urls


def build(paths, vendor, output):
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    copy_vendor(vendor, output)
    template_dir = output / ".template"
    (template_dir / "course-reveal").mkdir(parents=True, exist_ok=True)
    (template_dir / "course-reveal" / "index.html.j2").write_text(TEMPLATE)
    (template_dir / "course-reveal" / "conf.json").write_text('{"base_template": "reveal", "mimetypes": '
                                                               '{"text/html": true}}')
    config = Config()
    config.SlidesExporter.reveal_url_prefix = "reveal.js"
    config.SlidesExporter.reveal_theme = "white"  # "simple", nbconvert's default, imports Google fonts
    config.SlidesExporter.reveal_scroll = True  # a tall slide (TALL_CELLS) scrolls instead of being cut off
    config.SlidesExporter.require_js_url = "js/require.js"
    config.SlidesExporter.jquery_url = "js/jquery.min.js"
    config.SlidesExporter.mathjax_url = "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.SlidesExporter.extra_template_basedirs = [str(template_dir)]
    config.SlidesExporter.template_name = "course-reveal"
    exporter = SlidesExporter(config=config)
    written, problems = [], []
    for path in paths:
        notebook = offline_notebook(nbformat.read(path, as_version=4))
        page, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": Path(path).stem}})
        target = output / f"{Path(path).stem}.html"
        target.write_text(page, encoding="utf-8")
        written.append(target)
        problems += [f"{target.name}: loads {url}" for url in remote_urls(page, output)]
    shutil.rmtree(template_dir)
    for target in written:
        print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if problems:
        raise SystemExit("remote URLs in the decks:\n" + "\n".join(problems))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["annotate", "check", "build"])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--vendor", type=Path, default=ROOT / "build" / "npm" / "node_modules")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "slides")
    args = parser.parse_intermixed_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.command == "annotate":
        for path in paths:
            print(f"{path.name}: {annotate(path)} cell(s) changed")
    elif args.command == "check":
        problems = [problem for path in paths for problem in check(path)]
        print("\n".join(problems) or f"{len(paths)} notebooks: slide structure ok")
        return 1 if problems else 0
    else:
        build(paths, args.vendor, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
