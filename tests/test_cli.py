"""The terminal client as a user runs it: a subprocess against the fake server."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image

from tests.commands import run_assistant
from tests.fake_openrouter import (
    VISION_MODEL,
    FakeOpenRouter,
    http_error,
    midstream_error,
    reply,
    stall,
)


def run_cli(
    fake: FakeOpenRouter | None, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    settings = {"ASSISTANT_MAX_RETRIES": "0", "OPENROUTER_FALLBACK_MODELS": ""}
    if fake is not None:
        settings |= {"OPENROUTER_API_KEY": "sk-or-v1-test", "OPENROUTER_BASE_URL": fake.url}
    return run_assistant(*args, stdin=stdin, env=settings | env)


def test_ask_streams_the_answer_to_stdout_and_exits_zero(fake: FakeOpenRouter) -> None:
    result = run_cli(fake, "ask", "My phone battery drains fast")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: My phone battery drains fast\n"
    assert "Traceback" not in result.stderr


def test_ask_uses_the_role_and_model_given(fake: FakeOpenRouter) -> None:
    result = run_cli(fake, "ask", "--role", "legal", "--model", "x/y", "hello")
    assert result.returncode == 0, result.stderr
    body = fake.chat_requests[-1].json
    assert body["model"] == "x/y"
    assert "not legal advice" in body["messages"][0]["content"]


def test_a_rejected_key_prints_where_to_set_it_on_stderr(fake: FakeOpenRouter) -> None:
    fake.queue(http_error(401, message="User not found."))
    result = run_cli(fake, "ask", "hi")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "OPENROUTER_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_a_midstream_error_keeps_the_partial_answer_and_fails(fake: FakeOpenRouter) -> None:
    fake.queue(midstream_error())
    result = run_cli(fake, "ask", "one two three four five")
    assert result.returncode == 1
    assert result.stdout.strip()  # the partial answer stays printed
    assert result.stderr.strip() and "Traceback" not in result.stderr


def test_a_stalled_stream_times_out_with_a_sentence(fake: FakeOpenRouter) -> None:
    fake.queue(stall())
    result = run_cli(fake, "ask", "hi", ASSISTANT_STALL_TIMEOUT="0.5")
    assert result.returncode == 1
    assert "too long" in result.stderr


def test_an_unreachable_server_is_a_network_sentence() -> None:
    result = run_cli(
        None,
        "ask",
        "hi",
        OPENROUTER_API_KEY="k",
        OPENROUTER_BASE_URL="http://127.0.0.1:9/api/v1",
    )
    assert result.returncode == 1
    assert "Could not reach" in result.stderr and "Traceback" not in result.stderr


def test_an_image_goes_to_the_vision_model(fake: FakeOpenRouter, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())
    result = run_cli(fake, "ask", "--image", str(photo), "what is this?")
    assert result.returncode == 0, result.stderr
    assert fake.chat_requests[-1].json["model"] == VISION_MODEL
    assert f"answered by {VISION_MODEL}" in result.stderr


def test_a_bad_image_is_refused_before_any_request(fake: FakeOpenRouter, tmp_path: Path) -> None:
    fake_photo = tmp_path / "photo.jpg"
    fake_photo.write_text("not an image")
    result = run_cli(fake, "ask", "--image", str(fake_photo), "what is this?")
    assert result.returncode == 2
    assert "photo.jpg" in result.stderr and "not a PNG, JPEG, WebP or GIF" in result.stderr
    assert fake.chat_requests == []


def test_roles_lists_every_role(fake: FakeOpenRouter) -> None:
    result = run_cli(fake, "roles")
    assert result.returncode == 0
    for role_id in ("gadget", "healthcare", "sentiment", "tech_support", "legal"):
        assert role_id in result.stdout


def test_models_lists_price_context_and_image_flag(fake: FakeOpenRouter) -> None:
    result = run_cli(fake, "models")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(VISION_MODEL))
    assert "images" in line and "ctx" in line and "$" in line
    free = run_cli(fake, "models", "--free")
    assert all("free" in line for line in free.stdout.splitlines())


def test_chat_keeps_the_conversation_going(fake: FakeOpenRouter) -> None:
    fake.queue(reply("Hello Ann."), reply("Your name is Ann."))
    result = run_cli(fake, "chat", stdin="I am Ann\nwhat is my name?\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Hello Ann." in result.stdout and "Your name is Ann." in result.stdout
    sent = fake.chat_requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]


def test_verbose_logs_why_a_reply_failed_and_quiet_does_not(fake: FakeOpenRouter) -> None:
    fake.set_scenario(http_error(503, message="upstream exploded"))
    quiet = run_cli(fake, "ask", "hello")
    assert quiet.returncode == 1
    assert "unavailable or overloaded" in quiet.stderr
    assert "upstream exploded" not in quiet.stderr and "WARNING" not in quiet.stderr
    loud = run_cli(fake, "-v", "ask", "hello")
    assert loud.returncode == 1
    assert "ProviderUnavailableError" in loud.stderr and "upstream exploded" in loud.stderr
