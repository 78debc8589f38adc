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


def test_the_image_carries_every_package_the_project_installs() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = (ROOT / "Dockerfile").read_text()
    missing = [p for p in packages if f"COPY {p} ./{p}" not in dockerfile]
    assert missing == [], f"the Dockerfile does not copy {missing}: the image would fail to import them"


def test_portal_and_worker_share_one_link_key_ring() -> None:
    worker, portal = _env("worker"), _env("portal")
    assert SERVICES["portal"]["command"][-1] == "portal"
    assert worker["TANDEM_PORTAL_KEY_FILE"] == portal["TANDEM_PORTAL_KEY_FILE"]
    secret = portal["TANDEM_PORTAL_KEY_FILE"].removeprefix("/run/secrets/")
    assert secret in SERVICES["worker"]["secrets"] and secret in SERVICES["portal"]["secrets"]
    assert COMPOSE["secrets"][secret]["file"].startswith("./secrets/")
    # the links the worker puts in notices point at the published portal
    settings = Settings.from_env(portal)
    assert worker["TANDEM_PORTAL_URL"] == portal["TANDEM_PORTAL_URL"] == "http://localhost:8088"
    assert _published("portal")[settings.portal_port] == 8088 == Settings().portal_port
    assert settings.portal_host == "0.0.0.0"  # reachable from outside its container
    for name in ("TEMPORAL_ADDRESS", "DATABASE_URL", "TANDEM_TASK_QUEUE", "TANDEM_CODEC_KEY_FILE"):
        assert portal[name] == worker[name]


def test_the_ui_decodes_through_the_codec_server() -> None:
    codec, ui = _env("codec-server"), _env("temporal-ui")
    assert SERVICES["codec-server"]["command"][-1] == "codec-server"
    settings = Settings.from_env(codec)
    port = int(settings.codec_address.rsplit(":", 1)[1])
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{_published('codec-server')[port]}"
    assert settings.ui_origins == (f"http://localhost:{_published('temporal-ui')[8080]}",)
    assert codec["TANDEM_CODEC_KEY_FILE"] == _env("worker")["TANDEM_CODEC_KEY_FILE"]
    token = codec["TANDEM_CODEC_TOKEN_FILE"].removeprefix("/run/secrets/")
    assert token in SERVICES["codec-server"]["secrets"]
    assert COMPOSE["secrets"][token]["file"].startswith("./secrets/")
