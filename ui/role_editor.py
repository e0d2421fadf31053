"""The My roles page's parts: the list of a user's own roles and the form that edits one.

The form edits a `RoleDraft`, prefilled from the role being edited, from a built-in role the
user starts from, or blank; the store validates the draft and its `RoleInputError` sentence is
shown as is. Like the History page, callbacks only change what is shown (open the editor, ask
to confirm a delete); saving and deleting happen during the run, then `st.rerun()`.

Roles are user text drawn with Markdown, so names and descriptions go through `make_safe`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from assistant.errors import AssistantError
from assistant.roles import Role, builtin_roles
from assistant.safe_markdown import make_safe
from assistant.store import CustomRole, RoleDraft, Store
from assistant.store.custom_roles import MAX_ICON
from ui import failures, flash, state

DEFAULT_TEMPERATURE = 0.7  # where the slider starts when a role had none


def _set(key: str, value: Any) -> None:
    st.session_state[key] = value


def start_new() -> None:
    """Open the editor on a new role, copied from the built-in role chosen in "Start from"."""
    st.session_state[state.ROLES_EDITING] = ""
    st.session_state[state.ROLES_TEMPLATE] = st.session_state.get(state.ROLES_TEMPLATE_CHOICE) or ""
    st.session_state[state.ROLES_DELETING] = ""


def start_editing(slug: str) -> None:
    st.session_state[state.ROLES_EDITING] = slug
    st.session_state[state.ROLES_DELETING] = ""


def stop_editing() -> None:
    st.session_state[state.ROLES_EDITING] = None


def label(role: CustomRole) -> str:
    return make_safe(f"{role.icon} {role.name}")


# -- drafts --------------------------------------------------------------------------------


def draft_from_builtin(role_id: str) -> RoleDraft:
    """A blank draft, or a copy of a built-in role to adapt (named so the two stay apart)."""
    role = builtin_roles().get(role_id)
    if role is None:
        return RoleDraft(name="", system_prompt="")
    return _draft_of(role, f"{role.name} (my version)")


def draft_from_role(role: CustomRole) -> RoleDraft:
    return _draft_of(role, role.name)


def _draft_of(role: Role | CustomRole, name: str) -> RoleDraft:
    """The role's editable fields as a draft named `name`."""
    return RoleDraft(
        name=name,
        system_prompt=role.system_prompt,
        icon=role.icon,
        description=role.description,
        starters=role.starters,
        temperature=role.temperature,
    )


def starters_from_text(text: str) -> tuple[str, ...]:
    """One starter question per line; blank lines are not questions."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


# -- actions -------------------------------------------------------------------------------


def save(store: Store, owner_id: int, slug: str, draft: RoleDraft) -> None:
    try:
        if slug:
            role = store.update_role(owner_id, slug, draft)
        else:
            role = store.create_role(owner_id, draft)
    except AssistantError as exc:
        failures.show(exc, icon=":material/error:")
        return
    stop_editing()
    flash.remember(f"Saved {label(role)}. It is in the chat page's role list.")
    st.rerun()


def delete(store: Store, owner_id: int, role: CustomRole) -> None:
    try:
        store.delete_role(owner_id, role.slug)
    except AssistantError as exc:
        failures.show(exc, icon=":material/error:")
        return
    st.session_state[state.ROLES_DELETING] = ""
    flash.remember(f"Deleted {label(role)}.")
    st.rerun()


# -- drawing -------------------------------------------------------------------------------


def draw_new_role_picker() -> None:
    roles = builtin_roles()
    st.selectbox(
        "Start from",
        ["", *roles],
        format_func=lambda rid: roles[rid].label if rid else "A blank role",
        help="Copy a built-in role's instructions and starters, then change what you like.",
        key=state.ROLES_TEMPLATE_CHOICE,
    )
    st.button("New role", type="primary", icon=":material/add:", on_click=start_new)


def _draft_to_edit(store: Store, owner_id: int, slug: str) -> RoleDraft | None:
    if not slug:
        return draft_from_builtin(st.session_state[state.ROLES_TEMPLATE])
    try:
        return draft_from_role(store.get_role(owner_id, slug))
    except AssistantError as exc:
        failures.show(exc, icon=":material/error:")
        return None


def draw_editor(store: Store, owner_id: int) -> None:
    """The form for the role being edited; Save stores it, Cancel goes back to the list."""
    slug: str = st.session_state[state.ROLES_EDITING]
    start = _draft_to_edit(store, owner_id, slug)
    if start is None:
        st.button("Back to my roles", on_click=stop_editing)
        return
    st.subheader("Edit role" if slug else "New role")
    with st.form(f"role_form_{slug or 'new_' + st.session_state[state.ROLES_TEMPLATE]}"):
        name = st.text_input("Name", value=start.name)
        icon = st.text_input("Icon", value=start.icon, max_chars=MAX_ICON, help="One emoji.")
        description = st.text_input("Description", value=start.description)
        prompt = st.text_area(
            "Instructions (system prompt)",
            value=start.system_prompt,
            height=200,
            help="What the assistant should be and do in this role.",
        )
        starters = st.text_area(
            "Starter questions, one per line",
            value="\n".join(start.starters),
            help="Shown as buttons in an empty chat.",
        )
        provider_default = st.toggle(
            "Use the provider's default temperature", value=start.temperature is None
        )
        temperature = st.slider(
            "Temperature",
            min_value=0.0,
            max_value=2.0,
            step=0.05,
            value=DEFAULT_TEMPERATURE if start.temperature is None else start.temperature,
            help="Lower is more focused and repeatable, higher more varied. "
            "Used when the default is off.",
        )
        save_column, cancel_column = st.columns(2)
        saved = save_column.form_submit_button("Save", type="primary", icon=":material/save:")
        cancel_column.form_submit_button("Cancel", on_click=stop_editing)
    if saved:
        draft = RoleDraft(
            name=name,
            system_prompt=prompt,
            icon=icon,
            description=description,
            starters=starters_from_text(starters),
            temperature=None if provider_default else temperature,
        )
        save(store, owner_id, slug, draft)


def _draw_delete_confirmation(store: Store, owner_id: int, role: CustomRole) -> None:
    st.warning(
        f"Delete {label(role)}? Conversations that used it continue with the default role.",
        icon=":material/warning:",
    )
    confirm, cancel = st.columns(2)
    if confirm.button("Confirm delete", key=f"confirm_delete_role_{role.slug}", type="primary"):
        delete(store, owner_id, role)
    cancel.button(
        "Cancel",
        key=f"cancel_delete_role_{role.slug}",
        on_click=_set,
        args=(state.ROLES_DELETING, ""),
    )


def draw_role(store: Store, owner_id: int, role: CustomRole) -> None:
    with st.container(border=True):
        st.markdown(f"**{label(role)}**")
        if role.description:
            st.caption(make_safe(role.description))
        if st.session_state[state.ROLES_DELETING] == role.slug:
            _draw_delete_confirmation(store, owner_id, role)
            return
        edit, delete_ = st.columns(2)
        edit.button(
            "Edit",
            key=f"edit_role_{role.slug}",
            icon=":material/edit:",
            on_click=start_editing,
            args=(role.slug,),
        )
        delete_.button(
            "Delete",
            key=f"delete_role_{role.slug}",
            icon=":material/delete:",
            on_click=_set,
            args=(state.ROLES_DELETING, role.slug),
        )
