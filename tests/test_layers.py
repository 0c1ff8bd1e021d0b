"""Imports go one way: every module's imports (top-level, function-level and typing-only alike) are read with `ast`
and checked against the layer table below.

- A unit never imports a unit of a higher layer.
- Two units never import each other (within a layer, one of them owns what they share).
- Every genprm module is in the table, so a new package has to say where it stands.
- `sandbox` is its own package and imports nothing from genprm.
- No two genprm modules share a file name.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Layer -> units (a unit is a module or a package, named by its dotted prefix). Lower layers come first.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (
        "genprm.errors", "genprm.types", "genprm.config", "genprm.scoring", "genprm.jsonl", "genprm.data",
        "genprm.batch", "genprm.answers", "genprm.render", "genprm.backends", "genprm.claims",
        "genprm.prompts", "genprm.models", "genprm.labels",
    ),
    # The registry resolves a model's settings into a config and checks its protocol by loading it.
    "protocols": ("genprm.protocols", "genprm.registry"),
    "engines": ("genprm.verifier", "genprm.search", "genprm.distill", "genprm.eval"),
    "entry points": (
        "genprm",  # the package itself: the public API, which re-exports the verifier
        "genprm.cli", "genprm.serve", "genprm.integrations", "genprm.distributed", "genprm.review",
    ),
}
SAME_UNIT: dict[str, str] = {}

LAYER_NAMES = list(LAYERS)
LAYER_OF = {unit: i for i, units in enumerate(LAYERS.values()) for unit in units}


def unit_of(module: str) -> str | None:
    """The table's unit of a dotted module name: its longest prefix in the table (the bare package only matches
    itself)."""
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYER_OF:
            return SAME_UNIT.get(prefix, prefix)
    return "genprm" if module == "genprm" else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports anywhere in its body: at the top, in functions, under `if TYPE_CHECKING`."""
    current = module_name(path)
    package = current if path.name == "__init__.py" else current.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from pkg import name`: the submodule when `name` is one, else the package itself
                where = ROOT.joinpath(*base.split("."), alias.name)
                found.add(f"{base}.{alias.name}" if where.is_dir() or where.with_suffix(".py").is_file() else base)
    return found


def unit_imports() -> dict[str, dict[str, set[str]]]:
    """unit -> {imported unit -> the modules that import it}, between different units."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted((ROOT / "genprm").rglob("*.py")):
        source = module_name(path)
        here = unit_of(source)
        assert here is not None, f"{source} is in no layer: add it to LAYERS in {Path(__file__).name}"
        targets = {unit_of(m) for m in imported_modules(path) if m == "genprm" or m.startswith("genprm.")}
        for target in targets - {here, None}:
            edges[here][target].add(source)  # type: ignore[index]
    return edges


def test_no_unit_imports_a_higher_layer():
    upward = [f"{', '.join(sorted(modules))} ({LAYER_NAMES[LAYER_OF[a]]}) imports {b} ({LAYER_NAMES[LAYER_OF[b]]})"
              for a, targets in unit_imports().items() for b, modules in targets.items()
              if LAYER_OF[b] > LAYER_OF[a]]
    assert not upward, "\n".join(upward)


def test_no_two_units_import_each_other():
    edges = unit_imports()
    both_ways = [f"{a} <-> {b}: {', '.join(sorted(edges[a][b]))} / {', '.join(sorted(edges[b][a]))}"
                 for a in edges for b in edges[a] if a < b and a in edges.get(b, {})]
    assert not both_ways, "\n".join(both_ways)


def test_sandbox_imports_nothing_from_genprm():
    leaks = [str(p.relative_to(ROOT)) for p in (ROOT / "sandbox").rglob("*.py")
             if any(m == "genprm" or m.startswith("genprm.") for m in imported_modules(p))]
    assert not leaks, leaks


def test_the_checker_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    package = tmp_path / "genprm" / "eval"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "y.py").write_text("")
    (package / "x.py").write_text("def f():\n    from genprm.search import run\n    from . import y\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert imported_modules(package / "x.py") == {"genprm.search", "genprm.eval.y"}
    assert unit_of("genprm.search.run") == "genprm.search" and unit_of("genprm.protocols.chain") == "genprm.protocols"
    assert unit_of("genprm.cli.distill") == "genprm.cli" and unit_of("genprm.nothing") is None



def test_no_two_modules_share_a_name():
    """One name per idea: a module's file name says what it is without its folder (`__init__`/`__main__` aside), so
    `config.py` in four packages cannot come back. `sandbox` is its own package and keeps its own names."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in (ROOT / "genprm").rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            by_name[path.name].append(str(path.relative_to(ROOT)))
    repeated = {name: sorted(paths) for name, paths in by_name.items() if len(paths) > 1}
    assert not repeated, repeated
