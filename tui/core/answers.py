"""Answers files: the TOML a provisioning script feeds to ``apply --answers`` (never a secret)."""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from tui.core.errors import UsageProblem
from tui.core.keystore import KeyPathError, default_key_path, validate_key_path
from tui.core.model import Answers, Method, Scope
from tui.core.redact import shown
from tui.core.rundeck import validate_project_name
from tui.core.validate import ValidationError, validate_access_key_id, validate_region

ANSWER_FIELDS = ("method", "scope", "project", "region", "access_key_id", "key_path", "rdeck_base")
FORBIDDEN_FIELDS = ("secret", "secret_key", "secret_access_key", "aws_secret_access_key")


class AnswersError(UsageProblem, ValueError):
    """Answers that cannot make a setup; the message names the field and the problem."""


def build_answers(values: Mapping[str, Any]) -> Answers:
    """Validated Answers from loose values (flags or a TOML table); None means not given."""
    method_text = values.get("method")
    if not method_text:
        raise AnswersError("No method given: use --method ec2|ecs|access-key.")
    try:
        method = Method(str(method_text))
    except ValueError:
        raise AnswersError(f"Unknown method {method_text!r}: use ec2, ecs or access-key.") from None
    scope_text = values.get("scope") or ("project" if values.get("project") else None)
    if not scope_text:
        raise AnswersError("No scope given: use --system or --project NAME.")
    try:
        scope = Scope(str(scope_text))
    except ValueError:
        raise AnswersError(f"Unknown scope {scope_text!r}: use system or project.") from None
    project = values.get("project")
    if scope is Scope.PROJECT:
        if not project:
            raise AnswersError("A project scope needs a project name (--project NAME).")
        project = validate_project_name(str(project))
    else:
        project = None
    try:
        region = validate_region(str(values["region"])) if values.get("region") else None
        access_key_id = key_path = None
        if method is Method.ACCESS_KEY:
            if not values.get("access_key_id"):
                raise AnswersError("The access-key method needs --access-key-id.")
            access_key_id = validate_access_key_id(str(values["access_key_id"]))
            key_path = validate_key_path(
                str(values.get("key_path") or default_key_path(project)),
                project=project,
                system_scope=scope is Scope.SYSTEM,
            )
        elif values.get("access_key_id"):
            raise AnswersError(f"--access-key-id does not apply to the {method} method.")
    except (ValidationError, KeyPathError) as error:
        raise AnswersError(str(error)) from None
    return Answers(method, scope, project, region, access_key_id, key_path)


def load_answers_file(path: Path) -> dict[str, Any]:
    """The raw table of an answers file, refusing any secret-looking field.

    The file's name is quoted only when it cannot be a secret typed in its place.
    """
    name = shown(str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnswersError(f"The answers file {name} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise AnswersError(f"Cannot read the answers file {name}: {reason}.") from None
    except tomllib.TOMLDecodeError as error:
        raise AnswersError(f"The answers file {name} is not valid TOML: {error}.") from None
    forbidden = [name for name in data if name.lower() in FORBIDDEN_FIELDS]
    if forbidden:
        raise AnswersError(
            f"The answers file {name} has a secret field ({forbidden[0]}); secrets never go in "
            "files. Remove it and pass the secret with --secret-stdin or --secret-file."
        )
    unknown = [name for name in data if name not in ANSWER_FIELDS]
    if unknown:
        raise AnswersError(f"The answers file {name} has unknown fields: {', '.join(unknown)}.")
    wrong = [name for name, value in data.items() if not isinstance(value, str)]
    if wrong:
        kind = type(data[wrong[0]]).__name__
        raise AnswersError(
            f"The answers file {name}: {wrong[0]} must be a string in quotes, not a {kind}."
        )
    return data


def dump_answers(answers: Answers, *, rdeck_base: str | None = None) -> str:
    """The answers file for ``answers``: what ``apply --answers`` reads back."""
    data: dict[str, Any] = {"method": str(answers.method), "scope": str(answers.scope)}
    optional = {
        "project": answers.project,
        "region": answers.region,
        "access_key_id": answers.access_key_id,
        "key_path": answers.key_path,
        "rdeck_base": rdeck_base,
    }
    data.update({name: value for name, value in optional.items() if value})
    return tomli_w.dumps(data)


def command_line(
    answers: Answers,
    *,
    rdeck_base: str | None = None,
    rundeck_url: str | None = None,
    offline: bool = False,
) -> str:
    """The equivalent headless command, without the secret or the token: with the Rundeck
    URL the wizard worked through (its token is then RD_TOKEN's, or the keyring's, where a
    verified one is kept), or ``--offline`` when the admin chose to work without the API."""
    parts = ["pa-aws-setup", "apply", "--method", str(answers.method)]
    parts += ["--project", answers.project] if answers.project else ["--system"]
    if answers.region:
        parts += ["--region", answers.region]
    if answers.access_key_id:
        parts += ["--access-key-id", answers.access_key_id]
    if answers.key_path:
        parts += ["--key-path", answers.key_path, "--secret-stdin"]
    if rdeck_base:
        parts += ["--rdeck-base", rdeck_base]
    if rundeck_url:
        parts += ["--url", rundeck_url]
    elif offline:
        parts += ["--offline"]
    return shlex.join([*parts, "--yes"])
