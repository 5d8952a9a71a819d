"""The package's layers: every import inside diet/ points down the data flow, and no modules import each other in a circle.

The order, lowest first (a module may import its own layer and the ones below it):
    diet.errors, diet.files, diet.progress, diet.interrupts  (the ground floor: no task, model or score)
    stats -> data -> model -> scores -> prune -> integrations -> runs -> paper -> grid -> plots -> book -> cli
`diet/__init__.py` is the public surface and may take names from any layer; nothing inside imports it.
Imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "diet"
LAYERS = ["errors", "files", "progress", "interrupts", "stats", "data", "model", "scores", "prune", "integrations", "runs", "paper", "grid", "plots", "book", "cli"]
GROUND = {"errors", "files", "progress", "interrupts"}  # one floor: they may import each other


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The diet modules `path` imports (a `from diet.x import name` of a submodule counts as that submodule)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "diet"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "diet":
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found |= submodules if len(submodules) == len(node.names) else submodules | {node.module}
    return found


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return 0 if top in GROUND else LAYERS.index(top)


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(paths)) - {name} for name, path in paths.items()}


def test_every_module_sits_in_a_known_layer():
    unknown = sorted(m for m in import_graph() if m != "diet" and m.split(".")[1] not in LAYERS)
    assert not unknown, f"modules outside the layers {LAYERS}: {unknown}; place them in one or add the layer here"


def test_imports_point_down():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items() if module != "diet"
        for target in targets
        if target == "diet" or layer(target) > layer(module)
    )
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in `graph`, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    graph = import_graph()
    # A package's __init__ importing its own modules (to register them) is how registration is done, not a circle.
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    circle = _cycle(graph)
    assert circle is None, "modules that import each other in a circle: " + " -> ".join(circle)


def test_the_checks_catch_a_bad_graph():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert layer("diet.cli.main") > layer("diet.data.tasks") > layer("diet.errors")
