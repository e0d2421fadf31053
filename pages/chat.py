"""The chat page: pick a role, ask, attach photos, watch the answer stream in."""

import streamlit as st

from assistant import local_model
from assistant.limits import MAX_MESSAGE_CHARS, MAX_UPLOAD_MB
from ui import conversation, identity, services, sidebar, state, turns
from ui.transcript import draw_transcript
from ui.uploads import IMAGE_TYPES

state.init()
user = identity.checked_user()
store = services.store()
assistant = services.assistant()
conversation.restore_from_url(store, user.id)
roles = conversation.available_roles(store, user)
role, model = sidebar.current_choice(assistant, roles)
sidebar.refresh_attachments()
chat = turns.Chat(assistant, store, user.id, role, model)
turns.drop_abandoned_reply(chat)

# The input is pinned to the bottom wherever it is called; called first, a message is stored
# and sent to the model before the rest of the page is drawn.
submitted = st.chat_input(
    f"Ask {role.name} · {model}",
    accept_file="multiple",
    file_type=IMAGE_TYPES,
    max_upload_size=MAX_UPLOAD_MB,
    max_chars=MAX_MESSAGE_CHARS,
    submit_mode="stop",
)
reply_due = turns.accept_input(chat, submitted) if submitted else False
if (action := state.take_action()) is not None:
    reply_due = turns.apply_action(chat, action) or reply_due

with turns.reply_opened(chat, due=reply_due) as opened:
    sidebar.draw(assistant, roles)
    st.title(role.label)
    st.caption(f"{role.description} · Model: `{model}`")
    if role.notice:
        st.info(role.notice, icon=":material/info:")
    if assistant.offline:
        if local_model.is_available():
            st.warning(
                f"**Offline demo.** Answers come from the bundled {local_model.LOCAL_MODEL_NAME},"
                " a tiny model that is often wrong. For real answers, set `OPENROUTER_API_KEY` "
                "in `.streamlit/secrets.toml` or the environment and restart.",
                icon=":material/wifi_off:",
            )
        else:
            st.error(str(local_model.LocalModelUnavailable()), icon=":material/key:")

    messages = state.messages()
    draw_transcript(messages, on_feedback=chat.feedback)

    if not messages and role.starters:
        # One element, so the first message's bubble replaces all of it at once (loose
        # buttons would linger greyed out under the streaming reply until the run ends).
        with st.container():
            st.caption("Try one of these:")
            for index, starter in enumerate(role.starters):
                st.button(
                    starter,
                    key=f"starter_{index}",
                    icon=":material/chat_bubble:",
                    on_click=state.queue_action,
                    args=("send", starter),
                )

    if st.session_state[state.EDITING] and messages and not reply_due:
        last_user = next((m for m in reversed(messages) if m.role == "user"), None)
        with st.form("edit_last"):
            st.text_area(
                "Edit your last message",
                value=last_user.text if last_user else "",
                key=state.EDITED_TEXT,
            )
            send, cancel = st.columns(2)
            send.form_submit_button("Send", icon=":material/send:", on_click=state.queue_edit)
            cancel.form_submit_button("Cancel", on_click=state.stop_editing)

    for notice in st.session_state[state.NOTICE]:
        st.warning(notice, icon=":material/warning:")
    st.session_state[state.NOTICE] = []

    if opened is not None:
        turns.stream_reply(chat, opened)
