"""The layers of docs/architecture.md hold: imports go only to the same or an earlier layer, no cycles."""

import ast
from pathlib import Path

import semipose

ROOT = Path(semipose.__file__).parent
UTILITIES = {"config", "io", "skeletons", "plots", "reports", "pool", ""}
LAYERS = ["data", "codecs", "models", "metrics", "methods", "engine", "lift|pose2d", "export", "studies", "cli|demo"]
TASKS = ("lift", "pose2d")  # one layer, and neither imports the other


def _layer(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else ""
    if top in UTILITIES:
        return None
    return next(i for i, names in enumerate(LAYERS) if top in names.split("|"))


def _imports() -> dict[str, set[str]]:
    """Each semipose module's semipose imports (module-level and inside functions alike)."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("semipose", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                candidates = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            graph[name] |= {c for c in candidates if c in modules and c != name}
    return graph


def test_imports_go_only_to_the_same_or_an_earlier_layer():
    graph = _imports()
    # the parser sees relative, absolute and function-level imports
    assert {"semipose.engine", "semipose.models.tcn"} <= graph["semipose.lift.train"]
    assert "semipose.lift.train" in graph["semipose.cli.lift"]  # (imported inside the command functions)
    wrong = []
    for module, targets in graph.items():
        here = _layer(module)
        for t in targets:
            there = _layer(t)
            if here is not None and there is not None and there > here:
                wrong.append(f"{module} -> {t}")
            if here is None and there is not None:  # utilities import no layer
                wrong.append(f"{module} -> {t}")
    assert not wrong, wrong


def test_no_import_cycles():
    graph, state, cycles = _imports(), {}, []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_the_task_packages_import_nothing_of_each_other():
    graph = _imports()
    crossing = [
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        for a, b in (TASKS, TASKS[::-1])
        if m.split(".")[1] == a and t.split(".")[1:2] == [b]
    ]
    assert not crossing, crossing


def test_the_task_packages_have_the_same_verbs():
    """config, train, evaluate, predict and model_file on both sides, each with its main function."""
    import importlib

    for task in TASKS:
        for module, function in (("train", "train"), ("evaluate", "evaluate"), ("evaluate", "evaluate_model"),
                                 ("predict", "predict"), ("model_file", "load_model")):  # fmt: skip
            assert callable(getattr(importlib.import_module(f"semipose.{task}.{module}"), function)), (task, module)
