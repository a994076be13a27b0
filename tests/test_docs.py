"""The operator docs name tests as proof of each privacy measure: every one of them must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NAMED_TEST = re.compile(r"tests/(test_\w+\.py)::(test_\w+)")


DOCS = sorted(str(path.relative_to(REPO)) for path in [REPO / "README.md", *(REPO / "docs").glob("*.md")])


@pytest.mark.parametrize("doc", DOCS)
def test_every_test_a_doc_names_exists(doc: str) -> None:
    named = set(NAMED_TEST.findall((REPO / doc).read_text(encoding="utf-8")))
    missing = []
    for file, name in sorted(named):
        path = REPO / "tests" / file
        functions = (
            {node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}
            if path.exists()
            else set()
        )
        if name not in functions:
            missing.append(f"{file}::{name}")
    assert not missing, f"{doc} names tests that do not exist: {missing}"
