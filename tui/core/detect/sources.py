"""Which credential methods botocore's chain would find here, by name only.

Config files are read for their keys alone, so no credential value is ever held.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

from tui.core.detect.model import CredentialSources


def inspect_credential_sources(env: Mapping[str, str]) -> CredentialSources:
    """The static methods of botocore's chain that are configured here; no values are kept.

    Runtime methods (container-role, iam-role) are added by detect_environment from its probes.
    """
    profile = env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or "default"
    notes: list[str] = []
    config = _profile_section(
        env.get("AWS_CONFIG_FILE", "~/.aws/config"), _config_section_names(profile), notes
    )
    shared = _profile_section(
        env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), (profile,), notes
    )
    found: list[str] = []
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        found.append("env")
    elif env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_SECRET_ACCESS_KEY"):
        notes.append("env: only one of AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY is set")
    if "role_arn" in config and ({"source_profile", "credential_source"} & config.keys()):
        found.append("assume-role")
    if (env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN")) or (
        "role_arn" in config and "web_identity_token_file" in config
    ):
        found.append("assume-role-with-web-identity")
    if {"sso_session", "sso_start_url"} & config.keys():
        found.append("sso")
    if "aws_access_key_id" in shared:
        found.append("shared-credentials-file")
    if "login_session" in config:
        found.append("login")
    if "credential_process" in config:
        found.append("custom-process")
    if "aws_access_key_id" in config:
        found.append("config-file")
    if env.get("AWS_CREDENTIAL_FILE") and Path(env["AWS_CREDENTIAL_FILE"]).expanduser().is_file():
        found.append("ec2-credentials-file")
    boto_files = [env["BOTO_CONFIG"]] if "BOTO_CONFIG" in env else ["/etc/boto.cfg", "~/.boto"]
    if any("aws_access_key_id" in _ini_section(name, "Credentials", notes) for name in boto_files):
        found.append("boto-config")
    if profile != "default" and not config and not shared:
        notes.append(f"profile {profile!r} is not in the config or credentials file")
    return CredentialSources(
        sources=tuple(found), first=found[0] if found else None, profile=profile, notes=tuple(notes)
    )


def _config_section_names(profile: str) -> tuple[str, ...]:
    return ("default", "profile default") if profile == "default" else (f"profile {profile}",)


def _profile_section(path: str, sections: tuple[str, ...], notes: list[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for section in sections:
        merged.update(_ini_section(path, section, notes))
    return merged


def _ini_section(path: str, section: str, notes: list[str]) -> dict[str, str]:
    """Keys (values dropped to empty) of one section of an ini file; missing file → empty."""
    file = Path(os.path.expanduser(path))
    if not file.is_file():
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read(file, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        notes.append(f"{file.name}: unreadable or malformed")
        return {}
    if not parser.has_section(section):
        return {}
    return {key: "" for key in parser.options(section)}
