"""Imports point one way: golden <- hw <- sim, boards <- reports <- zipcore."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "golden": {"golden"},
    "hw": {"golden", "hw"},
    "sim": {"golden", "hw", "sim"},
    "boards": {"golden", "hw", "boards"},
    "reports": {"golden", "hw", "sim", "boards", "reports"},
    "zipcore": {"golden", "hw", "sim", "boards", "reports", "zipcore"},
}


def imported_packages(path: Path, package: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(package if node.level else (node.module or "").split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    for f in files:
        bad = imported_packages(f, package) - ALLOWED[package]
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_importable(package):
    __import__(package)
