"""Specialist roles as data: one TOML file per role in this folder.

Adding a role is adding a file; no code changes. A role file holds:

    id, name, icon, description, system_prompt   (required strings)
    starters        list of starter questions shown in an empty chat
    temperature     0..2, omitted = the provider's default
    max_tokens      a cap on reply length in tokens (ASSISTANT_MAX_TOKENS still applies)
    notice          a note the chat shows for as long as the role is active (disclaimers)
    structured      the card the chat draws under replies ("sentiment": the analysis card)
    output_schema   a JSON Schema file in this folder: models that support structured output
                    are asked for JSON following it (see `schema`), and answers are checked
                    against the same file
    order           sort position in the role picker

Users' own roles (stored in the database) become the same `Role` objects.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import ConfigurationError
from assistant.roles.schema import load_schema

if TYPE_CHECKING:
    from assistant.store.records import CustomRole, User

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
    #: A cap on reply length in tokens; the smaller of it and `Settings.max_tokens` applies.
    max_tokens: int | None = None
    notice: str = ""
    structured: str = ""
    order: int = 100
    #: False for built-in roles; True for roles a user created (stored in the database).
    custom: bool = False
    #: The JSON Schema replies follow, from the role's `output_schema` file; None for prose.
    output_schema: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.icon} {self.name}"

    def response_format(self) -> dict[str, Any] | None:
        """The request's `response_format` asking for `output_schema` (strict), or None.

        Pair it with `provider.require_parameters: true`, or providers without structured
        output silently drop it. The schema is copied: a request body must never share the
        role's own dictionaries, which every session reads.
        """
        if self.output_schema is None:
            return None
        return {
            "type": "json_schema",
            "json_schema": {
                "name": self.id,
                "strict": True,
                "schema": copy.deepcopy(dict(self.output_schema)),
            },
        }


def role_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str = "",
    custom: bool = False,
    folder: Path | None = None,
) -> Role:
    """Validate a role's fields; the error names the file and the field, for whoever edits it.

    `output_schema` names a file in `folder` (the role file's folder); roles without a folder
    (users' own roles) cannot have one.
    """
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
    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ConfigurationError(f"Role{where}: max_tokens must be a whole number above 0.")
    known = {
        "id",
        "name",
        "icon",
        "description",
        "system_prompt",
        "starters",
        "temperature",
        "max_tokens",
        "notice",
        "structured",
        "order",
        "output_schema",
    }
    output_schema = _output_schema(data.get("output_schema"), where, folder)
    return Role(
        id=data["id"].strip(),
        name=data["name"].strip(),
        icon=data["icon"].strip(),
        description=data["description"].strip(),
        system_prompt=data["system_prompt"].strip(),
        starters=tuple(s.strip() for s in starters if s.strip()),
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=max_tokens,
        notice=" ".join(str(data.get("notice", "")).split()),
        structured=str(data.get("structured", "")),
        order=int(data.get("order", 100)),
        custom=custom,
        output_schema=output_schema,
        extra={k: v for k, v in data.items() if k not in known},
    )


def _output_schema(name: Any, where: str, folder: Path | None) -> dict[str, Any] | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip() or folder is None:
        raise ConfigurationError(f"Role{where}: output_schema must name a file next to the role.")
    path = folder / name.strip()
    if path.parent != folder:  # a bare file name: a role file never reads outside its folder
        raise ConfigurationError(f"Role{where}: output_schema must be a file name, not a path.")
    return load_schema(path)


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
        role = role_from_mapping(data, source=path.name, folder=path.parent)
        if role.id in roles:
            raise ConfigurationError(f"Two role files use the id {role.id!r}.")
        roles[role.id] = role
    return dict(sorted(roles.items(), key=lambda item: (item[1].order, item[1].name)))


@cache
def builtin_roles() -> dict[str, Role]:
    """The roles shipped with the app, read once per process (they are immutable)."""
    return load_roles()


def custom_role(role: CustomRole) -> Role:
    """A user's stored role as a `Role`, used exactly like a built-in one."""
    return role_from_mapping(
        {
            "id": role.role_id,
            "name": role.name,
            "icon": role.icon,
            "description": role.description or "Your own role.",
            "system_prompt": role.system_prompt,
            "starters": list(role.starters),
            "temperature": role.temperature,
            "order": 1000,
        },
        custom=True,
    )


class RoleSource(Protocol):
    """What `roles_for` needs of the store."""

    def list_roles(self, owner_id: int) -> list[CustomRole]: ...


def roles_for(store: RoleSource, user: User) -> dict[str, Role]:
    """The roles `user` may use: the built-in ones, then their own. Guests cannot have roles
    of their own, so they cost no query."""
    roles = dict(builtin_roles())
    if user.is_guest:
        return roles
    for stored in store.list_roles(user.id):
        role = custom_role(stored)
        roles[role.id] = role
    return roles


def get_role(role_id: str, extra: Mapping[str, Role] | None = None) -> Role:
    """A built-in role or one of `extra` (a user's own roles); unknown ids get the default."""
    roles = {**builtin_roles(), **(extra or {})}
    return roles.get(role_id) or roles[DEFAULT_ROLE_ID]


__all__ = [
    "DEFAULT_ROLE_ID",
    "Role",
    "builtin_roles",
    "custom_role",
    "get_role",
    "load_roles",
    "role_from_mapping",
    "roles_for",
]
