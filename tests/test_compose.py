"""docker-compose.yml cannot run here (no Docker engine); check it agrees with the code statically."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from tandem.settings import ENVIRONMENT_VARIABLES, Settings
from workflows.search import DEV_SERVER_TYPES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _published(service: str) -> dict[int, int]:
    """container port -> host port"""
    out = {}
    for mapping in SERVICES[service].get("ports", []):
        host, container = str(mapping).split(":")[-2:]
        out[int(container)] = int(host)
    return out


def test_topology_has_every_service() -> None:
    assert {"temporal-db", "temporal", "temporal-ui", "eventstore", "worker", "temporal-setup"} <= set(
        SERVICES
    )
    assert SERVICES["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").exists()
    assert "worker.py" in (ROOT / "Dockerfile").read_text()


def test_worker_environment_is_what_the_code_reads() -> None:
    env = _env("worker")
    assert set(env) == set(ENVIRONMENT_VARIABLES)
    settings = Settings.from_env(env)
    host, port = settings.temporal_host, settings.temporal_port
    assert host == "temporal" and port in _published("temporal")
    db = urlsplit(settings.database_url)
    assert db.hostname == "eventstore" and db.port == 5432
    store_env = _env("eventstore")
    assert db.username == store_env["POSTGRES_USER"]
    assert db.password == store_env["POSTGRES_PASSWORD"]
    assert db.path.lstrip("/") == store_env["POSTGRES_DB"]
    assert settings.task_queue == Settings().task_queue
    secret = SERVICES["worker"]["secrets"][0]
    assert env["TANDEM_CODEC_KEY_FILE"] == f"/run/secrets/{secret}"
    assert COMPOSE["secrets"][secret]["file"].startswith("./secrets/")


def test_ports_match_the_local_stack_defaults() -> None:
    defaults = Settings()
    assert _published("temporal")[7233] == defaults.temporal_port
    assert _published("temporal-ui")[8080] == defaults.ui_port
    assert _published("eventstore")[5432] == urlsplit(defaults.database_url).port


def test_temporal_persistence_is_postgres_and_search_attributes_are_registered() -> None:
    env = _env("temporal")
    assert env["DB"].startswith("postgres") and env["POSTGRES_SEEDS"] == "temporal-db"
    setup = " ".join(SERVICES["temporal-setup"]["command"])
    for name, kind in DEV_SERVER_TYPES.items():
        assert f"{name}={kind}" in setup
    assert _env("temporal-ui")["TEMPORAL_ADDRESS"] == "temporal:7233"
