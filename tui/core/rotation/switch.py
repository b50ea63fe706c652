"""The switch from one key to another, and its undo: the one place that changes which key
Rundeck uses (keyring secret at the same path, ``access_key`` in the file, the record)."""

from __future__ import annotations

import contextlib

from tui.core.errors import ErrorKind
from tui.core.keystore import KeyStoreError
from tui.core.properties import PropertiesError
from tui.core.record import RotationState, SetupRecord, fingerprint
from tui.core.rotation.run import Run
from tui.core.rotation.target import RotationError
from tui.core.rundeck_api import RundeckApiError, RundeckClient
from tui.core.secret import Secret
from tui.core.steps import StepStatus
from tui.core.writer import WriteError


class SwitchFailed(RotationError):
    """The switch did not complete and was undone as far as possible.

    ``aligned_on`` is the key that keyring and file both use afterwards, or None when they
    could not be brought to agree. The record is still the one from before the switch.
    """

    def __init__(self, message: str, kind: ErrorKind, aligned_on: str | None) -> None:
        super().__init__(message, kind)
        self.aligned_on = aligned_on


def switch_to_new(
    run: Run,
    new_id: str,
    new_secret: Secret,
    *,
    old_secret: Secret | None,
    iam_user: str | None,
    phase: str,
) -> None:
    """Switch from the configured key to ``new_id``, moving the marker on to ``phase``: the
    old key is recorded as the previous one, and its secret (when there is one) is kept
    beside the new one until the marker goes."""
    old_id = run.target.access_key_id
    now = run.clock()
    started = run.record.rotation.started_at if run.record.rotation else now
    record_after = run.record.updated(
        access_key_id=new_id,
        key_path=run.target.key_path,
        previous_access_key_id=old_id,
        previous_key_inactive=False,
        rotated_at=now,
        updated_at=now,
        iam_user=iam_user,
        rotation=RotationState(phase, old_id, new_id, started),
    )
    switch_key(
        run,
        from_id=old_id,
        from_secret=old_secret,
        to_id=new_id,
        to_secret=new_secret,
        record_after=record_after,
        keep_previous=old_secret is not None,
    )


def switch_key(
    run: Run,
    *,
    from_id: str,
    from_secret: Secret | None,
    to_id: str,
    to_secret: Secret,
    record_after: SetupRecord,
    keep_previous: bool,
) -> None:
    """Point keyring, file and record at ``to_id``; SwitchFailed, after the undo, when not.

    With ``keep_previous`` the keyring also keeps ``from_secret`` beside the current one, so
    an interrupted run can still go back; an undone switch removes it again.
    """
    target = run.target
    run.step("switch", StepStatus.RUNNING, f"switching {target.label} to {to_id}")
    try:
        before, document = run.read_file()
    except RotationError as error:
        raise SwitchFailed(str(error), error.kind, from_id) from None
    if document.get(target.access_key_setting) != from_id:
        raise SwitchFailed(
            f"{target.where} no longer uses {from_id}; someone changed it during the rotation.",
            ErrorKind.CONFIG,
            from_id,
        )
    keyring_on, file_on, storage_on, previous_stored = from_id, from_id, from_id, False
    try:
        if keep_previous and from_secret is not None:
            run.keystore.put(target.previous_path, from_secret, allow_insecure=True)
            previous_stored = True
        run.keystore.put(target.key_path, to_secret, allow_insecure=run.allow_insecure)
        keyring_on = to_id
        run.step("keyring", StepStatus.DONE, f"stored the secret of {to_id} at {target.key_path}")
        if run.key_storage is not None:
            upload_password(run.key_storage, target.key_path, to_secret)
            storage_on = to_id
            run.step(
                "key-storage",
                StepStatus.DONE,
                f"Rundeck Key Storage holds the secret of {to_id} at {target.key_path} "
                "(read back: a password)",
            )
        document.set(target.access_key_setting, to_id)
        after = document.to_bytes()
        run.result.backup = run.write_properties(after)
        file_on = to_id
        run.step(
            "properties",
            StepStatus.DONE,
            f"{target.access_key_setting}={to_id} in {target.short_where}",
        )
        run.save_record(record_after.updated(properties_sha256=fingerprint(after)))
        run.step("record", StepStatus.DONE, f"recorded the switch in {target.record_file.name}")
    except (KeyStoreError, WriteError, PropertiesError, RundeckApiError) as error:
        kind = error.kind
        run.step("switch", StepStatus.FAILED, str(error))
        storage_apart = False  # Key Storage holds the new secret, and could not go back
        if storage_on == to_id and from_secret is not None and run.key_storage is not None:
            try:
                upload_password(run.key_storage, target.key_path, from_secret)
                run.step(
                    "key-storage",
                    StepStatus.ROLLED_BACK,
                    f"{target.key_path} holds {from_id} again",
                )
            except (RundeckApiError, WriteError) as storage_error:
                storage_apart = True
                run.step(
                    "key-storage",
                    StepStatus.FAILED,
                    f"could not put the old secret back: {storage_error}",
                )
        on = _undo(run, from_id, from_secret, to_id, to_secret, keyring_on, file_on, before)
        if storage_apart and on == from_id:
            # Rundeck reads the new secret with the old id: neither key may go until a
            # resume, with Rundeck back, brings Key Storage in line (sync_key_storage).
            on = None
        if on == from_id and previous_stored:
            run.forget_previous()
        raise SwitchFailed(str(error), kind, on) from None
    run.step("switch", StepStatus.DONE, f"{target.label} now uses {to_id}")


