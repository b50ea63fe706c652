"""Plain value types shared by the whole core: methods, scopes and the answers of a setup."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Method(StrEnum):
    """How Rundeck authenticates to AWS."""

    EC2 = "ec2"
    ECS = "ecs"
    ACCESS_KEY = "access-key"

    @property
    def title(self) -> str:  # type: ignore[override]  # a label reads better than str.title
        return METHOD_TITLES[self]


METHOD_TITLES = {
    Method.EC2: "EC2 IAM role",
    Method.ECS: "ECS task IAM role",
    Method.ACCESS_KEY: "Access key + secret key",
}


class Scope(StrEnum):
    """Where the settings go: Rundeck's framework.properties or one project's properties."""

    SYSTEM = "system"
    PROJECT = "project"


@dataclass(frozen=True)
class Answers:
    """Everything a setup needs except the secret, which travels separately as a Secret."""

    method: Method
    scope: Scope
    project: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    key_path: str | None = None
