"""No import circle: the imports between the modules of a source tree (every ``import`` statement,
at module level or inside a function, since a lazy import is still a dependency) form no cycle.

Read from the source with ``ast`` (nothing is imported), for the package (``ead_ext/``: the library,
its applications, tasks and testing helpers) and the integrations (``integrations/``, installed as
``ead_ext.integrations``): the vLLM shims depend one way, plugin -> v1 / v2 / admission / reject ->
rules / features / log / hooks -> params. And the layers depend one way: applications (``ead_ext.apps``)
-> integrations -> library (the rest of ``ead_ext``) -> compiled op, the test helpers (``ead_ext.testing``)
imported by none of them.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE_OF = {"ead_ext": "ead_ext", "integrations": "ead_ext.integrations"}
#: compiled extension modules (no .py file): ``from . import _C`` imports the extension, not the package
COMPILED = {"ead_ext._C"}


def _modules(root: Path, package: str) -> dict:
    """module name -> file, for every .py under root (``__init__`` named by its package)."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = list(f.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package] + parts)] = f
    return out


def _imports(name: str, f: Path, known: set) -> set:
    """The modules of ``known`` that module ``name`` (file ``f``) imports."""
    is_pkg = f.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import mod`` imports pkg.mod; ``from pkg import name`` imports pkg
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # a name imported from a module: the module
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def find_cycle(graph: dict):
    """One cycle of ``graph`` (module -> imported modules) as a list, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def graph_of(folder: str) -> dict:
    mods = _modules(REPO / folder, PACKAGE_OF[folder])
    known = set(mods) | COMPILED
    return {n: _imports(n, f, known) for n, f in mods.items()}


@pytest.mark.parametrize("folder", sorted(PACKAGE_OF))
def test_no_import_cycle(folder):
    graph = graph_of(folder)
    assert len(graph) > 5 and any(graph.values())  # the walk found the modules and their imports
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_no_import_cycle_across_package_and_integrations():
    """The two folders as the one installed package: no cycle through both (applications -> integrations
    -> library, never back)."""
    mods = {}
    for folder, package in PACKAGE_OF.items():
        mods.update(_modules(REPO / folder, package))
    known = set(mods) | COMPILED
    graph = {n: _imports(n, f, known) for n, f in mods.items()}
    inside = "ead_ext.integrations"
    assert any(not n.startswith(inside) and m.startswith(inside) for n, deps in graph.items() for m in deps)
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_vllm_shims_depend_one_way():
    """The vLLM-free rules import no vLLM and no shim; v1 and v2 do not import each other or the plugin."""
    g = graph_of("integrations")
    p = "ead_ext.integrations.vllm."
    for low in ("rules", "params", "features", "log", "hooks"):
        assert not {m for m in g[p + low] if m.startswith(p)} - {p + "params"}, (low, g[p + low])
    for shim in ("v1", "v2", "admission", "reject"):
        assert not g[p + shim] & {p + "plugin", p + "v1", p + "v2", p + "admission", p + "reject"}, (shim, g[p + shim])
    rules_src = (REPO / "integrations/vllm/rules.py").read_text()
    assert "import vllm" not in rules_src and "from vllm" not in rules_src


def _layer(module: str) -> str:
    if module == "ead_ext.__main__":  # ``python -m ead_ext``: the ead-ext command
        return "applications"
    for prefix, layer in (("ead_ext.integrations", "integrations"), ("ead_ext.apps", "applications"),
                          ("ead_ext.testing", "testing")):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return "library"


#: what each layer may import (besides itself): applications -> integrations -> library -> compiled op;
#: the test helpers sit beside the library and are imported by no layer of the product
MAY_IMPORT = {"library": set(), "integrations": {"library"}, "applications": {"integrations", "library"},
              "testing": {"library"}}


def test_dependencies_run_one_way():
    """The layout's layers: the library imports no integration and no application, the integrations
    no application, and no layer of the product imports the test helpers."""
    mods = {}
    for folder, package in PACKAGE_OF.items():
        mods.update(_modules(REPO / folder, package))
    known = set(mods) | COMPILED
    layers = {_layer(n) for n in mods}
    assert layers == set(MAY_IMPORT), layers  # every layer exists (the walk saw the whole tree)
    wrong = sorted(f"{n} ({_layer(n)}) imports {m} ({_layer(m)})"
                   for n, f in mods.items() for m in _imports(n, f, known) - COMPILED
                   if _layer(m) != _layer(n) and _layer(m) not in MAY_IMPORT[_layer(n)])
    assert not wrong, "\n".join(wrong)


def test_layer_check_sees_a_wrong_import():
    assert _layer("ead_ext.schedule") == "library" and _layer("ead_ext.apps.training.run") == "applications"
    assert _layer("ead_ext.integrations.vllm.v2") == "integrations" and _layer("ead_ext.testing.net") == "testing"
    assert "applications" not in MAY_IMPORT["integrations"] and "integrations" not in MAY_IMPORT["library"]
