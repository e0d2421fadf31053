"""My roles: signed-in users make, edit and delete their own roles, offered like built-in ones."""

import streamlit as st

from ui import flash, page, role_editor, state

here = page.begin()
user, store = here.user, here.app.store

st.title("My roles")
flash.draw()

if user.is_guest:
    page.invite_to_sign_in(
        "Your own roles need an account: they are saved with it and offered in the chat page's "
        "role list next to the built-in ones. Creating one takes a username and a password.",
        icon=":material/theater_comedy:",
    )
elif st.session_state[state.ROLES_EDITING] is not None:
    role_editor.draw_editor(store, user.id)
else:
    st.caption(
        "A role is a set of instructions the assistant follows, with starter questions. "
        "Yours appear in the chat page's role list."
    )
    role_editor.draw_new_role_picker()
    roles = store.list_roles(user.id)
    if not roles:
        st.caption("You have no roles of your own yet.")
    for role in roles:
        role_editor.draw_role(store, user.id, role)
