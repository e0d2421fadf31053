"""`make cluster` on real parts: HAProxy, two replicas and PostgreSQL, driven by Chromium.

The cluster is the one a person starts (`python -m deploy.cluster`, the command behind `make
cluster`), with its own throwaway PostgreSQL; the fake OpenRouter server runs in this process
and the replicas reach it over loopback. Which replica serves a browser is read from HAProxy's
stickiness cookie; the assertions are about what the page shows, so they hold whatever the app
keeps in its own cookies. The replica test takes about half a minute: a reply cut off by a
crash is marked interrupted only after its heartbeat has been silent for `STALE_AFTER`.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from assistant.upkeep import STALE_AFTER
from deploy import postgres, proxy, replica
from tests.browser_harness import ask, bubbles, launched_chromium, open_chat, require_chromium
from tests.fake_openrouter import FakeOpenRouter, RecordedRequest, Scenario, echo, reply

ROOT = Path(__file__).resolve().parent.parent
STICKY = "SERVERID"  # deploy/haproxy.cfg
INTERRUPTED = re.compile(r"did not finish|interrupted", re.IGNORECASE)

pytestmark = pytest.mark.cluster


def _missing() -> str | None:
    if proxy.find_haproxy() is None:
        return "HAProxy is not installed (`make haproxy`)"
    return postgres.unavailable_reason()


if reason := _missing():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the cluster tests: {reason}")
    pytest.skip(f"cluster tests skipped: {reason}", allow_module_level=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the app's settings, plus `extra`."""
    prefixes = ("OPENROUTER_", "ASSISTANT_", "DATABASE_URL", "STREAMLIT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def launcher(*args: str) -> list[str]:
    return [sys.executable, "-m", "deploy.cluster", "--address", "127.0.0.1", *args]


def processes_tagged(tag: str) -> list[int]:
    """Live processes whose environment carries `tag` (everything a launcher run started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if tag.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


@dataclass
class Cluster:
    url: str
    process: subprocess.Popen[str]
    tag: str
    pids: dict[str, int] = field(default_factory=dict)  # replica name -> pid
    ports: dict[str, int] = field(default_factory=dict)  # replica name -> loopback port
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.lines)

    def count_messages(self, containing: str) -> int:
        """Messages holding `containing` in the cluster's one PostgreSQL database."""
        import psycopg

        found = re.search(r"PostgreSQL: a throwaway server on 127\.0\.0\.1:(\d+)", self.output())
        assert found, self.output()
        with psycopg.connect(
            host="127.0.0.1", port=int(found[1]), user="postgres", dbname="assistant"
        ) as connection:
            row = connection.execute(
                "SELECT count(*) FROM messages WHERE text LIKE %s", (f"%{containing}%",)
            ).fetchone()
        return int(row[0]) if row else 0

    def environment(self, replica: str) -> dict[str, str]:
        raw = Path(f"/proc/{self.pids[replica]}/environ").read_bytes()
        pairs = (item.decode().partition("=") for item in raw.split(b"\0") if item)
        return {name: value for name, _, value in pairs}


def _read_lines(cluster: Cluster, ready: threading.Event) -> None:
    assert cluster.process.stdout is not None
    for line in cluster.process.stdout:
        cluster.lines.append(line.rstrip("\n"))
        if match := re.match(r"Replica (\w+): pid (\d+), http://127\.0\.0\.1:(\d+)", line):
            cluster.pids[match[1]] = int(match[2])
            cluster.ports[match[1]] = int(match[3])
        if line.startswith("Serving "):
            ready.set()
    ready.set()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenRouter]:
    """Echoes, except that a "long story" streams slowly enough to be cut off mid-reply."""
    story = reply(tokens=[f"part{i} " for i in range(600)], tokens_per_second=12)
    quick = echo()

    def frames(request: RecordedRequest):  # type: ignore[no-untyped-def]
        messages = request.json.get("messages", [])
        chosen = story if "long story" in str(messages[-1].get("content")) else quick
        assert chosen.frames is not None
        return chosen.frames(request)

    with FakeOpenRouter(scenario=Scenario("story-or-echo", frames=frames)) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(fake: FakeOpenRouter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    port = postgres.free_port()
    tag = f"ASSISTANT_CLUSTER_TEST={uuid.uuid4().hex}"
    env = clean_env(
        OPENROUTER_API_KEY="sk-or-v1-test",
        OPENROUTER_BASE_URL=fake.url,
        OPENROUTER_FALLBACK_MODELS="",
        ASSISTANT_MAX_RETRIES="0",
        ASSISTANT_CLUSTER_TEST=tag.partition("=")[2],
    )
    logs = tmp_path_factory.mktemp("cluster")
    command = launcher("--replicas", "2", "--port", str(port), "--logs", str(logs))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    running = Cluster(f"http://127.0.0.1:{port}", process, tag)
    ready = threading.Event()
    threading.Thread(target=_read_lines, args=(running, ready), daemon=True).start()
    try:
        ready.wait(timeout=100)
        if process.poll() is not None or not any(x.startswith("Serving ") for x in running.lines):
            pytest.fail(f"the cluster did not start:\n{running.output()}")
        assert sorted(running.pids) == ["r1", "r2"]
        yield running
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl+C does
        try:
            code = process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, running.output()
    assert processes_tagged(tag) == [], "Ctrl+C left processes running"


def test_the_replicas_run_the_start_command_of_the_dockerfile(cluster: Cluster) -> None:
    # The Dockerfile's CMD is `python -m deploy.replica` (tests/test_deploy_files.py), which
    # becomes this command line; the launcher must start its replicas the same way.
    for name, pid in cluster.pids.items():
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        assert argv == replica.streamlit_command(cluster.ports[name], "127.0.0.1")


# -- two replicas, one browser ----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with launched_chromium() as chromium:
        yield chromium


def replica_of(context: BrowserContext) -> str:
    """The replica HAProxy keeps this browser on (its stickiness cookie)."""
    values = [c["value"] for c in context.cookies() if c["name"] == STICKY]
    assert len(values) == 1, context.cookies()
    return values[0]


def open_context(browser: Browser, url: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    return context, open_chat(context, url)


@pytest.mark.browser
def test_a_guest_cookie_from_one_replica_works_on_the_other(
    browser: Browser, cluster: Cluster
) -> None:
    context, page = open_context(browser, cluster.url)
    ask(page, "Remember the plum tree")
    expect(bubbles(page).nth(1)).to_contain_text("Echo: Remember the plum tree", timeout=20_000)
    first = replica_of(context)
    other = next(name for name in cluster.pids if name != first)

    # The same browser, its session cookie and the page's URL, sent to the other replica.
    cookie = next(c for c in context.cookies() if c["name"] == STICKY)
    context.add_cookies([{**cookie, "value": other}])
    page.reload()
    expect(bubbles(page).nth(0)).to_contain_text("Remember the plum tree", timeout=30_000)
    expect(bubbles(page).nth(1)).to_contain_text("Echo: Remember the plum tree")
    assert replica_of(context) == other
    ask(page, "and the pear tree")  # the other replica writes to the same conversation
    expect(bubbles(page).nth(3)).to_contain_text("Echo: and the pear tree", timeout=20_000)
    context.close()
    # Both replicas wrote to the one PostgreSQL (not each to a file of its own), and were given
    # one cookie secret, which signs the cookies Streamlit itself sets (st.login's).
    assert cluster.count_messages("plum tree") >= 2 and cluster.count_messages("pear tree") >= 2
    secrets = {cluster.environment(name)["STREAMLIT_SERVER_COOKIE_SECRET"] for name in cluster.pids}
    assert len(secrets) == 1


@pytest.mark.browser
def test_a_conversation_survives_its_replica_being_killed(
    browser: Browser, cluster: Cluster, fake: FakeOpenRouter
) -> None:
    context, page = open_context(browser, cluster.url)
    ask(page, "What is the capital of France?")
    expect(bubbles(page).nth(1)).to_contain_text("Echo: What is the capital", timeout=20_000)
    ask(page, "Tell me a long story")
    # Two seconds of reply: the replica has checkpointed some of it to the database.
    expect(bubbles(page).nth(3)).to_contain_text("part30", timeout=20_000)
    doomed = replica_of(context)
    os.kill(cluster.pids[doomed], signal.SIGKILL)
    killed_at = time.monotonic()

    # The page loses its server and reconnects at once; HAProxy sends it to the survivor.
    deadline = killed_at + 30
    while replica_of(context) == doomed:
        assert time.monotonic() < deadline, "the page did not reconnect to another replica"
        page.wait_for_timeout(250)

    # The survivor draws the conversation from the database, the cut-off reply as far as it
    # was saved; it is marked once its heartbeat has been silent long enough to be sure no
    # process still writes it, which a person who reloads then sees.
    deadline = killed_at + STALE_AFTER.total_seconds() + 30
    while True:
        page.reload()
        cut = bubbles(page).nth(3)
        expect(cut).to_contain_text("part10", timeout=30_000)
        expect(bubbles(page).nth(0)).to_contain_text("What is the capital of France?")
        expect(bubbles(page).nth(1)).to_contain_text("Echo: What is the capital of France?")
        expect(bubbles(page).nth(2)).to_contain_text("Tell me a long story")
        if INTERRUPTED.search(cut.inner_text()):
            break
        assert time.monotonic() < deadline, "the cut-off reply was never marked"
        page.wait_for_timeout(3_000)
    assert "part599" not in cut.inner_text()
    assert replica_of(context) != doomed
    assert fake.wait_for_disconnect(timeout=10)  # the provider's stream was hung up on
    context.close()
    deadline = time.monotonic() + 5
    while not any(f"Replica {doomed} " in line for line in cluster.lines):
        assert time.monotonic() < deadline, cluster.output()
        time.sleep(0.1)


# -- bad input: one sentence, a non-zero exit, nothing left running ---------------------------


def run_launcher(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    tag = uuid.uuid4().hex
    done = subprocess.run(
        launcher(*args),
        cwd=ROOT,
        env=clean_env(ASSISTANT_CLUSTER_TEST=tag, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, tag


def assert_refused(done: subprocess.CompletedProcess[str], tag: str, *phrases: str) -> None:
    assert done.returncode == 2, done
    sentence = done.stderr.strip()
    assert len(sentence.splitlines()) == 1, sentence
    for phrase in phrases:
        assert phrase in sentence
    assert "Traceback" not in done.stderr + done.stdout
    assert processes_tagged(tag) == []


def test_without_haproxy_it_says_how_to_install_it() -> None:
    done, tag = run_launcher("--port", str(postgres.free_port()), "--haproxy", "no-such-haproxy")
    assert_refused(done, tag, "HAProxy is not installed", "make haproxy")


def test_a_port_in_use_is_named_with_how_to_pick_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done, tag = run_launcher("--port", str(port))
    assert_refused(done, tag, f"Port {port} is already in use", "PORT=")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://app@127.0.0.1/assistant", "must name a PostgreSQL server"),
        ("postgres://app@127.0.0.1/assistant", "must use the psycopg driver"),
    ],
)
def test_a_database_url_the_replicas_cannot_use_is_refused(url: str, says: str) -> None:
    done, tag = run_launcher("--port", str(postgres.free_port()), DATABASE_URL=url)
    assert_refused(done, tag, says, "postgresql+psycopg://")


def test_an_unreachable_database_is_named_without_its_password() -> None:
    nobody = postgres.free_port()  # nothing listens there
    url = f"postgresql+psycopg://app:s3cret-pw@127.0.0.1:{nobody}/assistant"
    done, tag = run_launcher("--port", str(postgres.free_port()), DATABASE_URL=url)
    assert_refused(done, tag, "Cannot reach the database", f"127.0.0.1:{nobody}")
    assert "s3cret-pw" not in done.stderr
