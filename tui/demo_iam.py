"""The demo's AWS remembers the sandbox's access keys: moto forgets everything at exit, so on
each start every key the sandbox's files name (with its secret from the demo keyring) is made
again, id and secret alike, as the key of an IAM user of its own.

moto's server runs in this process, so its IAM backend is reached directly: its API cannot
create a key with a given id. Demo only; nothing here runs outside --demo.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from tui.demo_imds import DEMO_ACCOUNT, moto_client


def configured_keys(rdeck_base: Path, keyring: Any) -> list[tuple[str, str, str]]:
    """(IAM user name, access key id, secret) of every access-key setup in the sandbox."""
    from tui.core.keystore import KeyStore
    from tui.core.model import Scope
    from tui.core.rotation import RotationError, load_target
    from tui.core.rundeck import RundeckError, find_install, read_aws_settings
    from tui.demo_rundeck import saved_projects

    try:
        install = find_install(rdeck_base, env={})
    except RundeckError:
        return []
    store = KeyStore(keyring, assume_security="secure")
    pairs: list[tuple[str, str, str]] = []  # (label, access key id, key path)
    # Projects as the demo's Rundeck held them at the last exit, when it was started; else
    # as the files on disk say.
    held = saved_projects(rdeck_base.parent)
    scopes: list[tuple[Scope, str | None, str]] = [(Scope.SYSTEM, None, "system")]
    if held is None:
        scopes += [(Scope.PROJECT, name, name) for name in install.list_projects()]
    else:
        for name, config in held.items():
            settings = read_aws_settings(config, Scope.PROJECT)
            if settings.access_key and settings.secret_key_path:
                pairs.append((name, settings.access_key, settings.secret_key_path))
    for scope, project, label in scopes:
        try:
            target = load_target(install, scope, project)
        except (RotationError, RundeckError, OSError):
            continue  # not an access-key setup
        pairs.append((label, target.access_key_id, target.key_path))
    found = []
    for label, access_key_id, key_path in pairs:
        with contextlib.suppress(Exception):
            secret = store.get(key_path)
            if secret is not None:
                found.append((f"rundeck-demo-{label}", access_key_id, secret.reveal()))
    return found


def seed_keys(moto_url: str, keys: list[tuple[str, str, str]]) -> None:
    """Make each (user, key id, secret) a key of that IAM user in moto's in-process IAM."""
    from moto.iam.models import iam_backends

    backend = iam_backends[DEMO_ACCOUNT]["aws"]
    iam = moto_client(moto_url, "iam")
    for user, key_id, secret in keys:
        if key_id in backend.access_keys:
            continue
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_user(UserName=user)
        key = backend.create_access_key(user)
        backend.access_keys.pop(key.physical_resource_id)
        key.access_key_id, key.secret_access_key = key_id, secret
        backend.access_keys[key.physical_resource_id] = key
