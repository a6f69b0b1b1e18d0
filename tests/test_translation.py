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
    notebook = copy_of_course / "notebooks" / "02a_self_attention.ipynb"
    english = nbformat.read(notebook, as_version=4)
    cell = next(c for c in english.cells if c.cell_type == "markdown")
    assert translate.translation_problems(notebook, "de") == []
    cell.source += "\n\nA sentence added to the English text."
    nbformat.write(english, notebook)

    problems = translate.translation_problems(notebook, "de")
    assert len(problems) == 1
    assert "02a_self_attention.ipynb" in problems[0] and cell.id in problems[0] and "stale" in problems[0]

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


def glossary_rows():
    """The glossary's table as dicts keyed by its header (English, Deutsch, Lektion, Nicht)."""
    text = (GERMAN / "GLOSSARY.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].split("|")[1:-1]]
    assert header == ["English", "Deutsch", "Lektion", "Nicht"], f"GLOSSARY.md: unexpected table header {header}"
    rows = [dict(zip(header, (cell.strip() for cell in line.split("|")[1:-1]))) for line in lines[2:]]
    assert len(rows) > 40
    return rows


def glossary_forbidden():
    return {term.strip(): row["English"] for row in glossary_rows() for term in row["Nicht"].split(",") if term.strip()}


def german_texts():
    """(where, text) for every German text a learner reads: each prose section (by notebook and cell), each
    string that code shows, README.de.md and TEACHING.de.md."""
    found = []
    for path in sorted(GERMAN.glob("[0-9][0-9]*_*.md")):
        for section in translate.read_sections(path).values():
            found.append((f"{path.relative_to(ROOT)}, cell {section.cell} (notebooks/de/{path.stem}.ipynb)",
                          section.text))
    for path in sorted((GERMAN / "strings").glob("*.json")):
        for english, german in json.loads(path.read_text(encoding="utf-8")).items():
            found.append((f"{path.relative_to(ROOT)}, the German of {english[:60]!r}", german))
    found += [(name, (ROOT / name).read_text(encoding="utf-8")) for name in ("README.de.md", "TEACHING.de.md")]
    return found


def test_german_texts_use_the_glossary_terms():
    found = []
    for where, text in german_texts():
        for term, english in glossary_forbidden().items():
            if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE):
                found.append(f"{where}: {term!r} (for {english!r}; see i18n/de/GLOSSARY.md)")
    assert found == [], "\n".join(found)


def stems(term):
    """A pattern for a term and its inflected forms: each word without its last three letters (at least four
    kept), followed by any letters: "versteckter Zustand" also finds "versteckte Zustände"."""
    words = [re.escape(word[:max(4, len(word) - 3)]) + r"\w*" for word in term.split()]
    return r"\s+".join(words)


def test_the_lessons_terms_are_bridged_once_at_first_use():
    """Each term of the lesson's German text (the glossary's "Lektion" column) appears in the German notebooks:
    as the course's own term, or, where the course says something else, exactly once, as "course term (in der
    Lektion: lesson's term)" in the first notebook that uses the course's term, and nowhere else."""
    prose = [(path.stem, section.cell, section.text) for path in sorted(GERMAN.glob("[0-9][0-9]*_*.md"))
             for section in translate.read_sections(path).values()]
    everything = german_texts()
    problems = []
    rows = [row for row in glossary_rows() if row["Lektion"]]
    assert len(rows) >= 8  # the eight terms of the lesson's German text
    for row in rows:
        lesson, course = row["Lektion"], re.split(r"[(,;]", row["Deutsch"])[0].strip()
        term = re.compile(r"(?<!\w)" + stems(lesson), re.IGNORECASE)
        uses = [(notebook, cell) for notebook, cell, text in prose if term.search(text)]
        if lesson.lower() in row["Deutsch"].lower():
            if not uses:
                problems.append(f"{lesson!r} ({row['English']}): the lesson's term, which the course shares, "
                                f"appears in no German notebook; introduce it where the concept first comes up")
            continue
        everywhere = [(where, match) for where, text in everything for match in term.finditer(text)]
        bridges = [(notebook, cell) for notebook, cell, text in prose
                   if re.search(r"in\s+der\s+Lektion:\s+" + stems(lesson), text, re.IGNORECASE)]
        first = next(notebook for notebook, _, text in prose
                     if re.search(r"(?<!\w)" + stems(course), text, re.IGNORECASE))
        if len(everywhere) != 1 or len(bridges) != 1:
            problems.append(f"{lesson!r} ({row['English']}): expected once, as "
                            f"\"{course} (in der Lektion: {lesson})\"; found in "
                            f"{[where for where, _ in everywhere] or 'no German text'}")
        elif bridges[0][0] != first:
            problems.append(f"{lesson!r} ({row['English']}): bridged in {bridges[0][0]}, cell {bridges[0][1]}, but the "
                            f"course's term {course!r} first appears in {first}: move the bridge there")
    assert problems == [], "\n".join(problems)


