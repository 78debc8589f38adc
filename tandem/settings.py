"""Addresses and knobs, read from the environment; the local stack is the default."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

DEFAULT_TEMPORAL_ADDRESS = "127.0.0.1:7233"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/tandem"
DEFAULT_CODEC_ADDRESS = "127.0.0.1:8234"
KEY_FILE_NAME = "codec-keys.json"
PORTAL_KEY_FILE_NAME = "portal-keys.json"
DEFAULT_PORTAL_PORT = 8088
TOKEN_FILE_NAME = "codec-token"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    temporal_address: str = DEFAULT_TEMPORAL_ADDRESS
    temporal_namespace: str = "default"
    database_url: str = DEFAULT_DATABASE_URL
    task_queue: str = "tandem"
    state_dir: Path = Path(".tandem")
    ui_port: int = 8233
    log_format: str = "auto"  # auto | json | console
    codec_keys: str | None = None  # TANDEM_CODEC_KEYS: id:base64key[,...], newest last
    codec_key_file: Path | None = None  # TANDEM_CODEC_KEY_FILE; default: <state_dir>/codec-keys.json
    # the participant portal (portal/): where it listens, the address links carry, its signing keys
    portal_host: str = "127.0.0.1"  # TANDEM_PORTAL_HOST
    portal_port: int = DEFAULT_PORTAL_PORT  # TANDEM_PORTAL_PORT
    portal_url: str | None = None  # TANDEM_PORTAL_URL: public base URL of links; default http://host:port
    portal_keys: str | None = None  # TANDEM_PORTAL_KEYS: id:base64key[,...], newest last
    portal_key_file: Path | None = None  # TANDEM_PORTAL_KEY_FILE; default: <state_dir>/portal-keys.json
    portal_link_days: int = 14  # TANDEM_PORTAL_LINK_DAYS: how long a link in a notice stays valid
    codec_address: str = DEFAULT_CODEC_ADDRESS  # TANDEM_CODEC_ADDRESS: where the codec server listens
    codec_origins: tuple[str, ...] = ()  # TANDEM_CODEC_ORIGINS; default: the local UI's origin
    codec_token: str | None = None  # TANDEM_CODEC_TOKEN: the codec server's bearer token
    codec_token_file: Path | None = None  # TANDEM_CODEC_TOKEN_FILE; default: <state_dir>/codec-token
    # TANDEM_WORKFLOW_SANDBOX=on runs workflows in the SDK's sandbox (slower; see worker.py for why off)
    workflow_sandbox: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS", DEFAULT_TEMPORAL_ADDRESS),
            temporal_namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            task_queue=env.get("TANDEM_TASK_QUEUE", "tandem"),
            state_dir=Path(env.get("TANDEM_STATE_DIR", ".tandem")),
            ui_port=int(env.get("TANDEM_UI_PORT", "8233")),
            log_format=env.get("TANDEM_LOG_FORMAT", "auto"),
            codec_keys=env.get("TANDEM_CODEC_KEYS") or None,
            codec_key_file=Path(env["TANDEM_CODEC_KEY_FILE"]) if env.get("TANDEM_CODEC_KEY_FILE") else None,
            portal_host=env.get("TANDEM_PORTAL_HOST", "127.0.0.1"),
            portal_port=int(env.get("TANDEM_PORTAL_PORT", str(DEFAULT_PORTAL_PORT))),
            portal_url=env.get("TANDEM_PORTAL_URL") or None,
            portal_keys=env.get("TANDEM_PORTAL_KEYS") or None,
            portal_key_file=(
                Path(env["TANDEM_PORTAL_KEY_FILE"]) if env.get("TANDEM_PORTAL_KEY_FILE") else None
            ),
            portal_link_days=int(env.get("TANDEM_PORTAL_LINK_DAYS", "14")),
            codec_address=env.get("TANDEM_CODEC_ADDRESS", DEFAULT_CODEC_ADDRESS),
            codec_origins=_listed(env.get("TANDEM_CODEC_ORIGINS", "")),
            codec_token=env.get("TANDEM_CODEC_TOKEN") or None,
            codec_token_file=(
                Path(env["TANDEM_CODEC_TOKEN_FILE"]) if env.get("TANDEM_CODEC_TOKEN_FILE") else None
            ),
            workflow_sandbox=_switch("TANDEM_WORKFLOW_SANDBOX", env.get("TANDEM_WORKFLOW_SANDBOX", "")),
        )

    @property
    def key_file(self) -> Path:
        return self.codec_key_file or self.state_dir / KEY_FILE_NAME

    @property
    def portal_key_path(self) -> Path:
        return self.portal_key_file or self.state_dir / PORTAL_KEY_FILE_NAME

    @property
    def portal_base_url(self) -> str:
        return (self.portal_url or f"http://{self.portal_host}:{self.portal_port}").rstrip("/")

    @property
    def token_file(self) -> Path:
        return self.codec_token_file or self.state_dir / TOKEN_FILE_NAME

    @property
    def ui_origins(self) -> tuple[str, ...]:
        """The browser origins the codec server answers: the Temporal UI's (CORS)."""
        return self.codec_origins or (f"http://127.0.0.1:{self.ui_port}",)

    @property
    def codec_url(self) -> str:
        return f"http://{self.codec_address}"

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


def _listed(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


class SettingsError(ValueError):
    """A malformed environment variable, named with its value; the CLI and the worker exit 2 on it."""


_ON = ("on", "true", "1", "yes")
_OFF = ("off", "false", "0", "no", "")


def _switch(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise SettingsError(f"{name}={value!r}: say on or off")


# The environment variables the worker and the starter read; docker-compose.yml must agree (tested).
ENVIRONMENT_VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "DATABASE_URL",
    "TANDEM_TASK_QUEUE",
    "TANDEM_LOG_FORMAT",
    "TANDEM_CODEC_KEY_FILE",
    "TANDEM_PORTAL_KEY_FILE",  # the worker signs the links in notices, the portal checks them: one key ring
    "TANDEM_PORTAL_URL",
)
