"""The app on several processes on one machine: `python -m deploy.cluster --replicas 2`.

What it starts, in order, and stops in reverse on Ctrl+C (or SIGTERM, or any failure):

1. PostgreSQL: the server in `DATABASE_URL` (environment or `.streamlit/secrets.toml`, as the
   app reads it), checked and migrated once; without it, a throwaway server
   (`deploy/postgres.py`, the one the tests start) whose data goes when the cluster stops.
2. N replicas, each `python -m deploy.replica` on a free loopback port (the Dockerfile's start
   command), all with the same database, the same cookie secret (`STREAMLIT_SERVER_COOKIE_SECRET`
   from the environment, else a new random one) so a session cookie issued by one replica works
   on all of them, and `ASSISTANT_TRUSTED_PROXIES=127.0.0.1` so they believe HAProxy's
   X-Forwarded-For. Their output goes to one log file each.
3. HAProxy (`deploy/haproxy.cfg`) on `--port`, in the foreground: sticky sessions by cookie,
   health checks on `/_stcore/health`; a browser whose replica dies is sent to another one.

Bad input (no HAProxy, the port taken, a `DATABASE_URL` that is not PostgreSQL or cannot be
reached) ends it before anything starts, with one sentence and exit code 2. A replica that
dies is reported and not restarted; the cluster stops when none is left.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from deploy import database, postgres, proxy, replica
from deploy.database import BadInput, DeployError

ROOT = Path(__file__).resolve().parent.parent
COOKIE_SECRET = "STREAMLIT_SERVER_COOKIE_SECRET"
#: Throwaway database created in the throwaway server.
DATABASE = "assistant"
START_TIMEOUT = 90.0


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def say(line: str) -> None:
    # Whoever reads the output may have gone (a closed pipe); the cluster carries on regardless.
    with contextlib.suppress(OSError):
        print(line, flush=True)


# -- checks before anything starts ------------------------------------------------------------


def check_port(address: str, port: int) -> None:
    """Fail if something already listens on the port HAProxy needs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As HAProxy does: connections of a previous run in TIME_WAIT don't block the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise BadInput(
                    f"Port {port} is already in use: stop what is using it, or pick another "
                    f"port (make cluster PORT=8502, or --port)."
                ) from None
            raise BadInput(f"Cannot listen on {address}:{port}: {error.strerror}.") from None


# -- starting and stopping --------------------------------------------------------------------


