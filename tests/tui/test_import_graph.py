"""The dashboard's modules form no import cycle; no screen, widget or dialog imports the app,
and no widget reaches the server."""

from __future__ import annotations

import grimp

PACKAGE = "home_idp.tui"


def _graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(PACKAGE)
    return {
        module: {
            m for m in graph.find_modules_directly_imported_by(module) if m.startswith(PACKAGE)
        }
        for module in graph.modules
    }


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(edges.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_no_screen_widget_or_dialog_imports_the_app() -> None:
    parts = tuple(f"{PACKAGE}.{part}." for part in ("screens", "widgets", "dialogs"))
    importers = [
        module
        for module, imported in _graph().items()
        if module.startswith(parts) and f"{PACKAGE}.app" in imported
    ]
    assert importers == []


def test_widgets_do_no_network_work() -> None:
    """Widgets take data through attributes and post messages; their screens talk to the server."""
    reaching_out = {f"{PACKAGE}.client", f"{PACKAGE}.context", f"{PACKAGE}.screens"}
    importers = [
        module
        for module, imported in _graph().items()
        if module.startswith(f"{PACKAGE}.widgets.") and imported & reaching_out
    ]
    assert importers == []
