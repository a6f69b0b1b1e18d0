"""Every number in the course's prose must be traceable, so that none can go stale.

    python tools/prose_numbers.py          # list every untraceable number (exit 1 if there is one)

Checked: the markdown cells of notebooks/*.ipynb and notebooks/de/*.ipynb, and TEACHING*.md and README*.md.
A number there is traceable when

(a) it rounds from a number in the stored outputs of the same notebook (the German notebook: its own outputs).
    A guide (TEACHING*.md, README*.md) talks about the notebooks it names: each block of a guide (a paragraph,
    a list item, a table row) is checked against the outputs of the notebooks the block names (in either
    edition: a guide describes both), and if it
    names none, those its section heading names. A block or heading names notebook NN by a two-digit number
    "NN" standing alone ("05", "notebook 05", "05 · fine-tuning", "05_fine_tuning"); "00-06" names the range.
    Rounding: the prose number, written with d decimals, must equal the output number rounded to d decimals
    (half up or half to even), so "0.878" traces to 0.8776 but not to 0.8762, and "388 s" to 388.2. Percent
    and fraction are the same quantity: "91%" traces to 0.9144 and "0.9144" to "91.44%".
(b) it is listed, once, with its source, in tools/prose_facts.toml (paper figures, constants of the code,
    dataset facts, measurements of the course's commands). A fact with `notebooks = ["03"]` holds only in
    that notebook's prose (both editions) and in guide blocks that name it; a fact without holds everywhere.
(c) it is exempt by one of these rules (each one says why the number cannot go stale, or is not a claim):
    * integers from 0 to 12 without a percent sign: counts in ordinary words ("two heads", "3 epochs",
      "6 layers") and rough planning times ("about 2 minutes");
    * whole numbers of minutes or hours ("35 min", "about 50 minutes", "20 Minuten"): class time and planning
      estimates, which no run reproduces exactly (a measured time in prose is written in seconds, "388 s",
      and must then trace to an output, or be printed by a cell beside it);
    * two-digit numbers with a leading zero ("05"): notebook numbers;
    * exercise, figure, lesson, question and task numbers: "Exercise 2.3", "Exercises 5.1 and 5.3",
      "Übung 2.3", "Fig. 3", "lesson 18", "question 4", "Aufgabe 2";
    * years: 1900-2099 written without a thousands separator (citations: "Vaswani et al., 2017");
    * version strings: numbers with two or more dots ("2.13.0") or after "Python"/"torch"/"transformers";
    * numbers glued to letters on their left ("int8", "L6", "v2", "fp32", "SHA-256"): names, not quantities;
    * numbers inside code spans, fenced code, LaTeX ($...$), links' targets and HTML tags: code is checked by
      running it, formulas state definitions, and link targets are addresses.

German number format is understood in German prose (notebooks/de, *.de.md): "13,21 %" is 13.21 percent and
"5.200" is 5200; English prose uses "5,200" and "0.9144". Outputs are read both ways, since German outputs can
print either format. A number that fails is reported with its file, cell index (or line) and text.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT / "tools" / "prose_facts.toml"
GUIDES = ["README.md", "README.de.md", "TEACHING.md", "TEACHING.de.md"]

# Stripped before numbers are read: fenced code, code spans, display and inline LaTeX, HTML tags, link targets.
HIDDEN = [re.compile(p, re.DOTALL) for p in (r"```.*?```", r"`[^`\n]*`", r"\$\$.*?\$\$", r"(?<!\\)\$[^$\n]+\$",
                                             r"<[^>\n]+>", r"\]\([^)\s]*\)", r"https?://\S+")]
# A number: digits with optional thousands groups and decimals, a percent sign, glued letters on the left.
NUMBER = re.compile(r"(?P<left>[A-Za-zÄÖÜäöüß_]?)(?P<num>\d+(?:[.,]\d+)*)(?P<percent>\s?%| per ?cent| Prozent)?")
REFERENCE = re.compile(r"(?:Exercises?|Übung(?:en)?|Fig\.|Figure|Abb\.|Abbildung|lesson|Lektion|[Qq]uestions?|"
                       r"Fragen?|Task|Aufgaben?|Python|torch|transformers|Schritt)\s*$")
REFERENCE_LIST = re.compile(r"^\s*(?:,|and|und|or|oder|-|–)\s*$")
NOTEBOOK_NAME = re.compile(r"(?<![\d.,])(0\d)(?:\s?[-–]\s?(0\d))?(?![\d.,]\d)")


@dataclass(frozen=True)
class Number:
    text: str        # as written
    value: Decimal   # the quantity, percent as a fraction
    decimals: int    # decimals of the written number, counted on the value as written (percent: of the percent)
    percent: bool


@dataclass(frozen=True)
class Finding:
    where: str       # file and cell index or line
    text: str        # the number as written
    context: str     # the words around it

    def __str__(self):
        return f"{self.where}: {self.text!r} is not traceable ({self.context})"


def parse_number(text: str, german: bool) -> Decimal | None:
    """The value of a number written in prose; None if the text is not one number (a version string)."""
    decimal_mark, group_mark = (",", ".") if german else (".", ",")
    if text.count(decimal_mark) > 1:
        return None
    whole, _, fraction = text.partition(decimal_mark)
    groups = whole.split(group_mark)
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        return None
    try:
        return Decimal("".join(groups) + ("." + fraction if fraction else ""))
    except InvalidOperation:
        return None


def output_values(text: str) -> set[Decimal]:
    """Every quantity a stored output shows: each number read in both formats, percent also as a fraction and
    a fraction also as a percent."""
    values = set()
    for match in NUMBER.finditer(text):
        for german in (False, True):
            value = parse_number(match["num"], german)
            if value is None:
                continue
            values.add(value)
            values.add(value / 100 if match["percent"] else value * 100)
    return values


def traces(number: Number, candidates: set[Decimal]) -> bool:
    shown = number.value * 100 if number.percent else number.value
    quantum = Decimal(1).scaleb(-number.decimals)
    for candidate in candidates:
        scaled = candidate * 100 if number.percent else candidate
        if abs(scaled - shown) > quantum:
            continue
        if any(scaled.quantize(quantum, rounding=r) == shown for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)):
            return True
    return False


def visible_text(markdown: str) -> str:
    for pattern in HIDDEN:
        markdown = pattern.sub(lambda m: " " * len(m.group(0)) if "\n" not in m.group(0) else
                               re.sub(r"[^\n]", " ", m.group(0)), markdown)
    return markdown


def prose_numbers(markdown: str, german: bool):
    """(Number, context) for every number in the prose that no exemption rule covers."""
    text = visible_text(markdown)
    previous_end, previous_was_reference = 0, False
    for match in NUMBER.finditer(text):
        num, start = match["num"], match.start("num")
        before = text[max(0, start - 40):start]
        between = text[previous_end:start]
        is_reference = bool(REFERENCE.search(before)) or (previous_was_reference and REFERENCE_LIST.match(between))
        previous_end, previous_was_reference = match.end("num"), is_reference
        context = " ".join(text[max(0, start - 30):match.end() + 30].split())
        if is_reference or match["left"] or re.search(r"[A-Za-z]-$", before):
            continue
        after = text[match.end("num"):match.end("num") + 12]
        planning_time = re.match(r"\s?(min\b|minutes?|Minuten|hours?|Stunden)", after)
        if not match["percent"] and re.fullmatch(r"\d+", num) and planning_time:
            continue  # planning times in whole minutes
        if text[match.end("num"):match.end("num") + 1].isalpha() and not match["percent"]:
            following = re.match(r"[A-Za-zÄÖÜäöüß]+", text[match.end("num"):])[0]
            if following not in ("x", "s", "ms", "k", "M"):  # "5.3x", "40s", "300ms" are quantities
                continue
        if num.count(".") + num.count(",") >= 2 and parse_number(num, german) is None:
            continue  # a version string
        if re.fullmatch(r"0\d", num) or re.fullmatch(r"(19|20)\d\d", num):
            continue  # a notebook number; a year
        value = parse_number(num, german)
        if value is None:
            continue
        percent = bool(match["percent"])
        if not percent and value == value.to_integral_value() and 0 <= value <= 12 and not re.search(r"[.,]", num):
            continue  # a small count in ordinary words
        decimal_mark = "," if german else "."
        decimals = len(num.partition(decimal_mark)[2])
        yield Number(num + (match["percent"] or ""), value / 100 if percent else value, decimals, percent), context


def load_facts(path: Path = FACTS) -> dict[str, tuple[Decimal, str, frozenset[str] | None]]:
    """The facts file: [[fact]] tables with value (English notation), source, and optionally the notebooks
    (two-digit numbers) whose prose may quote it."""
    facts = {}
    for fact in tomllib.loads(path.read_text(encoding="utf-8"))["fact"]:
        if fact["value"] in facts:
            raise ValueError(f"{path.name}: {fact['value']} is listed twice; list each fact once")
        if not fact.get("source"):
            raise ValueError(f"{path.name}: {fact['value']} has no source")
        scope = frozenset(fact["notebooks"]) if "notebooks" in fact else None
        facts[fact["value"]] = (Decimal(fact["value"]), fact["source"], scope)
    return facts


def fact_values(facts, notebooks: set[str]) -> set[Decimal]:
    """The facts that hold where the given notebooks are talked about."""
    return {value for value, _, scope in facts.values() if scope is None or scope & notebooks}


def notebook_outputs(notebook: dict) -> str:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append("".join(output["text"]))
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in output.get("data", {}):
                    texts.append("".join(output["data"][mime]))
    return "\n".join(texts)


def check_notebook(path: Path, facts, german: bool | None = None) -> list[Finding]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    german = path.parent.name == "de" if german is None else german
    candidates = output_values(notebook_outputs(notebook)) | fact_values(facts, {path.name[:2]})
    findings = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for number, context in prose_numbers("".join(cell["source"]), german):
            if not traces(number, candidates):
                findings.append(Finding(f"{path.parent.name}/{path.name} cell {index}",
                                        number.text, context))
    return findings


def named_notebooks(text: str) -> set[str]:
    names = set()
    for match in NOTEBOOK_NAME.finditer(visible_text(text) + " " + " ".join(re.findall(r"notebooks/(\d\d)_", text))):
        low = int(match[1])
        high = int(match[2]) if match[2] else low
        names.update(f"{n:02d}" for n in range(low, high + 1))
    return names


def guide_blocks(markdown: str):
    """(first line number, block text, heading text) for each paragraph, list item or table row."""
    heading, block, first = "", [], 0
    in_fence = False
    for number, line in enumerate(markdown.splitlines() + [""], start=1):
        if line.startswith("```"):
            in_fence = not in_fence
        starts_new = (not in_fence and (not line.strip() or line.startswith(("#", "|", "* ", "- "))))
        if starts_new and block:
            yield first, "\n".join(block), heading
            block = []
        if not in_fence and line.startswith("#"):
            heading = line
            continue
        if line.strip():
            if not block:
                first = number
            block.append(line)


def check_guide(path: Path, facts, outputs_by_notebook: dict[str, set[Decimal]]) -> list[Finding]:
    german = path.name.endswith(".de.md")
    findings = []
    for line, block, heading in guide_blocks(path.read_text(encoding="utf-8")):
        names = named_notebooks(block) or named_notebooks(heading)
        candidates = fact_values(facts, names)
        for name in names:
            candidates |= outputs_by_notebook.get(name, set())
        for number, context in prose_numbers(block, german):
            if not traces(number, candidates):
                where = f"{path.name} line {line} (notebooks {', '.join(sorted(names)) or 'none'})"
                findings.append(Finding(where, number.text, context))
    return findings


def check_all(root: Path = ROOT, facts_path: Path = FACTS) -> list[Finding]:
    facts = load_facts(facts_path)
    findings = []
    outputs = {"en": {}, "de": {}}
    for lang, folder in (("en", root / "notebooks"), ("de", root / "notebooks" / "de")):
        for path in sorted(folder.glob("*.ipynb")):
            findings += check_notebook(path, facts, german=lang == "de")
            # 02a and 02b (06a and 06b) are the two parts of chapter 02 (06): facts and guides name the chapter
            stored = output_values(notebook_outputs(json.loads(path.read_text("utf-8"))))
            outputs[lang].setdefault(path.name[:2], set()).update(stored)
    # A guide describes the course in both editions: it may quote what either edition's notebook shows.
    both = {name: outputs["en"].get(name, set()) | outputs["de"].get(name, set())
            for name in set(outputs["en"]) | set(outputs["de"])}
    for guide in GUIDES:
        path = root / guide
        if path.exists():
            findings += check_guide(path, facts, both)
    return findings


def main():
    findings = check_all()
    for finding in findings:
        print(finding)
    print(f"{len(findings)} untraceable number(s)" if findings else "every number traces")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
