"""Rundeck's naming rules, defined once: project names and key-storage path segments."""

from __future__ import annotations

import re

# Rundeck's rule for resource names (FrameworkResource.VALID_RESOURCE_NAME_REGEX).
PROJECT_NAME_PATTERN = re.compile(r"[-_a-zA-Z0-9+][-._a-zA-Z0-9+]*")
PROJECT_NAME_MAX = 200
# Characters of a key-storage path segment: letters, digits and , . + _ - (Rundeck's
# StorageParams also allows inner spaces, which we refuse: they break copied commands).
KEY_PATH_CHARACTER = re.compile(r"[A-Za-z0-9.,+_/-]")


def project_name_problem(name: str) -> str | None:
    """Why Rundeck would refuse ``name`` as a project name, or None when it accepts it."""
    if not name:
        return "The project name is empty."
    if "/" in name or "\\" in name or name in (".", ".."):
        return (
            "The project name contains a path separator or is '.'/'..'; "
            "Rundeck project names are a single folder name."
        )
    if len(name) > PROJECT_NAME_MAX:
        return f"The project name is longer than {PROJECT_NAME_MAX} characters."
    if not PROJECT_NAME_PATTERN.fullmatch(name):
        return (
            "The project name has characters Rundeck rejects: use letters, digits "
            "and - _ . + (not starting with a dot)."
        )
    return None


def is_project_name(name: str) -> bool:
    return project_name_problem(name) is None
