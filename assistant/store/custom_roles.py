"""Users' own roles: validated drafts in, `CustomRole` records out, always scoped to the owner.

A role's slug is made from its name once and never changes, so conversations that point at it
(`custom:<slug>`) keep working after a rename.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from assistant.store import models as m
from assistant.store.records import CustomRole, RoleDraft, RoleInputError, RoleNotFoundError

MAX_NAME = 60
MAX_ICON = 8
MAX_DESCRIPTION = 300
MAX_PROMPT = 20_000
MAX_STARTERS = 8
MAX_STARTER = 300
MAX_ROLES = 100


def validate(draft: RoleDraft) -> RoleDraft:
    """Trim and check a draft; RoleInputError carries the sentence for the form."""
    name = " ".join(draft.name.split())
    prompt = draft.system_prompt.strip()
    icon = draft.icon.strip() or "🧩"
    description = draft.description.strip()
    starters = tuple(s.strip() for s in draft.starters if s.strip())
    if not name or len(name) > MAX_NAME:
        raise RoleInputError(f"A role needs a name of 1 to {MAX_NAME} characters.")
    if not prompt or len(prompt) > MAX_PROMPT:
        raise RoleInputError(f"A role needs instructions of 1 to {MAX_PROMPT} characters.")
    if len(icon) > MAX_ICON:
        raise RoleInputError("The icon should be a single emoji.")
    if len(description) > MAX_DESCRIPTION:
        raise RoleInputError(f"The description can have at most {MAX_DESCRIPTION} characters.")
    if len(starters) > MAX_STARTERS or any(len(s) > MAX_STARTER for s in starters):
        raise RoleInputError(
            f"A role can have up to {MAX_STARTERS} starter questions of {MAX_STARTER} characters."
        )
    temperature = draft.temperature
    if temperature is not None and not 0.0 <= float(temperature) <= 2.0:
        raise RoleInputError("The temperature must be between 0 and 2.")
    return RoleDraft(
        name=name,
        system_prompt=prompt,
        icon=icon,
        description=description,
        starters=starters,
        temperature=None if temperature is None else float(temperature),
    )


def slug_for(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40]
    return slug or "role"


def record(row: m.CustomRole) -> CustomRole:
    return CustomRole(
        slug=row.slug,
        name=row.name,
        icon=row.icon,
        description=row.description,
        system_prompt=row.system_prompt,
        starters=tuple(row.starters),
        temperature=row.temperature,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _taken_slugs(session: Session, owner_id: int) -> set[str]:
    return set(
        session.execute(select(m.CustomRole.slug).where(m.CustomRole.owner_id == owner_id))
        .scalars()
        .all()
    )


def _free_slug(base: str, taken: set[str]) -> str:
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create(session: Session, now: datetime, owner_id: int, draft: RoleDraft) -> CustomRole:
    draft = validate(draft)
    taken = _taken_slugs(session, owner_id)
    if len(taken) >= MAX_ROLES:
        raise RoleInputError(f"You can keep up to {MAX_ROLES} roles. Delete one to add another.")
    row = m.CustomRole(
        owner_id=owner_id, slug=_free_slug(slug_for(draft.name), taken), created_at=now
    )
    _write_draft(row, draft, now)
    session.add(row)
    session.flush()
    return record(row)


def _write_draft(row: m.CustomRole, draft: RoleDraft, now: datetime) -> None:
    """Set the role's editable fields from a validated draft, as changed at `now`."""
    row.name = draft.name
    row.icon = draft.icon
    row.description = draft.description
    row.system_prompt = draft.system_prompt
    row.starters = list(draft.starters)
    row.temperature = draft.temperature
    row.updated_at = now


def _owned(session: Session, owner_id: int, slug: str) -> m.CustomRole:
    row = session.execute(
        select(m.CustomRole).where(m.CustomRole.owner_id == owner_id, m.CustomRole.slug == slug)
    ).scalar_one_or_none()
    if row is None:
        raise RoleNotFoundError()
    return row


def get(session: Session, owner_id: int, slug: str) -> CustomRole:
    return record(_owned(session, owner_id, slug))


def update(
    session: Session, now: datetime, owner_id: int, slug: str, draft: RoleDraft
) -> CustomRole:
    draft = validate(draft)
    row = _owned(session, owner_id, slug)
    _write_draft(row, draft, now)
    session.flush()
    return record(row)


def remove(session: Session, owner_id: int, slug: str) -> None:
    result = session.connection().execute(
        delete(m.CustomRole).where(m.CustomRole.owner_id == owner_id, m.CustomRole.slug == slug)
    )
    if result.rowcount == 0:
        raise RoleNotFoundError()


def list_roles(session: Session, owner_id: int) -> list[CustomRole]:
    rows = session.execute(
        select(m.CustomRole)
        .where(m.CustomRole.owner_id == owner_id)
        .order_by(m.CustomRole.name, m.CustomRole.id)
    ).scalars()
    return [record(row) for row in rows]


def claim(session: Session, from_owner: int, to_owner: int) -> None:
    """Move a guest's roles to an account, renaming a slug the account already uses.

    Run before the guest's conversations move, so those using a renamed role follow it.
    """
    taken = _taken_slugs(session, to_owner)
    rows = (
        session.execute(select(m.CustomRole).where(m.CustomRole.owner_id == from_owner))
        .scalars()
        .all()
    )
    for row in rows:
        old = row.slug
        row.slug = _free_slug(old, taken)
        taken.add(row.slug)
        row.owner_id = to_owner
        if row.slug != old:
            session.execute(
                sql_update(m.Conversation)
                .where(
                    m.Conversation.owner_id == from_owner,
                    m.Conversation.role_id == f"custom:{old}",
                )
                .values(role_id=f"custom:{row.slug}")
            )
    session.flush()


__all__ = ["claim", "create", "get", "list_roles", "remove", "slug_for", "update", "validate"]
