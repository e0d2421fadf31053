"""Terminal client: `python -m assistant ask|chat|roles|models`, and operators' commands.

The answer text goes to stdout as it arrives, so `ask` composes with pipes; everything else
(offline notices, which model stood in, errors) goes to stderr. Exit codes: 0 success, 1 the
reply failed (the partial answer stays printed), 2 bad usage or input, 130 interrupted.
A reply is the same server-side task the app and the chat API run (`assistant.replies`), kept
nowhere: printed as it grows, stopped by Ctrl+C. `-v` logs what happens, failures with their
detail.

Operators' commands work on the app's database (DATABASE_URL or the SQLite file in
ASSISTANT_DATA_DIR, from the environment or ./.streamlit/secrets.toml, as the app reads them):

    python -m assistant users create NAME                 the password is read from stdin
    python -m assistant keys create --user NAME [--label LABEL]   prints the new key, once
    python -m assistant keys list --user NAME
    python -m assistant keys revoke ID
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from assistant import local_model
from assistant.chat import Assistant
from assistant.context import ChatTurn
from assistant.errors import GENERIC_SENTENCE, AssistantError, InputError
from assistant.images import PreparedImage, prepare_image
from assistant.replies import Replies, ReplyJob, ReplyTask
from assistant.reply import Reply, ReplyStatus
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


def _notice(reply: Reply, err: TextIO) -> None:
    if reply.model_reason:
        why = "the chosen model cannot read images" if reply.model_reason == "vision" else ""
        why = why or "the chosen model was unavailable"
        print(f"[answered by {reply.model}: {why}]", file=err)


def render(
    task: ReplyTask, out: TextIO, err: TextIO, *, show_reasoning: bool = False
) -> tuple[str, str]:
    """Print a reply as it grows (the text on `out`, the rest on `err`); returns the answer
    text and the error's sentence ("" when the reply did not fail). Ctrl+C stops the reply."""
    printed = reasoned = 0
    noticed = False
    seen = -1
    try:
        while True:
            seen = task.wait(seen, 0.25)
            _, reply = task.snapshot()
            if not noticed and reply.model:
                noticed = True
                _notice(reply, err)
            if show_reasoning and len(reply.reasoning) > reasoned:
                err.write(reply.reasoning[reasoned:])
                err.flush()
                reasoned = len(reply.reasoning)
            if len(reply.text) > printed:
                out.write(reply.text[printed:])
                out.flush()
                printed = len(reply.text)
            if task.done:
                break
    finally:
        if not task.done:  # Ctrl+C: the reply stops, what arrived stays printed
            task.stop()
            task.join(5.0)
    _, reply = task.snapshot()
    if reply.text and not reply.text.endswith("\n"):
        out.write("\n")
        out.flush()
    if reply.finish_reason == "length":
        print("[the reply was cut at the maximum length]", file=err)
    elif reply.finish_reason == "content_filter":
        print("[the provider's content filter cut the reply]", file=err)
    return reply.text, reply.error if reply.status == ReplyStatus.ERROR else ""


def _answer(replies: Replies, role: Role, history: list[ChatTurn], model: str | None) -> ReplyTask:
    """A reply task, the same kind the app and the API run, kept nowhere (printed only)."""
    job = ReplyJob(
        owner_id=0,
        conversation_id="terminal",
        reply_id=uuid.uuid4().hex,
        role=role,
        model=model or replies.assistant.default_model,
        history=tuple(history),
    )
    return replies.start(job)


def cmd_ask(args: argparse.Namespace, replies: Replies) -> int:
    role = _role(args.role)
    message = " ".join(args.message).strip()
    if not message:
        raise InputError("The message is empty.")
    replies.assistant.catalogue.warm()  # fetched while the images are prepared
    turn = ChatTurn("user", message, _images(args.image or []))
    _offline_notice(replies.assistant, sys.stderr)
    replies.assistant.catalogue.wait_ready(CATALOGUE_WAIT)
    task = _answer(replies, role, [turn], args.model)
    try:
        _, error = render(task, sys.stdout, sys.stderr, show_reasoning=args.reasoning)
    except KeyboardInterrupt:
        print("\n[stopped]", file=sys.stderr)
        return EXIT_INTERRUPTED
    if error:
        print(error, file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, replies: Replies) -> int:
    role = _role(args.role)
    history: list[ChatTurn] = []
    replies.assistant.catalogue.warm()  # fetched while the first message is typed
    _offline_notice(replies.assistant, sys.stderr)
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
        replies.assistant.catalogue.wait_ready(CATALOGUE_WAIT)
        task = _answer(replies, role, history, args.model)
        try:
            text, error = render(task, sys.stdout, sys.stderr, show_reasoning=args.reasoning)
        except KeyboardInterrupt:
            print("\n[stopped]", file=sys.stderr)
            text, error = task.snapshot()[1].text, ""
        if error:
            print(error, file=sys.stderr)
        if text:
            history.append(ChatTurn("assistant", text))
        else:
            history.pop()  # nothing to answer to: let the user try again


def cmd_roles(args: argparse.Namespace, replies: Replies) -> int:
    for role in builtin_roles().values():
        print(f"{role.id:<18} {role.icon} {role.name}: {role.description}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, replies: Replies) -> int:
    assistant = replies.assistant
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


# -- operators' commands -------------------------------------------------------------------------


def _operator_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="operators: manage accounts").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create an account (password read from stdin)")
    create.add_argument("name")
    create.set_defaults(operate="users_create")
    keys = sub.add_parser("keys", help="operators: manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    make = keys.add_parser("create", help="make a key for a user and print it (once)")
    make.add_argument("--user", required=True, metavar="NAME")
    make.add_argument("--label", metavar="LABEL", help="a name for the key")
    make.set_defaults(operate="keys_create")
    listing = keys.add_parser("list", help="a user's keys (ids, dates, state, names)")
    listing.add_argument("--user", required=True, metavar="NAME")
    listing.set_defaults(operate="keys_list")
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id")
    revoke.set_defaults(operate="keys_revoke")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assistant", description=__doc__.splitlines()[0])
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what happens on stderr (-vv for details); tracebacks of failures included",
    )
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
    _operator_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.verbose:
        level = logging.INFO if args.verbose == 1 else logging.DEBUG
        logging.basicConfig(level=level, format="[%(levelname)s %(name)s] %(message)s")
    else:  # failures reach the user as sentences; -v shows the log, tracebacks included
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        if hasattr(args, "operate"):
            # Imported here: the database's libraries would slow every `ask` by about half a
            # second, and only these commands need them.
            from assistant import operators

            return operators.run(args.operate, args)
        assistant = Assistant(Settings.from_env(os.environ))
        return int(args.run(args, Replies(assistant)))
    except InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except AssistantError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\n[stopped]", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # the boundary: no traceback reaches the user unless asked for (-v)
        logging.getLogger(__name__).error("unexpected failure", exc_info=True)
        print(GENERIC_SENTENCE, file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
