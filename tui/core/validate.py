"""Validators for what a user types: access key ids, secrets, regions."""

from __future__ import annotations

import re
from functools import lru_cache

from tui.core.errors import UsageProblem
from tui.core.secret import Secret

ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{20}")
SECRET_ACCESS_KEY = re.compile(r"[A-Za-z0-9/+]{40}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")

# Prefixes of IAM unique ids that are not long-term access keys, with why each is refused.
REFUSED_PREFIXES = {
    "ASIA": "is a temporary (STS session) key: it expires, so it cannot be stored as a "
    "long-term key. Create an access key for an IAM user instead.",
    "AIDA": "is an IAM user id, not an access key id.",
    "AROA": "is an IAM role id, not an access key id.",
    "AGPA": "is an IAM group id, not an access key id.",
}


class ValidationError(UsageProblem, ValueError):
    """Input that cannot be used; the message says why and never repeats a secret."""


def validate_access_key_id(value: str) -> str:
    """A long-term access key id (``AKIA`` + 16), trimmed; anything else is refused with why."""
    value = value.strip()
    if not value:
        raise ValidationError("The access key id is empty.")
    prefix = value[:4].upper()
    if prefix in REFUSED_PREFIXES:
        raise ValidationError(f"{value[:4]}… {REFUSED_PREFIXES[prefix]}")
    if len(value) != 20:
        raise ValidationError(f"An access key id has 20 characters; this one has {len(value)}.")
    if not ACCESS_KEY_ID.fullmatch(value):
        raise ValidationError("An access key id has only capital letters and digits.")
    if not value.startswith("AKIA"):
        raise ValidationError(
            f"A long-term access key id starts with AKIA; this one starts with {value[:4]}."
        )
    return value


def clean_secret(value: str) -> Secret:
    """A secret access key with surrounding whitespace trimmed, or a ValidationError."""
    value = value.strip()
    if not value:
        raise ValidationError("The secret access key is empty.")
    if len(value) != 40:
        raise ValidationError(f"A secret access key has 40 characters; this one has {len(value)}.")
    if not SECRET_ACCESS_KEY.fullmatch(value):
        raise ValidationError(
            "A secret access key has only letters, digits, '/' and '+'; this one has others."
        )
    return Secret(value)


@lru_cache(maxsize=1)
def known_regions() -> tuple[str, ...]:
    """Every AWS region botocore knows offline (commercial, China and GovCloud partitions)."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return tuple(sorted(regions))


def validate_region(value: str) -> str:
    """A region name botocore knows, trimmed and lower-cased."""
    value = value.strip().lower()
    if not value:
        raise ValidationError("The region is empty.")
    if not REGION.fullmatch(value):
        raise ValidationError("The region is not shaped like an AWS region (e.g. us-east-1).")
    if value not in known_regions():
        raise ValidationError(
            "The region is not one this version of botocore knows (e.g. us-east-1)."
        )
    return value
