"""The German edition: complete, current, generated (never hand-edited), and the texts code shows translated."""
import ast
import importlib.util
import json
import re
import shutil
import string
from pathlib import Path

import nbformat
import pytest

from course import i18n

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("translate", ROOT / "tools" / "translate.py")
translate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(translate)
NOTEBOOKS = translate.english_notebooks()
MODULES = [ROOT / "torchnlp.py", *sorted((ROOT / "course").glob("*.py"))]
# Functions whose first argument is a text shown to a learner: tr() translates it where it is shown; N_() only
# marks a text kept in a table (the checks' titles, the quiz's explanations), which course/feedback.py's _shown
# translates when it is shown.
TEXT_FUNCTIONS = {"tr", "N_"}
# The one place where tr() gets a variable: the texts it gets were marked with N_() where they were stored.
TRANSLATES_MARKED_TEXTS = {("feedback.py", "_shown")}
GERMAN = ROOT / "i18n" / "de"


@pytest.fixture
def copy_of_course(tmp_path, monkeypatch):
    """notebooks/ and i18n/ copied into tmp_path, with tools/translate.py pointed at the copy."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "i18n", tmp_path / "i18n")
    monkeypatch.setattr(translate, "ROOT", tmp_path)
    monkeypatch.setattr(translate, "ENGLISH", tmp_path / "notebooks")
    return tmp_path


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_markdown_cell_has_a_current_german_translation(notebook):
    assert translate.translation_problems(notebook, "de") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_german_notebook_is_the_generated_edition(notebook):
    """Same cells, ids, order and code as the English notebook; prose exactly the translation file's."""
    assert translate.edition_problems(notebook, "de") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_identical_between_editions(notebook):
    english = nbformat.read(notebook, as_version=4)
    german = nbformat.read(translate.edition_path(notebook, "de"), as_version=4)
    code = lambda nb: [(c.id, c.source) for c in nb.cells if c.cell_type == "code"]
    assert code(german) == code(english)
    assert german.metadata.kernelspec.name == "python3"
    assert german.metadata.course["language"] == "de"
    assert sum(c.cell_type == "markdown" for c in german.cells) == sum(c.cell_type == "markdown" for c in english.cells)


def test_an_english_edit_without_a_translation_update_fails(copy_of_course):
    notebook = copy_of_course / "notebooks" / "02_transformer.ipynb"
    english = nbformat.read(notebook, as_version=4)
    cell = next(c for c in english.cells if c.cell_type == "markdown")
    assert translate.translation_problems(notebook, "de") == []
    cell.source += "\n\nA sentence added to the English text."
    nbformat.write(english, notebook)

    problems = translate.translation_problems(notebook, "de")
    assert len(problems) == 1
    assert "02_transformer.ipynb" in problems[0] and cell.id in problems[0] and "stale" in problems[0]

    # The fix: revise the German section, then record that it translates the current English text.
    path = translate.translation_path(notebook, "de")
    sections = translate.read_sections(path)
    sections[cell.id].text += "\n\nEin Satz, der dem englischen Text hinzugefügt wurde."
    sections[cell.id].hash = translate.english_hash(cell.source)
    translate.write_sections(path, sections.values(), "de", notebook.name)
    assert translate.translation_problems(notebook, "de") == []


def test_a_new_english_cell_needs_a_translation(copy_of_course):
    notebook = copy_of_course / "notebooks" / "00_ag_news.ipynb"
    english = nbformat.read(notebook, as_version=4)
    new = nbformat.v4.new_markdown_cell("A new paragraph.")
    english.cells.insert(1, new)
    nbformat.write(english, notebook)
    assert any(new.id in p and "no translation" in p for p in translate.translation_problems(notebook, "de"))
    assert translate.extract(notebook, "de") == (1, 0)
    assert any(new.id in p and "TODO" in p for p in translate.translation_problems(notebook, "de"))


def test_a_hand_edited_german_code_cell_is_caught(copy_of_course):
    notebook = copy_of_course / "notebooks" / "01_attention.ipynb"
    edition = translate.edition_path(notebook, "de")
    german = nbformat.read(edition, as_version=4)
    cell = next(c for c in german.cells if c.cell_type == "code")
    cell.source = cell.source.replace("import", "import  ", 1) + "\n# nur in der deutschen Ausgabe"
    nbformat.write(german, edition)
    problems = translate.edition_problems(notebook, "de")
    assert any("code cell " + cell.id in p for p in problems)


def test_a_hand_edited_german_markdown_cell_is_caught(copy_of_course):
    notebook = copy_of_course / "notebooks" / "03_bert_tokenization.ipynb"
    edition = translate.edition_path(notebook, "de")
    german = nbformat.read(edition, as_version=4)
    cell = next(c for c in german.cells if c.cell_type == "markdown")
    cell.source += " (von Hand ergänzt)"
    nbformat.write(german, edition)
    assert any("markdown cell " + cell.id in p for p in translate.edition_problems(notebook, "de"))


def test_build_keeps_german_outputs_where_the_code_is_unchanged(copy_of_course):
    notebook = copy_of_course / "notebooks" / "00_ag_news.ipynb"
    german = nbformat.read(translate.edition_path(notebook, "de"), as_version=4)
    rebuilt, stale_code = translate.build_notebook(notebook, "de", previous=german)
    assert not stale_code
    assert [c.get("outputs") for c in rebuilt.cells] == [c.get("outputs") for c in german.cells]

    english = nbformat.read(notebook, as_version=4)
    code = next(c for c in english.cells if c.cell_type == "code" and c.outputs)
    code.source += "\n"
    nbformat.write(english, notebook)
    rebuilt, stale_code = translate.build_notebook(notebook, "de", previous=german)
    assert stale_code  # the edited cell's outputs are the English ones until the edition is run again
    assert next(c for c in rebuilt.cells if c.id == code.id).outputs == code.outputs


