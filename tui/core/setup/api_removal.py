"""Removing a project's AWS setup through Rundeck's API: its config keys (each put back if a
later step fails), the local keyring copy, and, only when asked, the Key Storage entry.

The Key Storage entry goes last and only with consent: a password cannot be read back, so
deleting it cannot be undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tui.core.errors import ErrorKind, ToolError
from tui.core.keystore import KeyStore, KeyStoreError
from tui.core.model import Scope
from tui.core.rundeck import SETTING_NAMES, read_aws_settings, setting_key
from tui.core.rundeck_api import RundeckApiError, RundeckClient
from tui.core.secret import Secret
from tui.core.setup.model import ApplyResult, SetupError
from tui.core.steps import Step, StepCallback, StepStatus


@dataclass(frozen=True)
class ApiRemovalPlan:
    """What removing one project's AWS setup through the API does."""

    project: str
    before: dict[str, str]  # the AWS keys there now
    key_path: str | None
    access_key_id: str | None
    delete_key: bool  # also delete the Key Storage entry (irreversible)

    @property
    def diff(self) -> str:
        lines = [f"--- project {self.project} (Rundeck's database, now)", "+++ (after)"]
        lines += [f"-{key}={value}" for key, value in self.before.items()]
        return "\n".join(lines) + "\n" if self.before else ""

    @property
    def notes(self) -> tuple[str, ...]:
        """Said before the removal, headless (the wizard asks about the key instead)."""
        kept: tuple[str, ...] = ()
        if self.key_path and not self.delete_key:
            kept = (
                f"The secret stays in Rundeck Key Storage at {self.key_path} (pass --delete-key "
                "to delete it; that cannot be undone).",
            )
        return kept + self.aws_notes

    @property
    def aws_notes(self) -> tuple[str, ...]:
        """What the removal leaves in AWS."""
        if not self.access_key_id:
            return ()
        return (
            f"The IAM access key {self.access_key_id} stays Active in AWS: deactivate or "
            "delete it once nothing uses it.",
        )

    def to_json(self) -> dict[str, object]:
        return {
            "project": self.project,
            "delete": list(self.before),
            "key_storage_path": self.key_path,
            "delete_key": self.delete_key,
        }


def plan_api_removal(client: RundeckClient, project: str, *, delete_key: bool) -> ApiRemovalPlan:
    try:
        config = client.get_config(project)
    except RundeckApiError as error:
        message = f"Cannot read project {project}'s configuration: {error}"
        raise SetupError(message, kind=error.kind) from None
    keys = [setting_key(Scope.PROJECT, name) for name in SETTING_NAMES]
    before = {key: config[key] for key in keys if key in config}
    settings = read_aws_settings(config, Scope.PROJECT)
    return ApiRemovalPlan(
        project, before, settings.secret_key_path, settings.access_key, delete_key
    )


def apply_api_removal(
    plan: ApiRemovalPlan,
    client: RundeckClient,
    keystore: KeyStore | None,
    *,
    on_step: StepCallback | None = None,
) -> ApplyResult:
    """DELETE each key (put back on a later failure); then, if asked, the keyring copy and
    the Key Storage entry."""
    result = ApplyResult(ok=False)
    undo: list[tuple[str, Callable[[], None]]] = []

    def report(name: str, status: StepStatus, detail: str) -> None:
        step = Step(name, status, detail)
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    try:
        for key, value in plan.before.items():
            client.delete_config_key(plan.project, key)
            undo.append((key, _put_back(client, plan.project, key, value)))
        report("config", StepStatus.DONE, f"deleted {len(plan.before)} keys of {plan.project}")
        # The keyring copy and the Key Storage entry go together, both or neither.
        if plan.key_path and plan.delete_key and keystore is not None:
            path, copy = plan.key_path, keystore.get(plan.key_path)
            deleted = keystore.delete(path)
            if copy is not None:
                undo.append((path, lambda: _restore_copy(keystore, path, copy)))
            report("keyring", StepStatus.DONE if deleted else StepStatus.SKIPPED, path)
        if plan.key_path and plan.delete_key:
            client.delete_key(plan.key_path)
            report("key-storage", StepStatus.DONE, f"deleted {plan.key_path}")
    except (RundeckApiError, KeyStoreError) as error:
        problem: ToolError = error
        result.error, result.error_kind = str(problem), problem.kind
        report("error", StepStatus.FAILED, str(problem))
        for key, action in reversed(undo):
            try:
                action()
            except (RundeckApiError, KeyStoreError) as undo_error:
                result.still_changed.append(f"{key} stays deleted")
                report("config", StepStatus.FAILED, f"could not put {key} back: {undo_error}")
        if undo:
            report("config", StepStatus.ROLLED_BACK, "the deleted keys were put back")
        result.changed = bool(result.still_changed)
        result.summary = (
            "Nothing was removed."
            if not undo
            else "The rollback failed in part: " + "; ".join(result.still_changed) + "."
            if result.still_changed
            else "Everything was put back."
        )
        if result.error_kind is None:
            result.error_kind = ErrorKind.RUNDECK
        return result
    result.ok = result.changed = True
    return result


def _put_back(client: RundeckClient, project: str, key: str, value: str) -> Callable[[], None]:
    def put_back() -> None:
        client.set_config_key(project, key, value)

    return put_back


def _restore_copy(keystore: KeyStore, path: str, copy: Secret) -> None:
    keystore.put(path, copy, allow_insecure=True)
