"""Modal dialogs: questions, forms and read-only views."""

from home_idp.tui.dialogs.choose import ChoiceDialog
from home_idp.tui.dialogs.confirm import ConfirmDialog
from home_idp.tui.dialogs.file_edit import FileDialog
from home_idp.tui.dialogs.form import FormDialog, FormField
from home_idp.tui.dialogs.submitting import FormValues
from home_idp.tui.dialogs.text_view import TextViewDialog
from home_idp.tui.dialogs.versions import VersionsDialog

__all__ = [
    "ChoiceDialog",
    "ConfirmDialog",
    "FileDialog",
    "FormDialog",
    "FormField",
    "FormValues",
    "TextViewDialog",
    "VersionsDialog",
]