def exercise_check_titles():
    """check function name -> the title its ``@_check(N_("Exercise N.M · ..."))`` decorator gives it, read from
    the course package's source (the checks modules and course/experiments.py)."""
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted((ROOT / "course").glob("*.py"))]
    assert trees, "no course package found (course/*.py)"
    titles = {}
    for function in (node for tree in trees for node in ast.walk(tree)):
        for decorator in getattr(function, "decorator_list", []):
            marked = decorator.args[0] if isinstance(decorator, ast.Call) and decorator.args else None
            if (getattr(decorator, "func", None) is not None and getattr(decorator.func, "id", None) == "_check"
                    and isinstance(marked, ast.Call) and isinstance(marked.args[0], ast.Constant)):
                titles[function.name] = marked.args[0].value
    return titles


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_headings_are_the_titles_their_checks_print(notebook):
    """Each "### Exercise N.M · ..." heading (backticks aside) is the title that the exercise's check prints, in
    both editions: the check is the first ``exercises.check_...`` call after the heading."""
    titles, german = exercise_check_titles(), i18n.strings("de")
    sections = translate.read_sections(translate.translation_path(notebook, "de"))
    problems, heading = [], None
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("### Exercise "):
            heading = (cell.id, cell.source.splitlines()[0][4:].replace("`", ""))
            german_heading = sections[cell.id].text.splitlines()[0][4:].replace("`", "")
            heading += (german_heading,)
        elif cell.cell_type == "code" and heading and (check := re.search(r"\b\w+\.(check_\w+)\(", cell.source)):
            cell_id, english_heading, german_heading = heading
            title = titles[check[1]]
            if english_heading != title:
                problems.append(f"{notebook.name}, cell {cell_id}: heading {english_heading!r}, but "
                                f"{check[1]} prints {title!r}")
            if german_heading != german.get(title):
                problems.append(f"notebooks/de/{notebook.name} (i18n/de/{notebook.stem}.md), cell {cell_id}: heading "
                                f"{german_heading!r}, but {check[1]} prints {german.get(title)!r}")
            heading = None
    assert problems == [], "\n".join(problems)


def test_every_exercise_has_a_heading_checked_against_its_title():
    headings = [cell for notebook in NOTEBOOKS for cell in nbformat.read(notebook, as_version=4).cells
                if cell.cell_type == "markdown" and cell.source.startswith("### Exercise ")]
    assert len(headings) >= 24 and len(headings) == len(exercise_check_titles())


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


@pytest.mark.parametrize("template, fields, english, german", [
    ("{count:,} tokens", {"count": 20309}, "20,309 tokens", "20.309 Tokens"),
    ("<unk> rate on the test split: {rate:.2%} of {count:,} tokens", {"rate": 0.0507, "count": 70618},
     "<unk> rate on the test split: 5.07% of 70,618 tokens",
     "<unk>-Anteil im Testsplit: 5,07\u00a0% von 70.618 Tokens"),
    ("{count} saves kept; the newest is the last step: {newest}", {"count": 2, "newest": True},
     "2 saves kept; the newest is the last step: True",
     "2 Speicherstände behalten; der neueste ist der letzte Schritt: True"),
    ("largest error: {error:.1e}", {"error": 1.2e-6}, "largest error: 1.2e-06", "größter Fehler: 1,2e-06"),
])
def test_numbers_follow_the_language(monkeypatch, template, fields, english, german):
    """English prints exactly what str.format prints; German writes 20.309, 0,853 and 5,07 % (Babel's de_DE)."""
    monkeypatch.setenv("COURSE_LANG", "en")
    assert i18n.tr(template, **fields) == template.format(**fields) == english
    monkeypatch.setenv("COURSE_LANG", "de")
    assert i18n.tr(template, **fields) == german


def test_number_helpers_and_alignment(monkeypatch):
    assert i18n.number(22566916, lang="de") == "22.566.916" and i18n.number(22566916, lang="en") == "22,566,916"
    assert i18n.number(0.85312, 3, lang="de") == "0,853" and i18n.number(0.85312, 3, lang="en") == "0.853"
    assert i18n.percent(0.132, 1, lang="de") == "13,2\u00a0%" and i18n.percent(0.132, 1, lang="en") == "13.2%"
    formatter = i18n._LocaleFormatter("de")
    assert formatter.format("{a:>9,}|{b:>7.1f}|{c:<5}|", a=1540, b=12.5, c=3) == "    1.540|   12,5|3    |"


@pytest.mark.parametrize("lang, row", [
    ("en", "Transformer     773,892   0.7987    21.9%   0.95  5e-05"),
    ("de", "Transformer     773.892   0,7987   21,9\u00a0%   0,95  5e-05"),
])
def test_table_rows_follow_the_language_and_round_as_python_does(monkeypatch, lang, row):
    # 0.79875 is 0.798749... in binary: Python writes 0.7987, and so must the German row (Babel alone gives 0,7988);
    # a 0-d tensor is written as its number
    import torch  # only here: the rest of this file needs no torch

    monkeypatch.setenv("COURSE_LANG", lang)
    assert i18n.table_row("{:<12}{:>11,}{:>9.4f}{:>9.1%}{:>7.2f}{:>7.0e}", "Transformer", 773892, 0.79875, 0.2195,
                          torch.tensor(0.955), 5e-5) == row


