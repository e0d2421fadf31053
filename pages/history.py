"""History: the user's own conversations, newest first; open, rename, delete, search, export."""

import streamlit as st

from ui import flash, history_view, links, page

here = page.begin()
user, store = here.user, here.app.store

st.title("History")
flash.draw()
if user.is_guest:
    page.invite_to_sign_in(
        "You are chatting as a guest: these conversations belong to this browser and are "
        "deleted after 30 days without a visit. Create an account to keep them.",
        icon=":material/person_add:",
    )

query = st.text_input(
    "Search your messages",
    key="history_search",
    placeholder="A word or phrase from any of your chats",
    icon=":material/search:",
)
if query.strip():
    history_view.draw_search(store, user.id, query)
    st.divider()

shown = st.session_state[history_view.SHOWN]
chats = store.list_conversations(user.id, limit=shown + 1)
if not chats:
    st.caption("No conversations yet. Ask something on the chat page and it will be kept here.")
    st.page_link(links.CHAT, label="Start a chat", icon=":material/chat:")
else:
    history_view.draw_download(history_view.all_messages_download(store, user.id), "export_csv")
    labels = history_view.role_labels(store, user.id)
    for chat in chats[:shown]:
        history_view.draw_row(store, user.id, chat, labels)
    if len(chats) > shown:
        st.button("Show more", icon=":material/expand_more:", on_click=history_view.show_more)
