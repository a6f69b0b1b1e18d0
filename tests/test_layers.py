"""The layers of the course's code (pyproject.toml's import-linter contracts, run by `make lint-imports`) for the
two single-file modules import-linter cannot analyse: torchnlp.py stands on the machinery only, and nothing
below the scripts imports finetune.py."""
import ast
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def machinery():
    """The modules below torchnlp, as the contract "The machinery is below torchnlp" lists them."""
    (contract,) = [c for c in CONTRACTS if c["name"].startswith("The machinery is below torchnlp")]
    return set(contract["source_modules"])


def test_torchnlp_imports_only_the_machinery_below_it():
    course = {name for name in imported_modules(ROOT / "torchnlp.py") if name.startswith("course.")}
    modules = {".".join(name.split(".")[:2]) for name in course}
    assert modules and modules <= machinery(), f"torchnlp.py imports {sorted(modules - machinery())} from above it"


def test_nothing_but_tests_imports_the_script():
    for path in [ROOT / "torchnlp.py", *sorted((ROOT / "course").glob("*.py"))]:
        assert "finetune" not in imported_modules(path), f"{path.name} imports finetune.py, a script on top"


def test_every_machinery_module_named_in_the_contract_exists():
    """A renamed module must be renamed in the contract too, or import-linter would no longer check it."""
    for name in machinery():
        assert (ROOT / (name.replace(".", "/") + ".py")).is_file(), f"{name} is named in pyproject but missing"