# Stored German outputs: what a learner sees. Numbers written the English way ("5,200 rows", "0.853") inside a
# German line are wrong there; these lines are exempt, each for a stated reason.
# English thousands (5,200) or an English decimal point (0.853, 12.5); "5.200" is German for five thousand two
# hundred, so a point before exactly three digits counts only after a 0.
ENGLISH_NUMBER = re.compile(r"(?<![\w.,/])[1-9]\d{0,2}(?:,\d{3})+(?![\d.,])"
                            r"|(?<![\w.,/])(?:0\.\d+|\d+\.(?!\d{3}(?![\d.]))\d+)(?![\d.])")
NUMBER_EXEMPT = [
    re.compile(r"\[transformers\]|LOAD REPORT|^\s*(Key|Notes|-)"),  # the library's load report (explained in 05)
    re.compile(r"\d+/\d+ \[|it/s\]"),  # tqdm's progress bar, the library's own format
    re.compile(r"TrainConfig\(|tensor\(|\[\s*-?\d+(\.\d+)?,|\(\d+, \d+"),  # Python and tensor reprs, read as code
    re.compile(r"\[\s*-?\d+\.\d+\s+-?\d"),  # a NumPy array's repr (04's logits), read as code
    re.compile(r"ln\(4\) = 1\.386|e-0\d|\de[-+]\d"),  # a formula and learning rates written as code (5e-05)
    re.compile(r"\d+\.\d+\.\d+"),  # version strings
]


def german_output_lines():
    """(notebook, cell id, line) for every line of every stored output of the German notebooks: streams and
    text/plain results (figures and widgets have no text a reader sees here)."""
    for path in sorted((ROOT / "notebooks" / "de").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                text = output.get("text", "") if output.output_type == "stream" else \
                    output.get("data", {}).get("text/plain", "") if output.output_type != "error" else ""
                if text.startswith(("<Figure", "<IPython")):
                    continue
                for line in text.splitlines():
                    yield path.name, cell.id, line


def test_german_outputs_write_numbers_the_german_way():
    numbered = re.compile(r"(Übung|Aufgabe|Frage) \d+\.\d+")  # exercise numbers are not decimals
    found = [f"notebooks/de/{name}, cell {cell}: {line.strip()[:120]}" for name, cell, line in german_output_lines()
             if ENGLISH_NUMBER.search(numbered.sub("", line)) and not any(rule.search(line) for rule in NUMBER_EXEMPT)]
    assert found == [], (f"{len(found)} German output lines write a number the English way (rerun the German "
                         f"notebooks after changing how the code formats it):\n" + "\n".join(found))


# English words that a table header, label or message in the German outputs must not show; code, the library's
# load report and the data set's own texts (headlines, class names) are not checked. "Head" and "Seed" are the
# edition's German terms (GLOSSARY.md), so "heads" and "seed" are not on the list.
ENGLISH_WORDS = ["layers", "every row sums", "predicting", "whole network", "head only", "trainable weights",
                 "accuracy", "length", "attention ms", "score std", "max weight", "read the split", "epoch",
                 "parameters", "train s", "test accuracy"]
ENGLISH_WORDS_EXEMPT = re.compile(r"\[transformers\]|LOAD REPORT|^\s*(Key|Notes|-)|TrainConfig\(|bench/heads\.py")


def test_german_outputs_have_no_english_labels():
    found = [f"notebooks/de/{name}, cell {cell}: {word!r} in {line.strip()[:100]!r}"
             for name, cell, line in german_output_lines() if not ENGLISH_WORDS_EXEMPT.search(line)
             for word in ENGLISH_WORDS if re.search(rf"(?<![\w/_.]){re.escape(word)}(?![\w_])", line, re.IGNORECASE)]
    assert found == [], f"{len(found)} English labels in German outputs:\n" + "\n".join(found)


def test_classification_report_is_scikit_learns_in_english_and_german_in_german(monkeypatch):
    from sklearn.metrics import classification_report

    from course.inference import classification_report_text

    classes = ["World", "Sports", "Business", "Sci/Tech"]
    labels, predictions = [0, 1, 2, 3] * 50, [0, 1, 2, 3] * 40 + [1, 2, 3, 0] * 10
    monkeypatch.setenv("COURSE_LANG", "en")
    assert classification_report_text(labels, predictions, classes) == \
        classification_report(labels, predictions, target_names=classes, digits=3)
    monkeypatch.setenv("COURSE_LANG", "de")
    german = classification_report_text(labels, predictions, classes)
    assert "Präzision" in german and "0,800" in german and "0.800" not in german and "macro avg" not in german
