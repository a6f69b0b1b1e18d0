"""The German edition: notebooks/de/*.ipynb generated from the English notebooks and i18n/de/*.md.

    python tools/translate.py extract   # add a TODO section (the English text) for every untranslated cell
    python tools/translate.py check     # missing, unfinished, stale translations; hand edits in notebooks/de
    python tools/translate.py build     # write notebooks/de/*.ipynb (keeps their outputs where code is the same)
    python tools/translate.py stale     # each stale section's English text now, to revise the German against
    python tools/translate.py mark-current 05_fine_tuning a1b2c3d4   # after revising that section

Only prose is translated. A German notebook is the English notebook with each markdown cell replaced by its
section of the translation file; code cells, their ids, order and metadata are copied, so the German code
cannot drift. Each section records a hash of the English text it translates: when the English text changes,
`check` (and tests/test_translation.py) names the cell and notebook until the German is revised and the hash
updated with `mark-current`. Text that code shows goes through i18n.tr and i18n/de/strings.json instead.

A German notebook keeps its own outputs (from a run in German) for every code cell whose source is unchanged;
`build` lists the notebooks whose code changed, to re-run with tools/run_notebooks.py --in-place.
"""
import argparse
import copy
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks"
MARKER = re.compile(r"^<!-- cell (?P<cell>\S+) en (?P<hash>[0-9a-f]{12})(?P<todo> TODO)? -->$", re.MULTILINE)
LANGUAGE_NAMES = {"de": "German"}
HEADER = """<!-- {language} translation of notebooks/{name}: one section per markdown cell, in the notebook's order.
     Each section starts with a marker: the cell's id and the hash of the English text it translates.
     A section marked TODO still holds the English text. Terms: i18n/{lang}/GLOSSARY.md.
     `python tools/translate.py check` names missing, unfinished and stale sections. -->
"""


def english_hash(source):
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


@dataclass
class Section:
    cell: str
    hash: str
    text: str
    todo: bool = False


def translation_path(notebook, lang):
    return ROOT / "i18n" / lang / (Path(notebook).stem + ".md")


def edition_path(notebook, lang):
    return ENGLISH / lang / Path(notebook).name


def read_sections(path):
    """The sections of a translation file, by cell id, in file order."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    markers = list(MARKER.finditer(text))
    sections = {}
    for marker, following in zip(markers, markers[1:] + [None]):
        body = text[marker.end():following.start() if following else len(text)].strip("\n")
        if marker["cell"] in sections:
            raise ValueError(f"{path}: cell {marker['cell']} has two sections; keep one")
        sections[marker["cell"]] = Section(marker["cell"], marker["hash"], body, bool(marker["todo"]))
    return sections


def write_sections(path, sections, lang, name):
    parts = [HEADER.format(language=LANGUAGE_NAMES.get(lang, lang), lang=lang, name=name)]
    for s in sections:
        parts.append(f"<!-- cell {s.cell} en {s.hash}{' TODO' if s.todo else ''} -->\n{s.text}\n")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(parts), encoding="utf-8")


def markdown_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "markdown"]


def english_notebooks():
    return sorted(ENGLISH.glob("*.ipynb"))


def extract(notebook, lang):
    """Bring the translation file in line with the notebook's cells; returns (added, dropped) counts.

    Existing sections keep their text and hash (a stale one stays stale); a new cell gets a TODO section
    holding its English text; a section whose cell is gone is dropped.
    """
    english = nbformat.read(notebook, as_version=4)
    path = translation_path(notebook, lang)
    old = read_sections(path)
    new, added = [], 0
    for cell in markdown_cells(english):
        if cell.id in old:
            new.append(old[cell.id])
        else:
            new.append(Section(cell.id, english_hash(cell.source), cell.source, todo=True))
            added += 1
    dropped = len(set(old) - {s.cell for s in new})
    write_sections(path, new, lang, Path(notebook).name)
    return added, dropped


def translation_problems(notebook, lang):
    """What keeps a notebook's translation from being complete and current, one line per cell."""
    english = nbformat.read(notebook, as_version=4)
    path = translation_path(notebook, lang)
    sections = read_sections(path)
    name = Path(notebook).name
    found = []
    for cell in markdown_cells(english):
        where = f"{name}, markdown cell {cell.id}"
        section = sections.get(cell.id)
        if section is None:
            found.append(f"{where}: no translation in {path.relative_to(ROOT)} "
                         f"(run `python tools/translate.py extract`, then translate the TODO section)")
        elif section.todo:
            found.append(f"{where}: the section in {path.relative_to(ROOT)} is still marked TODO (untranslated)")
        elif not section.text.strip():
            found.append(f"{where}: the section in {path.relative_to(ROOT)} is empty")
        elif section.hash != english_hash(cell.source):
            found.append(f"{where}: stale: the English text changed since it was translated; revise the German "
                         f"(`python tools/translate.py stale` shows the English), then "
                         f"`python tools/translate.py mark-current {Path(notebook).stem} {cell.id}`")
    extra = set(sections) - {cell.id for cell in markdown_cells(english)}
    found += [f"{name}: section for cell {cell} in {path.relative_to(ROOT)}, which the English notebook no longer "
              f"has (run `python tools/translate.py extract` to drop it)" for cell in sorted(extra)]
    return found


