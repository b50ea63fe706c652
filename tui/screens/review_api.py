"""What Review says about Rundeck's API: the connection, Key Storage and the ACL notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from tui.core.setup import Blocker, SetupPlan

REPLACE_KEY_REASON = (
    "Key Storage already holds a key at {path} that this tool did not write. A password "
    "cannot be read back, so replacing it cannot be undone. Say yes to replacing it, or go "
    "back and choose another key path."
)


def connection_line(plan: SetupPlan) -> Text:
    """How the plan reaches Rundeck: through its API (with the versions) or the files."""
    from tui.core.rundeck_link import Offline, RundeckLink

    link = plan.rundeck
    if isinstance(link, RundeckLink):
        info = link.info
        versions = f"(Rundeck {info.rundeck_version}, API {info.api_version}) at {link.url.url}"
        if plan.api_config is None and plan.key_storage is None:
            # A role at the system scope: only the file changes; Rundeck is not written to.
            return Text.assemble(
                ("Rundeck's API: nothing to write there ", "bold"), versions, style="dim"
            )
        what = "Configuration" if plan.api_config is not None else "Key Storage"
        return Text.assemble((f"{what} through Rundeck's API ", "bold"), versions)
    if isinstance(link, Offline):
        return Text(f"Offline: {link.reason}", style="dim")
    return Text()


def key_storage_text(plan: SetupPlan, *, replace_key: bool) -> Text:
    """The Key Storage action: create, replace (irreversible or not) or keep."""
    action = plan.key_storage
    text = Text()
    if action is None:
        return text
    text.append("Key Storage: ", style="bold")
    if action.verb == "create":
        text.append(f"create the password at {action.path}")
    elif action.verb == "keep":
        text.append(f"keep the password at {action.path} (the same secret is there)", style="dim")
    elif action.irreversible:
        text.append(f"replace the password at {action.path}", style="bold yellow")
        if replace_key:
            text.append(" (you said yes: it cannot be undone)", style="yellow")
    else:
        text.append(f"replace the password at {action.path} (ours: a rollback restores it)")
    text.append("\n  type password (application/x-rundeck-data-password), never readable")
    return text


def needs_replace_consent(plan: SetupPlan, *, replace_key: bool) -> bool:
    """True while the plan would replace a key that is not ours and the admin did not agree."""
    action = plan.key_storage
    return action is not None and action.irreversible and not replace_key


def shown_blockers(plan: SetupPlan) -> list[Blocker]:
    """The blockers to list; the replace-key one is said by the consent row instead."""
    action = plan.key_storage
    if action is None or not action.irreversible:
        return list(plan.blockers)
    return [b for b in plan.blockers if "--replace-key" not in b.message]


def notes_text(plan: SetupPlan) -> Text:
    """What to do after applying: the ACL scope of the key, a restart."""
    if not plan.notes:
        return Text()
    return Text("\n".join(f"ℹ {note}" for note in plan.notes), style="cyan")