def _die_with_parent() -> None:
    """Runs in the child before exec: if the launcher is killed outright, so is the child."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn(
    command: list[str], env: Mapping[str, str], output: IO[bytes] | None
) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl+C reaches the launcher only, which then stops everything in
    # order (HAProxy first, so nobody is sent to a replica that is going away).
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stop_processes(processes: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _running(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: process.poll() is None


def wait_until_healthy(
    url: str, alive: Callable[[], bool], what: str, timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return
        if not alive():
            raise DeployError(f"{what} stopped while starting.")
        if time.monotonic() > deadline:
            raise DeployError(f"{what} did not answer its health check within {timeout:.0f} s.")
        time.sleep(0.2)


def start_replicas(
    count: int, env: Mapping[str, str], logs: Path, stack: contextlib.ExitStack
) -> list[Replica]:
    logs.mkdir(parents=True, exist_ok=True)
    replicas: list[Replica] = []
    processes: list[subprocess.Popen[bytes]] = []
    stack.callback(stop_processes, processes)  # whatever has started by then
    for index in range(1, count + 1):
        name = f"r{index}"
        port = postgres.free_port()
        log = logs / f"{name}.log"
        output = stack.enter_context(log.open("wb"))
        processes.append(spawn(replica.start_command(port, "127.0.0.1"), env, output))
        replicas.append(Replica(name, port, processes[-1], log))
    for r in replicas:
        try:
            wait_until_healthy(r.url, _running(r.process), f"Replica {r.name}")
        except DeployError as error:
            raise DeployError(f"{error} Its log ({r.log}) ends with:\n{_tail(r.log)}") from None
        say(f"Replica {r.name}: pid {r.process.pid}, {r.url}, log {r.log}")
    return replicas


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def watch(haproxy: subprocess.Popen[bytes], replicas: list[Replica]) -> None:
    """Block until HAProxy stops or no replica is left; report replicas that die."""
    reported: set[str] = set()
    while haproxy.poll() is None:
        for r in replicas:
            code = r.process.poll()
            if code is not None and r.name not in reported:
                reported.add(r.name)
                say(
                    f"Replica {r.name} (pid {r.process.pid}) stopped with code {code}; HAProxy "
                    f"sends its users to the others. Its log: {r.log}"
                )
        if len(reported) == len(replicas):
            raise DeployError("No replica is left running.")
        time.sleep(0.5)
    raise DeployError(f"HAProxy stopped with code {haproxy.returncode}.")


@contextlib.contextmanager
def shared_database(environ: Mapping[str, str]) -> Iterator[str]:
    """The database URL every replica uses; a throwaway server for as long as the block runs."""
    configured = database.configured_url(environ)
    if configured:
        database.check_url(configured)
        database.reach(configured)
        say(f"PostgreSQL: {database.without_password(configured)}")
        yield configured
        return
    reason = postgres.unavailable_reason()
    if reason:
        raise BadInput(
            f"No DATABASE_URL and no PostgreSQL to start one ({reason}): run `make postgres`, "
            "or set DATABASE_URL to a PostgreSQL server."
        )
    server = postgres.start_postgres()
    try:
        server.create_database(DATABASE)
        say(
            f"PostgreSQL: a throwaway server on 127.0.0.1:{server.port}; its data is deleted "
            "when the cluster stops (set DATABASE_URL to keep it)."
        )
        yield server.url(DATABASE)
    finally:
        server.stop()


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    haproxy = proxy.find_haproxy(args.haproxy)
    if haproxy is None:
        raise BadInput("HAProxy is not installed: run `make haproxy` (apt-get install haproxy).")
    check_port(args.address, args.port)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(shared_database(environ))
        database.migrate(url)
        env = {
            **environ,
            "DATABASE_URL": url,
            COOKIE_SECRET: environ.get(COOKIE_SECRET) or secrets.token_urlsafe(32),
            "ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
        }
        replicas = start_replicas(args.replicas, env, args.logs, stack)
        config = args.logs / "haproxy.cfg"
        backends = [proxy.Backend(r.name, f"127.0.0.1:{r.port}") for r in replicas]
        config.write_text(proxy.render(f"{args.address}:{args.port}", backends), "utf-8")
        balancer = spawn(proxy.command(haproxy, config), environ, None)
        stack.callback(stop_processes, [balancer])
        host = "localhost" if args.address in ("", "0.0.0.0") else args.address
        public = f"http://{host}:{args.port}"
        wait_until_healthy(public, _running(balancer), "HAProxy", timeout=15)
        say(f"Serving {len(replicas)} replicas at {public} (Ctrl+C stops everything)")
        watch(balancer, replicas)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.cluster",
        description="Serve the app from several replicas behind HAProxy, with one PostgreSQL.",
    )
    parser.add_argument("--replicas", type=int, default=2, help="how many app processes (2)")
    parser.add_argument("--port", type=int, default=8501, help="where HAProxy listens (8501)")
    parser.add_argument(
        "--address", default="0.0.0.0", help="where HAProxy listens (all interfaces)"
    )
    parser.add_argument("--haproxy", default="haproxy", help="the HAProxy binary")
    parser.add_argument(
        "--logs", type=Path, default=ROOT / "data" / "cluster", help="replica logs and config"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 32:
        parser.error("--replicas must be between 1 and 32")
    if not 1 <= args.port <= 65535:
        parser.error("--port must be between 1 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run(args, os.environ)
    except DeployError as error:
        print(error, file=sys.stderr, flush=True)
        return error.exit_code
    except KeyboardInterrupt:
        say("Stopped everything the cluster had started.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
