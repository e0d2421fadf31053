"""Specialist roles as data: one TOML file per role in this folder.

Adding a role is adding a file; no code changes. A role file holds:

    id, name, icon, description, system_prompt   (required strings)
    starters        list of starter questions shown in an empty chat
    temperature     0..2, omitted = the provider's default
    notice          a note the chat shows for as long as the role is active (disclaimers)
    structured      "sentiment" when replies carry a structured analysis
    order           sort position in the role picker

Users' own roles (stored in the database) become the same `Role` objects.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from assistant.errors import ConfigurationError

DEFAULT_ROLE_ID = "gadget"


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    icon: str
    description: str
    system_prompt: str
    starters: tuple[str, ...] = ()
    temperature: float | None = None
    notice: str = ""
    structured: str = ""
    order: int = 100
    #: False for built-in roles; True for roles a user created (stored in the database).
    custom: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.icon} {self.name}"


def role_from_mapping(data: Mapping[str, Any], *, source: str = "", custom: bool = False) -> Role:
    """Validate a role's fields; the error names the file and the field, for whoever edits it."""
    where = f" in {source}" if source else ""
    missing = [
        key
        for key in ("id", "name", "icon", "description", "system_prompt")
        if not isinstance(data.get(key), str) or not data[key].strip()
    ]
    if missing:
        raise ConfigurationError(f"Role{where} is missing {', '.join(missing)}.")
    starters = data.get("starters", [])
    if not isinstance(starters, list) or not all(isinstance(s, str) for s in starters):
        raise ConfigurationError(f"Role{where}: starters must be a list of strings.")
    temperature = data.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2
    ):
        raise ConfigurationError(f"Role{where}: temperature must be a number from 0 to 2.")
    known = {
        "id",
        "name",
        "icon",
        "description",
        "system_prompt",
        "starters",
        "temperature",
        "notice",
        "structured",
        "order",
    }
    return Role(
        id=data["id"].strip(),
        name=data["name"].strip(),
        icon=data["icon"].strip(),
        description=data["description"].strip(),
        system_prompt=data["system_prompt"].strip(),
        starters=tuple(s.strip() for s in starters if s.strip()),
        temperature=float(temperature) if temperature is not None else None,
        notice=" ".join(str(data.get("notice", "")).split()),
        structured=str(data.get("structured", "")),
        order=int(data.get("order", 100)),
        custom=custom,
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_roles(directory: Path | None = None) -> dict[str, Role]:
    """Read every `*.toml` role file, sorted by `order` then name."""
    if directory is None:
        files = [
            Path(str(entry))
            for entry in resources.files(__package__).iterdir()
            if entry.name.endswith(".toml")
        ]
    else:
        files = sorted(directory.glob("*.toml"))
    roles: dict[str, Role] = {}
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"Role file {path.name} is not valid TOML: {exc}") from None
        role = role_from_mapping(data, source=path.name)
        if role.id in roles:
            raise ConfigurationError(f"Two role files use the id {role.id!r}.")
        roles[role.id] = role
    return dict(sorted(roles.items(), key=lambda item: (item[1].order, item[1].name)))


@cache
def builtin_roles() -> dict[str, Role]:
    """The roles shipped with the app, read once per process (they are immutable)."""
    return load_roles()


def get_role(role_id: str, extra: Mapping[str, Role] | None = None) -> Role:
    """A built-in role or one of `extra` (a user's own roles); unknown ids get the default."""
    roles = {**builtin_roles(), **(extra or {})}
    return roles.get(role_id) or roles[DEFAULT_ROLE_ID]


__all__ = [
    "DEFAULT_ROLE_ID",
    "Role",
    "builtin_roles",
    "get_role",
    "load_roles",
    "role_from_mapping",
]