def _undo(
    run: Run,
    from_id: str,
    from_secret: Secret | None,
    to_id: str,
    to_secret: Secret,
    keyring_on: str,
    file_on: str,
    before: bytes,
) -> str | None:
    """Put keyring and file back on ``from_id``; where one cannot go back, bring the other
    forward instead. Returns the key both use, or None when they could not be aligned.

    Without ``from_secret`` (it was missing before) there is nothing to go back to.
    """
    target = run.target
    if keyring_on == to_id and from_secret is not None:
        try:
            run.keystore.put(target.key_path, from_secret, allow_insecure=True)
            keyring_on = from_id
            run.step("keyring", StepStatus.ROLLED_BACK, f"{target.key_path} holds {from_id} again")
        except KeyStoreError as error:
            run.step("keyring", StepStatus.FAILED, f"could not put the old secret back: {error}")
    if file_on == to_id and from_secret is not None:
        try:
            run.restore_properties(before)
            file_on = from_id
            run.step("properties", StepStatus.ROLLED_BACK, f"{target.where} restored")
            if run.result.backup is not None:
                with contextlib.suppress(OSError):
                    run.result.backup.unlink()
                run.result.backup = None
        except WriteError as error:
            run.step("properties", StepStatus.FAILED, f"could not restore the file: {error}")
    if keyring_on != file_on and keyring_on == to_id:
        with contextlib.suppress(WriteError, RotationError, PropertiesError):
            run.write_file_key(to_id)
            file_on = to_id
            run.step("properties", StepStatus.DONE, f"kept {to_id}: the keyring holds its secret")
    elif keyring_on != file_on and file_on == to_id:
        with contextlib.suppress(KeyStoreError):
            run.keystore.put(target.key_path, to_secret, allow_insecure=True)
            keyring_on = to_id
            run.step("keyring", StepStatus.DONE, f"kept {to_id}: the file names it")
    return keyring_on if keyring_on == file_on else None


def upload_password(client: RundeckClient, path: str, secret: Secret) -> None:
    """The secret at ``path`` in Rundeck Key Storage, replacing what is there, read back as a
    password (what Rundeck's plugins require)."""
    if client.key_metadata(path) is None:
        client.create_password(path, secret)
    else:
        client.replace_password(path, secret)
    stored = client.key_metadata(path)
    if stored is None or not stored.is_password:
        raise WriteError(f"Rundeck Key Storage did not keep {path} as a password.")


def sync_key_storage(run: Run) -> None:
    """Key Storage holds what the keyring holds at the key path (the secret of the key the
    configuration names), so a kill or an outage between the two is repaired by the next run;
    a failure is a warning, the rest of the run stands."""
    if run.key_storage is None:
        return
    path = run.target.key_path
    try:
        current = run.keystore.get(path)
        if current is None:
            return
        upload_password(run.key_storage, path, current)
    except (KeyStoreError, RundeckApiError, WriteError) as error:
        run.step("key-storage", StepStatus.FAILED, str(error))
        run.result.warnings.append(f"Rundeck Key Storage could not be brought up to date: {error}")
        return
    run.step(
        "key-storage",
        StepStatus.DONE,
        f"{path} holds the secret the keyring holds (read back: a password)",
    )
