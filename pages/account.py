"""Account: guests register or sign in (their chats come along); members manage their account."""

import streamlit as st

from assistant.safe_markdown import make_safe
from ui import account_forms, api_keys_view, flash, page, services

here = page.begin()
user = here.user

st.title("Account")
flash.draw()

if user.is_guest:
    st.write(
        "You are chatting as a guest. Create an account or sign in to keep your conversations, "
        "find them on any device and make your own roles. What you wrote as a guest comes along."
    )
    sign_in, register = st.tabs(["Sign in", "Create account"])
    with sign_in:
        account_forms.sign_in_form()
    with register:
        account_forms.register_form()
    if services.sso_configured():
        st.divider()
        account_forms.single_sign_on_button()
else:
    st.write(f"Signed in as **{make_safe(user.label)}**.")
    if user.email:
        st.caption(make_safe(user.email))
    account_forms.sign_out_button()

    st.subheader("Password")
    if account_forms.has_password(user):
        account_forms.change_password_form()
    else:
        st.caption("You sign in with single sign-on, so there is no password here to change.")

    api_keys_view.draw(here.app.api_keys, user)

    st.subheader("Delete account")
    # Tracked (a key and a rerun on toggle), so the section stays open across the form's rerun
    # and a refusal (wrong phrase or password) stays in sight.
    with st.expander(
        "Delete this account and all its data",
        icon=":material/delete_forever:",
        key=account_forms.DELETE_SECTION,
        on_change="rerun",
    ):
        account_forms.delete_account_form(user)