def localise_links(text, depth=1):
    """The German notebooks sit one folder deeper: ../SOURCES.md becomes ../../SOURCES.md."""
    return re.sub(r"(\]\(|src=\")\.\./", lambda m: m[1] + "../" * (depth + 1), text)


def build_notebook(notebook, lang, previous=None):
    """The edition in ``lang``: English cells, translated prose, outputs kept from ``previous`` where valid.

    Returns (notebook, stale_code): stale_code is True when some code cell's source differs from the one
    ``previous`` ran, so its outputs came from the English notebook and the edition needs a run.
    """
    english = nbformat.read(notebook, as_version=4)
    sections = read_sections(translation_path(notebook, lang))
    before = {cell.id: cell for cell in previous.cells} if previous is not None else {}
    edition = copy.deepcopy(english)
    stale_code = False
    for cell in edition.cells:
        if cell.cell_type == "markdown":
            section = sections.get(cell.id)
            if section is not None and not section.todo:
                cell.source = localise_links(section.text)
        elif cell.cell_type == "code":
            old = before.get(cell.id)
            if old is not None and old.cell_type == "code" and old.source == cell.source:
                cell.outputs, cell.execution_count = old.outputs, old.execution_count
            else:
                stale_code = True
    edition.metadata["course"] = {"language": lang, "generated_from": f"notebooks/{Path(notebook).name}",
                                  "generated_by": "tools/translate.py build; edit the English notebook or "
                                                  f"i18n/{lang}/{Path(notebook).stem}.md instead"}
    return edition, stale_code


def without_timing(metadata):
    """Cell metadata without nbclient's execution timestamps, which each run writes anew."""
    return {key: value for key, value in metadata.items() if key != "execution"}


def edition_problems(notebook, lang):
    """Where the committed edition differs from what build would write (besides outputs): hand edits."""
    path = edition_path(notebook, lang)
    if not path.exists():
        return [f"{path.relative_to(ROOT)} is missing: run `python tools/translate.py build`"]
    committed = nbformat.read(path, as_version=4)
    expected, _ = build_notebook(notebook, lang, previous=committed)
    found = []
    if [c.id for c in committed.cells] != [c.id for c in expected.cells]:
        return [f"{path.relative_to(ROOT)}: its cells are not the English notebook's cells (ids or order differ); "
                f"run `python tools/translate.py build`"]
    for have, want in zip(committed.cells, expected.cells):
        if have.cell_type != want.cell_type or have.source != want.source:
            kind = "code" if want.cell_type == "code" else "markdown"
            found.append(f"{path.relative_to(ROOT)}, {kind} cell {want.id}: differs from the generated edition "
                         f"(edit notebooks/{Path(notebook).name} or the translation file, then build)")
        elif without_timing(have.metadata) != without_timing(want.metadata):
            found.append(f"{path.relative_to(ROOT)}, cell {want.id}: metadata differs from the English cell's; build")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["extract", "check", "build", "stale", "mark-current"])
    parser.add_argument("args", nargs="*", help="mark-current: NOTEBOOK_STEM CELL_ID")
    parser.add_argument("--lang", default="de")
    args = parser.parse_args()
    notebooks = english_notebooks()
    if args.command == "extract":
        for notebook in notebooks:
            added, dropped = extract(notebook, args.lang)
            print(f"{translation_path(notebook, args.lang).relative_to(ROOT)}: {added} new TODO, {dropped} dropped")
    elif args.command == "check":
        found = [p for nb in notebooks for p in translation_problems(nb, args.lang) + edition_problems(nb, args.lang)]
        print("\n".join(found) if found else f"{len(notebooks)} notebooks: translations complete and current, "
                                              f"editions as generated")
        sys.exit(1 if found else 0)
    elif args.command == "build":
        for notebook in notebooks:
            path = edition_path(notebook, args.lang)
            previous = nbformat.read(path, as_version=4) if path.exists() else None
            edition, stale_code = build_notebook(notebook, args.lang, previous)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(edition, path)
            print(f"{path.relative_to(ROOT)}" + (": code changed, outputs are the English ones: run it "
                                                 "(tools/run_notebooks.py --in-place)" if stale_code else ""))
    elif args.command == "stale":
        for notebook in notebooks:
            english = nbformat.read(notebook, as_version=4)
            sections = read_sections(translation_path(notebook, args.lang))
            for cell in markdown_cells(english):
                section = sections.get(cell.id)
                if section and not section.todo and section.hash != english_hash(cell.source):
                    print(f"== {notebook.name} cell {cell.id} (English now, hash {english_hash(cell.source)}):\n"
                          f"{cell.source}\n")
    elif args.command == "mark-current":
        if len(args.args) != 2:
            parser.error("mark-current takes NOTEBOOK_STEM CELL_ID, e.g. 05_fine_tuning a1b2c3d4")
        stem, cell_id = args.args
        notebook = ENGLISH / f"{stem}.ipynb"
        english = {c.id: c for c in markdown_cells(nbformat.read(notebook, as_version=4))}
        path = translation_path(notebook, args.lang)
        sections = read_sections(path)
        if cell_id not in english or cell_id not in sections:
            sys.exit(f"{stem}: no markdown cell {cell_id} with a section in {path}")
        sections[cell_id].hash = english_hash(english[cell_id].source)
        write_sections(path, sections.values(), args.lang, notebook.name)
        print(f"{path.relative_to(ROOT)}: cell {cell_id} marked as translating the current English text")


if __name__ == "__main__":
    main()
