"""The sentiment page through AppTest: a real SQLite file, the fake OpenRouter server, and the
chat page to make conversations the way a user does.

The app's own entry script (app.py) is driven. AppTest has
no browser connection, so `st.context` is pointed at an empty cookie jar (a first visit).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import streamlit.runtime.context
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from assistant.accounts import Accounts
from assistant.store import Store, StoreError
from tests.page_harness import PASSWORD, BrowserConnection, Pages
from tests.seeds import answer, ask
from tests.store_fixtures import PostgresServer
from ui import state

ENTRY = "../app.py"
SENTIMENT = "pages/sentiment.py"
PAGE = "../pages/sentiment.py"
MODEL = "deepseek/deepseek-v3.2"


@pytest.fixture
def db(pages: Pages) -> Store:
    """The app's database (a new URL per test, so a new cached store), opened for seeding."""
    return pages.store


@pytest.fixture
def accounts(pages: Pages) -> Accounts:
    return pages.accounts


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def open_sentiment(*, token: str | None = None, conversation_id: str = "") -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    if token is not None:
        at.session_state[state.TOKEN] = token
    run(at)  # the chat page first, as a visitor arrives
    if conversation_id:
        at.session_state[state.CONVERSATION_ID] = conversation_id
    at.switch_page(SENTIMENT)
    return run(at)


def seed(store: Store, owner: int, *turns: str, role_id: str = "gadget") -> tuple[str, list[str]]:
    """A stored conversation of alternating user and assistant turns; its id and message ids."""
    conversation_id: str | None = None
    ids = []
    for question, reply in zip(turns[::2], [*turns[1::2], None], strict=False):
        started = ask(store, owner, conversation_id, question, role_id=role_id, model=MODEL)
        conversation_id = started.conversation_id
        ids.append(started.message.id)
        if reply is None:  # an odd number of turns: the last question is not answered yet
            answer(store, owner, started.reply_id, status="stopped")
            continue
        answer(store, owner, started.reply_id, reply)
        ids.append(started.reply_id)
    assert conversation_id is not None
    return conversation_id, ids


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array: Any) -> list[Any]:
    """A trace array from Plotly's JSON: a list, or a typed array (dtype + base64 bytes)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def timeline(at: AppTest) -> dict[str, dict[str, list[Any]]]:
    """The per-message chart's traces by name: their x, y and customdata."""
    (figure,) = [f for f in figures(at) if "per message" in f["layout"]["title"]["text"]]
    return {
        trace["name"]: {key: values(trace.get(key, [])) for key in ("x", "y", "customdata")}
        for trace in figure["data"]
    }


def tables(at: AppTest, *columns: str) -> list[Any]:
    return [df.value for df in at.dataframe if set(columns) <= set(df.value.columns)]


def table(at: AppTest, *columns: str) -> Any:
    """The one table on the page that has all of `columns`."""
    (found,) = tables(at, *columns)
    return found


HAPPY = "I love this phone, the screen is gorgeous!"
ANGRY = "This is terrible, I hate it and support was useless."


def test_a_chat_made_on_the_chat_page_is_charted(db: Store) -> None:
    at = run(AppTest.from_file(ENTRY, default_timeout=60))
    for text in (HAPPY, ANGRY):
        at.chat_input[0].set_value(text)
        run(at)
    run(at.switch_page(SENTIMENT))

    traces = timeline(at)
    assert [len(traces[n]["x"]) for n in ("User", "Assistant")] == [2, 2]
    assert HAPPY[:30] in traces["User"]["customdata"][0][0]
    assert traces["User"]["y"][0] > 0.5 > -0.5 > traces["User"]["y"][1]
    assert "User, mean of last 5" in traces
    assert len(figures(at)) == 3  # timeline, distribution, by role
    attention = table(at, "Why")
    assert attention["Message"].tolist() == [ANGRY]
    assert "strongly negative" in attention["Why"][0]
    drops = table(at, "Reply turn")
    assert drops["Reply"].tolist() == [f"Echo: {HAPPY}"]
    assert [b.label for b in at.get("download_button")] == ["Download the scores (CSV)"]


def test_with_no_conversation_yet_the_page_points_to_the_chat(db: Store) -> None:
    at = open_sentiment()
    assert "Nothing to chart yet" in at.info[0].value
    assert at.get("page_link")[0].proto.label == "Start chatting"
    assert not at.get("plotly_chart")


def test_a_thousand_message_conversation_renders(db: Store, accounts: Accounts) -> None:
    guest = accounts.start_guest()
    turns = [
        f"Message {i}: {'great, thanks' if i % 7 else 'awful, I hate this'}" for i in range(1000)
    ]
    conversation_id, _ = seed(db, guest.user.id, *turns)
    at = open_sentiment(token=guest.token, conversation_id=conversation_id)
    traces = timeline(at)
    assert len(traces["User"]["x"]) + len(traces["Assistant"]["x"]) == 1000
    assert len(table(at, "Why").index) > 0
    assert len(table(at, "Who").index) == 1000
    assert at.metric[0].value == "1,000"


