"""The sidebar: projects and their apps as a tree."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from home_idp.tui.results import LiveRelease, ProjectApp
from home_idp.tui.widgets.formatting import safe_text

__all__ = ["AppNode", "ProjectNode", "ProjectTree"]


@dataclass(frozen=True)
class ProjectNode:
    """A project row: its global id, name and the user's role in it."""

    id: str
    name: str
    role: str | None


@dataclass(frozen=True)
class AppNode:
    """An app row, with the project it belongs to."""

    id: str
    name: str
    project: ProjectNode


_STATUS_MARK = {"RUNNING": "◐", "SUCCEEDED": "●", "FAILED": "✖", "CANCELLED": "○"}


def _label(app: AppNode, live: LiveRelease | None) -> Text:
    mark = _STATUS_MARK.get(live["status"], " ") if live else " "
    return safe_text(f"{mark} {app.name}")


class ProjectTree(Tree[ProjectNode | AppNode]):
    """Projects with their apps; choosing an app posts `AppChosen`, a project `ProjectChosen`."""

    @dataclass
    class AppChosen(Message):
        """The user picked an app."""

        app_node: AppNode

    @dataclass
    class ProjectChosen(Message):
        """The user picked a project (its pane opens)."""

        project_node: ProjectNode

    def __init__(self, id: str | None = None) -> None:
        super().__init__("Projects", id=id)
        self.show_root = False
        self.guide_depth = 2
        # Choosing a project opens its pane; its apps stay listed (space folds them).
        self.auto_expand = False

    def fill(self, projects: list[tuple[ProjectNode, list[ProjectApp]]]) -> None:
        """Replace the tree, keeping the highlighted row where it was."""
        keep = self.cursor_node.data if self.cursor_node else None
        kept: TreeNode[ProjectNode | AppNode] | None = None
        self.clear()
        for project, apps in projects:
            branch = self.root.add(safe_text(project.name, "bold"), data=project, expand=True)
            for app in apps:
                node = AppNode(app["id"], app["name"], project)
                leaf = branch.add_leaf(_label(node, app["liveRelease"]), data=node)
                if keep is not None and getattr(keep, "id", None) == node.id:
                    kept = leaf
        if not projects:
            self.root.add_leaf("No projects yet: press n to create one")
        if kept is not None:
            self._highlight(kept)

    def select_app(self, project: str, app: str) -> AppNode | None:
        for branch in self.root.children:
            for leaf in branch.children:
                data = leaf.data
                if isinstance(data, AppNode) and data.name == app and data.project.name == project:
                    self._highlight(leaf)
                    return data
        return None

    def _highlight(self, node: TreeNode[ProjectNode | AppNode]) -> None:
        # Textual numbers a tree's lines when it next paints, and the cursor is a
        # line number: a node added since has none yet (the cursor would fall on
        # the first row). Counting the lines numbers them now.
        if self.last_line >= 0:
            self.move_cursor(node)

    def show_live(self, app_id: str, live: LiveRelease | None) -> None:
        """Mark app `app_id` with the state of its live release, as it is now."""
        for branch in self.root.children:
            for leaf in branch.children:
                if isinstance(leaf.data, AppNode) and leaf.data.id == app_id:
                    leaf.set_label(_label(leaf.data, live))

    @property
    def current_app(self) -> AppNode | None:
        """The highlighted app, if the cursor is on one."""
        data = self.cursor_node.data if self.cursor_node else None
        return data if isinstance(data, AppNode) else None

    def apps_of(self, project: ProjectNode) -> list[AppNode]:
        """The apps listed under `project`."""
        for branch in self.root.children:
            if branch.data is not None and getattr(branch.data, "id", None) == project.id:
                return [leaf.data for leaf in branch.children if isinstance(leaf.data, AppNode)]
        return []

    @property
    def current_project(self) -> ProjectNode | None:
        data = self.cursor_node.data if self.cursor_node else None
        if isinstance(data, AppNode):
            return data.project
        return data

    def on_tree_node_selected(self, event: Tree.NodeSelected[ProjectNode | AppNode]) -> None:
        data = event.node.data
        if isinstance(data, AppNode):
            event.stop()
            self.post_message(self.AppChosen(data))
        elif isinstance(data, ProjectNode):
            event.stop()
            self.post_message(self.ProjectChosen(data))
