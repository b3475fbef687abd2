"""Guards of the design: the functional core imports no shell library, and the public surface
is declared once (the habit of httpx's test_exported_members)."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import ralph_watch

PKG = Path(ralph_watch.__file__).parent

CORE = ["errors", "clock", "constants", "limits", "tasks", "strictyaml", "strictyaml_messages", "sidecar", "config",
        "config_model", "config_read", "config_sections", "config_accounts", "schedule", "inbox", "postplan",
        "reconcile", "reload", "cron",
        "dedupe",
        "tiktok/protocol", "tiktok/errors", "reinit", "calendar_view", "media_rules", "outcomes", "progress", "polling"]
# What the pure core may import besides the standard library.
ALLOWED_THIRD_PARTY = {"yaml", "croniter"}
SHELL_ONLY = {"httpx", "httpcore", "bottle", "waitress", "watchdog", "av", "apprise", "socket", "subprocess",
              "urllib.request", "http.client"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE)
def test_it_keeps_the_core_free_of_shell_libraries(module):
    found = imports_of(PKG / f"{module}.py")
    bad = {n for n in found if n.split(".")[0] in SHELL_ONLY or n in SHELL_ONLY}
    assert not bad, f"{module}.py is core but imports {sorted(bad)}: move that code into a shell module"


@pytest.mark.parametrize("module", CORE)
def test_it_keeps_the_core_away_from_the_real_clock(module):
    text = (PKG / f"{module}.py").read_text()
    if module == "clock":
        return
    for call in ("datetime.now(", "time.time(", "time.sleep(", "date.today("):
        assert call not in text, f"{module}.py reads the real clock ({call}); take `now` as a parameter"


def test_the_public_surface_is_declared_and_complete():
    public = {n for n in dir(ralph_watch) if not n.startswith("_")} - {"annotations"}
    modules = {p.stem for p in PKG.iterdir() if p.suffix == ".py"} | {"tiktok", "web", "emulator"}
    assert set(ralph_watch.__all__) == public - modules
    for name in ralph_watch.__all__:
        assert getattr(ralph_watch, name).__module__ == "ralph_watch", name


def _absolute_imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved against its package."""
    package = path.relative_to(PKG.parent).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("path", sorted((PKG / "emulator").glob("*.py")), ids=lambda p: p.name)
def test_the_emulator_imports_the_protocol_never_the_client(path):
    found = {n for n in _absolute_imports(path) if n.startswith("ralph_watch.tiktok.")}
    bad = {n for n in found if n.split(".")[2] not in ("protocol", "errors")}
    assert not bad, f"emulator/{path.name} imports {sorted(bad)}: the emulator may use tiktok.protocol and " \
                    f"tiktok.errors only, so it cannot share a bug with the client it tests"


# -- the house's shape (issue 13): sizes, layers, no cycles ---------------------------------------
MAX_MODULE_LINES = 520     # "about 500": a module that grows past it holds two concepts
MAX_FUNCTION_LINES = 65    # "about 60", data tables excepted (none today)
MODULES = sorted(p for p in PKG.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_holds_more_than_one_concept(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines: split it by concept (ARCHITECTURE.md)"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_function_is_longer_than_a_screen(path):
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{_name(path)}: {long} over {MAX_FUNCTION_LINES} lines: give the steps names"


@functools.lru_cache(maxsize=1)
def _graph() -> dict[str, set[str]]:
    """Module -> the ralph_watch modules it imports at module level (not inside functions: those
    are the measured lazy imports of cli and the optional extras)."""
    known = {_name(p) for p in MODULES}
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        package = path.relative_to(PKG.parent).with_suffix("").parts[:-1]
        if path.name == "__init__.py":
            package = path.relative_to(PKG.parent).parts[:-1]
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = list(package[:len(package) - node.level + 1]) if node.level else []
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
                deps.add(module)
                deps.update(f"{module}.{a.name}" for a in node.names)
        graph[_name(path)] = {d for d in deps if d in known and d != _name(path)}
    return graph


def test_there_are_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d.startswith(m + "."):
                continue   # a package importing its own modules in __init__ is no cycle
            if state.get(d) == 1 and not m.startswith(d + "."):
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2
    for m in sorted(graph):
        if m not in state:
            visit(m)


def _core_name(module: str) -> str:
    return "ralph_watch." + module.replace("/", ".")


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_only_the_core(module):
    """Decisions depend on decisions, never on an adapter (relative imports included)."""
    core = {_core_name(m) for m in CORE} | {"ralph_watch", "ralph_watch.tiktok"}
    deps = _graph()[_core_name(module)]
    bad = sorted(d for d in deps if d not in core and not any(d.startswith(c + ".") for c in core))
    assert not bad, f"{module}.py is core but imports the shell modules {bad}"


@pytest.mark.parametrize("path", sorted((PKG / "web").glob("*.py")), ids=lambda p: p.name)
def test_the_web_layer_speaks_to_the_service_only_through_its_backend(path):
    deps = _graph()[_name(path)]
    bad = sorted(d for d in deps if d.split(".")[1:2] and d.split(".")[1] in ("service", "account", "publisher", "scheduler", "pairsync",
                                                        "workers", "emulator") or d.startswith("ralph_watch.tiktok.client"))
    assert not bad, f"web/{path.name} imports {bad}: the page reaches the service through web.backend.WebBackend"


def test_architecture_md_names_every_module_and_the_same_core():
    text = (PKG.parent / "docs" / "ARCHITECTURE.md").read_text()
    missing = [m for m in (_name(p) for p in MODULES)
               if not m.endswith("__init__") and m != "ralph_watch"
               and f"`{m.removeprefix('ralph_watch.').replace('.', '/')}" not in text]
    assert not missing, f"docs/ARCHITECTURE.md does not name {missing}"
    line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith("Pure core:"))
    named = {w.strip("`,. ") for w in line.removeprefix("Pure core:").split() if w.strip("`,. ")}
    assert named == set(CORE), f"ARCHITECTURE.md's core {sorted(named ^ set(CORE))} differs from CORE"


# Imports inside functions: the measured lazy ones of the command line (`ralph-watch status`
# must not load the service), and the heavy or optional libraries, loaded where they are used.
LAZY_MODULES = {"cli", "cli_check", "cli_page"}
LAZY_LIBRARIES = {"av", "apprise", "ruamel", "thumbnails"}   # web.thumbnails loads av


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_imports_are_at_the_top(path):
    if path.stem in LAZY_MODULES:
        return
    late = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if not any(n.split(".")[0] in LAZY_LIBRARIES or n.split(".")[-1] in LAZY_LIBRARIES
                               for n in names):
                        late.append(f"{fn.name}:{node.lineno} {names}")
    assert not late, f"{_name(path)} imports inside functions {late}: move them to the top (no cycle needs it)"
