"""Terminal client: `python -m assistant ask|chat|roles|models`.

The answer text goes to stdout as it arrives, so `ask` composes with pipes; everything else
(offline notices, which model stood in, errors) goes to stderr. Exit codes: 0 success, 1 the
reply failed (the partial answer stays printed), 2 bad usage or input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from assistant import local_model
from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.errors import GENERIC_SENTENCE, AssistantError, InputError
from assistant.events import (
    Event,
    Failed,
    Finished,
    ModelUsed,
    ReasoningDelta,
    TextDelta,
    close_events,
)
from assistant.images import PreparedImage, prepare_image
from assistant.roles import DEFAULT_ROLE_ID, Role, builtin_roles
from assistant.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Seconds a command waits for the model catalogue (vision routing and context windows use it);
#: unlike a page, a terminal command can afford it.
CATALOGUE_WAIT = 10.0


def _role(role_id: str) -> Role:
    roles = builtin_roles()
    if role_id not in roles:
        raise InputError(f"Unknown role {role_id!r}. Known roles: {', '.join(roles)}.")
    return roles[role_id]


def _images(paths: Sequence[str]) -> tuple[PreparedImage, ...]:
    images = []
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        try:
            images.append(prepare_image(raw))
        except AssistantError as exc:
            raise InputError(f"{path}: {exc}") from None
    return tuple(images)


def _offline_notice(assistant: Assistant, err: TextIO) -> None:
    if assistant.offline:
        print(
            f"[offline demo: answering with the bundled {local_model.LOCAL_MODEL_NAME}, a tiny "
            "model that is often wrong. Set OPENROUTER_API_KEY to use OpenRouter.]",
            file=err,
        )


def render(
    events: Iterator[Event], out: TextIO, err: TextIO, *, show_reasoning: bool = False
) -> tuple[str, AssistantError | None]:
    """Print events; returns the answer text and the error, if the reply failed."""
    parts: list[str] = []
    error: AssistantError | None = None
    try:
        for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
                out.write(event.text)
                out.flush()
            elif isinstance(event, ReasoningDelta) and show_reasoning:
                err.write(event.text)
                err.flush()
            elif isinstance(event, ModelUsed) and event.reason:
                why = "the chosen model cannot read images" if event.reason == "vision" else ""
                why = why or "the chosen model was unavailable"
                print(f"[answered by {event.model}: {why}]", file=err)
            elif isinstance(event, Finished) and event.reason == "length":
                print("\n[the reply was cut at the maximum length]", file=err)
            elif isinstance(event, Finished) and event.reason == "content_filter":
                print("\n[the provider's content filter cut the reply]", file=err)
            elif isinstance(event, Failed):
                error = event.error
    finally:
        close_events(events)
    text = "".join(parts)
    if text and not text.endswith("\n"):
        out.write("\n")
        out.flush()
    return text, error


def cmd_ask(args: argparse.Namespace, assistant: Assistant) -> int:
    role = _role(args.role)
    message = " ".join(args.message).strip()
    if not message:
        raise InputError("The message is empty.")
    assistant.catalogue.warm()  # fetched while the images are prepared
    turn = ChatTurn("user", message, _images(args.image or []))
    _offline_notice(assistant, sys.stderr)
    assistant.catalogue.wait_ready(CATALOGUE_WAIT)
    events = assistant.stream_reply(role, [turn], model=args.model)
    _, error = render(events, sys.stdout, sys.stderr, show_reasoning=args.reasoning)
    if error is not None:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, assistant: Assistant) -> int:
    role = _role(args.role)
    history: list[ChatTurn] = []
    assistant.catalogue.warm()  # fetched while the first message is typed
    _offline_notice(assistant, sys.stderr)
    print(f"{role.label}: type a message, /new to start over, /quit to leave.", file=sys.stderr)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print(file=sys.stderr)
            return EXIT_OK
        if not line:
            continue
        if line in {"/quit", "/exit"}:
            return EXIT_OK
        if line == "/new":
            history.clear()
            continue
        history.append(ChatTurn("user", line))
        assistant.catalogue.wait_ready(CATALOGUE_WAIT)
        events = assistant.stream_reply(role, history, model=args.model)
        try:
            text, error = render(events, sys.stdout, sys.stderr, show_reasoning=args.reasoning)
        except KeyboardInterrupt:
            print("\n[stopped]", file=sys.stderr)
            continue
        if error is not None:
            print(error, file=sys.stderr)
        if text:
            history.append(ChatTurn("assistant", text))
        else:
            history.pop()  # nothing to answer to: let the user try again


def cmd_roles(args: argparse.Namespace, assistant: Assistant) -> int:
    for role in builtin_roles().values():
        print(f"{role.id:<18} {role.icon} {role.name}: {role.description}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, assistant: Assistant) -> int:
    if not assistant.catalogue.wait_ready(CATALOGUE_WAIT):
        late = f"The model list did not arrive within {CATALOGUE_WAIT:g} s. Please try again."
        print(assistant.catalogue.last_error or late, file=sys.stderr)
        return EXIT_FAILED
    models = assistant.catalogue.models()
    if args.images:
        models = [m for m in models if m.reads_images]
    if args.free:
        models = [m for m in models if m.is_free]
    if args.search:
        needle = args.search.lower()
        models = [m for m in models if needle in m.id.lower() or needle in m.name.lower()]
    for m in models:
        flag = "images" if m.reads_images else "text"
        print(f"{m.id:<45} {flag:<6} {m.context_length:>9,} ctx  {m.price_label()}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assistant", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="ask one question and stream the answer")
    ask.add_argument("message", nargs="+")
    chat = sub.add_parser("chat", help="an interactive conversation")
    for command in (ask, chat):
        command.add_argument("--role", default=DEFAULT_ROLE_ID, help="role id (see `roles`)")
        command.add_argument("--model", help="model id (see `models`)")
        command.add_argument(
            "--reasoning", action="store_true", help="show the model's reasoning on stderr"
        )
    ask.add_argument("--image", action="append", metavar="PATH", help="attach an image")
    ask.set_defaults(run=cmd_ask)
    chat.set_defaults(run=cmd_chat)
    sub.add_parser("roles", help="list the roles").set_defaults(run=cmd_roles)
    models = sub.add_parser("models", help="list models with price, context and image support")
    models.add_argument("--images", action="store_true", help="only models that read images")
    models.add_argument("--free", action="store_true", help="only free models")
    models.add_argument("--search", metavar="TEXT", help="filter by id or name")
    models.set_defaults(run=cmd_models)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        assistant = Assistant(Settings.from_env(os.environ))
        return int(args.run(args, assistant))
    except InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except AssistantError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\n[stopped]", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # the boundary: no traceback reaches the user, the log keeps it
        logging.getLogger(__name__).debug("unexpected failure", exc_info=True)
        print(GENERIC_SENTENCE, file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
