"""Guards of the design: the functional core imports no shell library, and the public surface
is declared once (the habit of httpx's test_exported_members)."""
from __future__ import annotations

import ast
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
