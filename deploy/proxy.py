"""HAProxy in front of the replicas: `deploy/haproxy.cfg` filled in, then HAProxy itself.

`python -m deploy.proxy --bind :8501 --replica app1=app1:8501 --replica app2=app2:8501` writes
the configuration and replaces itself with HAProxy in the foreground (compose.yaml's proxy
service); `deploy.cluster` renders the same template with loopback replicas.
"""

from __future__ import annotations

import argparse
import os
import shutil
import string
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg"
#: Debian's package puts the binary in /usr/sbin, which is not on a normal user's PATH.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class Backend:
    """One replica as HAProxy sees it; `name` is also the value of its stickiness cookie."""

    name: str
    address: str  # host:port


def render(bind: str, backends: Sequence[Backend], *, dns: str | None = None) -> str:
    """The HAProxy configuration for `backends`, listening on `bind` (e.g. ":8501").

    With `dns` (host:port of a DNS server, such as Docker's 127.0.0.11:53) replica names are
    looked up again while running, so a replica that comes back with a new address is found,
    and HAProxy starts even while a replica's name does not resolve yet.
    """
    resolvers = ""
    server_options = ""
    if dns:
        resolvers = f"resolvers dns\n    nameserver dns {dns}\n    hold valid 5s\n"
        server_options = " resolvers dns init-addr last,libc,none"
    servers = "".join(
        f"    server {b.name} {b.address} cookie {b.name}\n" for b in backends
    ).rstrip("\n")
    template = string.Template(TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        bind=bind, resolvers=resolvers, server_options=server_options, servers=servers
    )


def find_haproxy(name: str = "haproxy") -> str | None:
    """The HAProxy binary `name` (a path, or looked up on PATH and the sbin folders)."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN])
    return shutil.which(name, path=search)


def command(haproxy: str, config: Path) -> list[str]:
    """HAProxy in the foreground (-db), reading `config`."""
    return [haproxy, "-db", "-f", str(config)]


def _backend(spec: str) -> Backend:
    name, sep, address = spec.partition("=")
    if not sep or not name or ":" not in address:
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {spec!r}")
    return Backend(name, address)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.proxy", description=__doc__)
    parser.add_argument("--bind", default=":8501", help="address:port to listen on")
    parser.add_argument("--replica", type=_backend, action="append", required=True)
    parser.add_argument("--dns", help="DNS server to look replica names up again (host:port)")
    parser.add_argument("--haproxy", default="haproxy", help="the HAProxy binary")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    haproxy = find_haproxy(args.haproxy)
    if haproxy is None:
        sys.exit("HAProxy is not installed: run `make haproxy` (apt-get install haproxy).")
    config = Path(tempfile.mkdtemp(prefix="haproxy-")) / "haproxy.cfg"
    config.write_text(render(args.bind, args.replica, dns=args.dns), encoding="utf-8")
    argv_ = command(haproxy, config)
    os.execv(argv_[0], argv_)


if __name__ == "__main__":
    main()
