"""The sidebar's cursor: where it lands when the tree is refilled or an app is picked."""

from __future__ import annotations

from textual.app import App, ComposeResult

from home_idp.tui.results import ProjectApp
from home_idp.tui.widgets.project_tree import AppNode, ProjectNode, ProjectTree

SHOP = ProjectNode("p1", "shop", "developer")
LAB = ProjectNode("p2", "lab", "viewer")


def projects(*extra: str) -> list[tuple[ProjectNode, list[ProjectApp]]]:
    def app(id: str, name: str) -> ProjectApp:
        return {"id": id, "name": name, "liveRelease": None}

    return [
        (SHOP, [app("a1", "web"), app("a2", "api")]),
        (LAB, [app("a3", "notebook"), *(app(f"x-{name}", name) for name in extra)]),
    ]


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ProjectTree(id="tree")


def highlighted(tree: ProjectTree) -> object:
    node = tree.cursor_node
    return node.data if node else None


async def test_an_app_picked_just_after_the_tree_is_filled_gets_the_cursor() -> None:
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(ProjectTree)
        tree.fill(projects())
        # In the same tick, before the tree is painted: enter must open this app.
        chosen = tree.select_app("lab", "notebook")
        assert chosen == AppNode("a3", "notebook", LAB)
        assert highlighted(tree) == chosen


async def test_refilling_the_tree_keeps_the_highlighted_app_even_when_rows_come_before_it() -> None:
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(ProjectTree)
        tree.fill(projects())
        await pilot.pause()
        tree.select_app("lab", "notebook")
        await pilot.pause()

        tree.fill(projects("another"))
        assert highlighted(tree) == AppNode("a3", "notebook", LAB)
        await pilot.pause()
        assert highlighted(tree) == AppNode("a3", "notebook", LAB)