def test_feedback_sits_next_to_the_scores_and_a_thumbs_down_clears_the_flag(
    db: Store, accounts: Accounts
) -> None:
    guest = accounts.start_guest()
    conversation_id, ids = seed(db, guest.user.id, HAPPY, "Great choice!", ANGRY, "Sorry.")

    at = open_sentiment(token=guest.token, conversation_id=conversation_id)
    assert table(at, "Reply turn")["Reply"].tolist() == ["Great choice!"]

    db.set_feedback(guest.user.id, ids[1], "down")
    run(at)
    assert not tables(at, "Reply turn")
    turns = table(at, "Who")
    turns = turns[turns["Who"] == "assistant"]
    assert turns["Feedback"].tolist() == ["👎", ""]
    assert "Feedback 👎" in timeline(at)


def test_signed_in_users_chart_any_conversation_or_all_of_them(
    db: Store, accounts: Accounts
) -> None:
    ada = accounts.register("ada", "violet-otter-harbour-42")
    first, _ = seed(db, ada.user.id, "Good morning, lovely day", "Indeed!")
    seed(db, ada.user.id, "My laptop is broken again", "Sorry to hear", "Awful", "Hmm")
    at = open_sentiment(token=ada.token, conversation_id=first)
    assert len(timeline(at)["User"]["x"]) == 1

    picker = at.selectbox[0]
    assert picker.options[:2] == ["This conversation", "All conversations"]
    assert any(option.startswith("My laptop is broken") for option in picker.options)
    picker.select_index(1)
    run(at)
    traces = timeline(at)
    assert len(traces["User"]["x"]) + len(traces["Assistant"]["x"]) == 6
    everything = table(at, "Conversation", "Who")
    assert len(everything.index) == 6 and everything["Conversation"].nunique() == 2

    at.selectbox[0].select_index(2)
    run(at)
    assert len(timeline(at)["User"]["x"]) == 2


def test_guests_chart_only_their_current_conversation(db: Store, accounts: Accounts) -> None:
    guest = accounts.start_guest()
    conversation_id, _ = seed(db, guest.user.id, HAPPY, "Thanks")
    at = open_sentiment(token=guest.token, conversation_id=conversation_id)
    assert not at.selectbox
    assert any("Sign in" in caption.value for caption in at.caption)
    assert len(timeline(at)["User"]["x"]) == 1


def test_another_users_conversation_is_never_charted(db: Store, accounts: Accounts) -> None:
    owner = accounts.register("bob", "violet-otter-harbour-42")
    conversation_id, _ = seed(db, owner.user.id, "Bob's private worries", "I see")
    intruder = accounts.start_guest()
    at = open_sentiment(token=intruder.token, conversation_id=conversation_id)
    assert "Nothing to chart yet" in at.info[0].value
    assert not at.get("plotly_chart") and not at.dataframe


# --- a database outage ------------------------------------------------------------------------


def refuse_connections(server: PostgresServer, database: str) -> None:
    """A real outage of one database: no new connection is accepted, open ones are cut."""
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'.encode())
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["guest", "member"])
def test_a_database_outage_is_said_as_it_is_and_logged_once(
    who: str,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = postgres_server.create_database()
    url = postgres_server.url(database)
    monkeypatch.setattr(streamlit.runtime.context, "_get_client_context", BrowserConnection)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    store = Store(url)
    try:
        store.migrate()
        accounts = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        signed = accounts.start_guest() if who == "guest" else accounts.register("ada", PASSWORD)
        conversation_id, _ = seed(store, signed.user.id, HAPPY, "Glad to hear it!")
    finally:
        store.close()
    # The page alone, as app.py hands over to it once it has checked who is there: with the
    # database down, app.py's own check would fail before any page runs.
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.TOKEN] = signed.token
    at.session_state[state.CONVERSATION_ID] = conversation_id
    run(at)
    assert len(timeline(at)["User"]["x"]) == 1  # charted while the database is up

    refuse_connections(postgres_server, database)
    caplog.set_level(logging.WARNING, logger="ui.failures")
    run(at)

    assert [error.value for error in at.error] == [StoreError.sentence]
    assert not any("Nothing to chart yet" in info.value for info in at.info)
    assert not at.get("plotly_chart") and not at.get("page_link")
    (logged,) = [r for r in caplog.records if r.name == "ui.failures"]
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], StoreError)
    assert "OperationalError" in logged.getMessage()
