"""The house rule that keeps diet readable: no module over 300 lines, no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "diet"
MODULE_LINES = 300
FUNCTION_LINES = 60


def test_no_module_is_too_long():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py") if (n := p.read_text().count("\n")) > MODULE_LINES}
    assert not long, f"modules over {MODULE_LINES} lines (split them by job): {long}"


def test_no_function_is_too_long():
    long = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (n := node.end_lineno - node.lineno + 1) > FUNCTION_LINES:
                long[f"{path.relative_to(PACKAGE.parent)}:{node.name}"] = n
    assert not long, f"functions over {FUNCTION_LINES} lines (split them): {long}"
