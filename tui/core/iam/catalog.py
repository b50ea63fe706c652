"""The catalog of Rundeck AWS plugins, the IAM actions each needs, and the resource kinds.

The data lives in ``plugins.toml`` beside this module, so adding a plugin is a data change.
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tui.core.errors import ConfigProblem, UsageProblem

PACKAGE = "tui.core.iam"
CATALOG_FILE = "plugins.toml"


class CatalogError(ConfigProblem):
    """The packaged catalog data is malformed: a bug in the package, never user input."""


class UnknownPlugin(UsageProblem, ValueError):
    """One or more plugin names are not in the catalog; the message lists the valid ids."""

    def __init__(self, unknown: Iterable[str], valid_ids: Iterable[str]) -> None:
        self.unknown = tuple(unknown)
        self.valid_ids = tuple(valid_ids)
        super().__init__(self._message())

    def _message(self) -> str:
        names = ", ".join(repr(name) for name in self.unknown)
        noun = "plugin" if len(self.unknown) == 1 else "plugins"
        hints = []
        for name in self.unknown:
            close = difflib.get_close_matches(name.lower(), self.valid_ids, n=1)
            if close:
                hints.append(f"{name!r} → {close[0]}")
        suggestion = f" Did you mean: {'; '.join(hints)}?" if hints else ""
        return f"Unknown {noun} {names}.{suggestion} Valid ids: {', '.join(self.valid_ids)}."


@dataclass(frozen=True)
class Plugin:
    """One Rundeck AWS plugin (or a group Rundeck documents together) and its IAM actions."""

    id: str
    name: str
    description: str
    actions: tuple[str, ...]
    resource_kind: str | None = None


@dataclass(frozen=True)
class ResourceTarget:
    """Actions IAM checks against the same ARNs, made from a user's resource by templates."""

    sid: str
    arns: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ResourceKind:
    """A kind of resource a user may name to narrow a policy, e.g. an S3 bucket."""

    id: str
    label: str
    example: str
    service: str
    regional: bool
    resource_prefix: str
    name_pattern: str
    strip_suffix: str
    targets: tuple[ResourceTarget, ...]
    hint: str = ""

    @property
    def actions(self) -> frozenset[str]:
        """Every action this kind can narrow."""
        return frozenset(action for target in self.targets for action in target.actions)


@dataclass(frozen=True)
class Catalog:
    plugins: tuple[Plugin, ...]
    resource_kinds: tuple[ResourceKind, ...]


def plugins() -> tuple[Plugin, ...]:
    """Every plugin in the catalog, in catalog order."""
    return load().plugins


def resource_kinds() -> tuple[ResourceKind, ...]:
    """Every resource kind a policy can be narrowed with."""
    return load().resource_kinds


def resource_kind(kind_id: str) -> ResourceKind:
    """The resource kind with this id; KeyError when there is none."""
    for kind in resource_kinds():
        if kind.id == kind_id:
            return kind
    raise KeyError(kind_id)


def find(ids: Iterable[str]) -> tuple[Plugin, ...]:
    """The plugins named by id or by Rundeck name (any case), in catalog order, once each.

    Raises UnknownPlugin naming every name that matches nothing.
    """
    catalog = plugins()
    by_key: dict[str, Plugin] = {}
    for plugin in catalog:
        by_key[plugin.id.lower()] = plugin
        by_key[plugin.name.lower()] = plugin
    wanted: set[str] = set()
    unknown: list[str] = []
    for raw in ids:
        name = raw.strip()
        match = by_key.get(name.lower())
        if match is not None:
            wanted.add(match.id)
        elif name not in unknown:
            unknown.append(name)
    if unknown:
        raise UnknownPlugin(unknown, (plugin.id for plugin in catalog))
    return tuple(plugin for plugin in catalog if plugin.id in wanted)


def actions_by_plugin(chosen: Iterable[Plugin]) -> dict[str, tuple[str, ...]]:
    """Each plugin's id with its actions, sorted and without repeats."""
    return {plugin.id: sort_actions(plugin.actions) for plugin in chosen}


def sort_actions(actions: Iterable[str]) -> tuple[str, ...]:
    """Actions once each, in a stable order: IAM compares them without regard to case."""
    return tuple(sorted(set(actions), key=lambda action: (action.lower(), action)))


@functools.cache
def load() -> Catalog:
    """The packaged catalog, read once."""
    text = resources.files(PACKAGE).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text))


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """A Catalog from the TOML document; CatalogError names the first malformed entry."""
    kinds = tuple(_parse_kind(entry) for entry in _tables(data, "resource_kinds"))
    kind_ids = [kind.id for kind in kinds]
    found = tuple(_parse_plugin(entry, kind_ids) for entry in _tables(data, "plugins"))
    narrowed = [action.lower() for kind in kinds for t in kind.targets for action in t.actions]
    for label, ids in (
        ("plugin ids", [plugin.id for plugin in found]),
        ("resource kind ids", kind_ids),
        ("target sids", [t.sid for kind in kinds for t in kind.targets]),
        # One action narrowed two ways would make its resources ambiguous.
        ("narrowed actions", narrowed),
    ):
        repeated = sorted({item for item in ids if ids.count(item) > 1})
        if repeated:
            raise CatalogError(f"{CATALOG_FILE}: {label} repeated: {', '.join(repeated)}")
    return Catalog(found, kinds)


def _parse_plugin(entry: Mapping[str, Any], kind_ids: list[str]) -> Plugin:
    where = f"{CATALOG_FILE}: plugin {entry.get('id')!r}"
    kind = entry.get("resource_kind")
    if kind is not None and kind not in kind_ids:
        raise CatalogError(f"{where}: unknown resource_kind {kind!r}")
    return Plugin(
        id=_text(entry, "id", where),
        name=_text(entry, "name", where),
        description=_text(entry, "description", where),
        actions=_texts(entry, "actions", where),
        resource_kind=kind,
    )


def _parse_kind(entry: Mapping[str, Any]) -> ResourceKind:
    where = f"{CATALOG_FILE}: resource kind {entry.get('id')!r}"
    regional = entry.get("regional")
    if not isinstance(regional, bool):
        raise CatalogError(f"{where}: regional must be true or false")
    targets = tuple(
        ResourceTarget(
            sid=_text(target, "sid", where),
            arns=_texts(target, "arns", where),
            actions=_texts(target, "actions", where),
        )
        for target in _tables(entry, "targets")
    )
    return ResourceKind(
        id=_text(entry, "id", where),
        label=_text(entry, "label", where),
        example=_text(entry, "example", where),
        service=_text(entry, "service", where),
        regional=regional,
        resource_prefix=_text(entry, "resource_prefix", where, empty=True),
        name_pattern=_text(entry, "name_pattern", where),
        strip_suffix=_text(entry, "strip_suffix", where, empty=True),
        targets=targets,
        hint=_text(entry, "hint", where, empty=True) if "hint" in entry else "",
    )


def _tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CatalogError(f"{CATALOG_FILE}: [[{key}]] must be an array of tables")
    return value


def _text(entry: Mapping[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise CatalogError(f"{where}: {key} must be a non-empty string")
    return value


def _texts(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: {key} must be a non-empty list of strings")
    return tuple(value)
