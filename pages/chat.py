"""The chat page: pick a role, ask, attach photos, watch the answer stream in.

Replies are produced by server-side tasks (`assistant.replies`); this page stores what is
sent, draws the conversation and then follows the replies still streaming. Any click or
refresh starts a new run that picks them up where they are.
"""

import streamlit as st

from assistant import local_model
from assistant.roles import roles_for
from assistant.safe_markdown import make_safe, sentence
from ui import browser, composer, conversation, page, sidebar, state
from ui.chat_actions import Chat
from ui.live import follow
from ui.transcript import draw_transcript, stop_button

here = page.begin()
user, app = here.user, here.app
conversation.restore(app, user)
roles = roles_for(app.store, user)
role, model = sidebar.current_choice(app.assistant, roles)
sidebar.refresh_attachments()
chat = Chat(app, user, role, model)

# Above the input, where a thumb reaches it on a phone: Stop, while a reply streams.
stop_slot = st.bottom.empty()
# The input is pinned to the bottom wherever it is called; called first, a message is stored
# and its reply started before the rest of the page is drawn. It stays enabled while a reply
# streams: a message sent meanwhile is stored at once and answered after it.
submitted = composer.chat_box(f"Ask {role.name} · {model}")
if submitted:
    chat.send(submitted)
if (action := state.take_action()) is not None:
    chat.apply(action)
user = chat.user  # a guest's first message saved them
sidebar.remember_choice(app.store, user, role, model)

sidebar.draw(app.store, user)
sidebar.draw_pickers(app.assistant, roles)
st.caption(make_safe(role.description))
if role.notice:
    st.info(make_safe(role.notice), icon=":material/info:")
if app.assistant.offline:
    if local_model.is_available():
        st.warning(
            f"**Offline demo.** Answers come from the bundled {local_model.LOCAL_MODEL_NAME},"
            " a tiny model that is often wrong. For real answers, set `OPENROUTER_API_KEY` "
            "in `.streamlit/secrets.toml` or the environment and restart.",
            icon=":material/wifi_off:",
        )
    else:
        st.error(sentence(local_model.LocalModelUnavailable()), icon=":material/key:")

messages = state.messages()
live = draw_transcript(messages, chat)

if not messages and role.starters:
    # One element, so the first message's bubble replaces all of it at once.
    with st.container():
        st.caption("Try one of these:")
        for index, starter in enumerate(role.starters):
            st.button(
                make_safe(starter),
                key=f"starter_{index}",
                icon=":material/chat_bubble:",
                on_click=state.queue_action,
                args=("send", starter),
            )

composer.draw_returned()
for notice in st.session_state[state.NOTICE]:
    st.warning(make_safe(notice), icon=":material/warning:")
st.session_state[state.NOTICE] = []
browser.scroll_to_newest(st.session_state[state.SCROLL])

if live:
    with stop_slot:
        stop_button(live[0].message)
    follow(live)
    stop_slot.empty()
    sidebar.forget_chat_list()  # a first reply may have brought the conversation a title