def test_links_reach_up_one_more_folder():
    assert translate.localise_links("[SOURCES.md](../SOURCES.md), [04](04_padding_collation.ipynb)") == \
        "[SOURCES.md](../../SOURCES.md), [04](04_padding_collation.ipynb)"


def shown_texts():
    """Every literal passed to tr() or _() in the notebooks' code and in the modules, with where it is."""
    sources = [(path.name, path.read_text(encoding="utf-8")) for path in MODULES]
    for notebook in NOTEBOOKS:
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type == "code":
                code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                sources.append((f"{notebook.name} cell {cell.id}", code))
    found = []
    for where, code in sources:
        tree = ast.parse(code)
        functions = {id(node): function.name for function in ast.walk(tree)
                     if isinstance(function, ast.FunctionDef) for node in ast.walk(function)}
        for node in ast.walk(tree):
            name = getattr(node, "func", None) and getattr(node.func, "id", getattr(node.func, "attr", None))
            if isinstance(node, ast.Call) and name in TEXT_FUNCTIONS:
                argument = node.args[0] if node.args else None
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.append((where, argument.value))
                else:
                    assert (where, functions.get(id(node))) in TRANSLATES_MARKED_TEXTS, \
                        f"{where}, line {node.lineno}: the text shown must be a string literal, so it can be translated"
    return found


def fields(template):
    return sorted(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def test_every_text_code_shows_has_german_with_the_same_fields():
    texts = shown_texts()
    assert len(texts) > 100  # plots, printed sentences and exercise feedback of nine notebooks
    german = i18n.strings("de")
    missing = [f"{where}: {text!r}" for where, text in texts if text not in german]
    assert missing == [], "no German in i18n/de/strings/*.json for:\n" + "\n".join(missing)
    wrong = [f"{text!r}: {fields(text)} vs {fields(german[text])}" for _, text in texts
             if fields(text) != fields(german[text])]
    assert wrong == [], "placeholders differ:\n" + "\n".join(wrong)


def test_no_unused_german_strings():
    used = {text for _, text in shown_texts()}
    unused = sorted(set(i18n.strings("de")) - used)
    assert unused == [], "translations of texts no code shows any more (remove them):\n" + "\n".join(unused)


def test_language_from_environment_and_folder(monkeypatch):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    assert i18n.language() == "en"
    monkeypatch.chdir(ROOT / "notebooks" / "de")
    assert i18n.language() == "de"
    monkeypatch.setenv("COURSE_LANG", "en")
    assert i18n.language() == "en"
    monkeypatch.setenv("COURSE_LANG", "fr")
    with pytest.raises(ValueError, match="COURSE_LANG='fr'.*en and de"):
        i18n.language()


def test_tr_translates_and_fills_fields(monkeypatch, tmp_path):
    (tmp_path / "de" / "strings").mkdir(parents=True)
    (tmp_path / "de" / "strings" / "a.json").write_text(json.dumps({"{n} steps": "{n} Schritte"}))
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)
    i18n.strings.cache_clear()
    try:
        monkeypatch.setenv("COURSE_LANG", "de")
        assert i18n.tr("{n} steps", n=3) == "3 Schritte"
        assert i18n.tr("not in the table") == "not in the table"
        monkeypatch.setenv("COURSE_LANG", "en")
        assert i18n.tr("{n} steps", n=3) == "3 steps"
        (tmp_path / "de" / "strings" / "b.json").write_text(json.dumps({"{n} steps": "{n} Stufen"}))
        i18n.strings.cache_clear()
        with pytest.raises(ValueError, match="translated differently"):
            i18n.strings("de")
    finally:
        i18n.strings.cache_clear()


def glossary_forbidden():
    rows = [line.split("|")[1:-1] for line in (GERMAN / "GLOSSARY.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith(("| English", "| ---"))]
    assert len(rows) > 40
    return {term.strip(): row[0].strip() for row in rows for term in row[2].split(",") if term.strip()}


def test_german_texts_use_the_glossary_terms():
    texts = [GERMAN / "strings" / p.name for p in sorted((GERMAN / "strings").glob("*.json"))]
    texts += sorted(GERMAN.glob("[0-9][0-9]_*.md")) + [ROOT / "README.de.md", ROOT / "TEACHING.de.md"]
    found = []
    for path in texts:
        content = path.read_text(encoding="utf-8")
        for term, english in glossary_forbidden().items():
            if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", content, re.IGNORECASE):
                found.append(f"{path.relative_to(ROOT)}: {term!r} (for {english!r}; see i18n/de/GLOSSARY.md)")
    assert found == []


def test_feedback_and_quiz_speak_german(monkeypatch, capsys):
    from course import exercises, feedback
    from course.quiz import quiz

    def stub(*args):
        raise NotImplementedError

    monkeypatch.setenv("COURSE_LANG", "en")
    english = exercises.check_masked_softmax(stub).message
    monkeypatch.setenv("COURSE_LANG", "de")
    german = exercises.check_masked_softmax(stub).message
    assert german != english and i18n.tr(feedback.STUB) in german
    assert quiz.answer(1, None).message != "Question 1: not answered yet."
    capsys.readouterr()
