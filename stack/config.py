"""One typed configuration object, loaded once from a TOML file and `ROOST_*` variables.

Precedence: built-in default < TOML file (`--config` or `ROOST_CONFIG`) < environment.
Every key is documented in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.errors import BadRequest


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path(".roost-data")
    # Unset: `roost serve` starts the embedded PouchDB Server. Set: Apache CouchDB 3.x URL,
    # credentials included (`http://admin:pass@127.0.0.1:5984`).
    couchdb_url: str | None = None
    # Prepended to every database name so several deployments (or test runs) share a server.
    db_prefix: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    # Requests whose Host matches no instance go here (a box reached by IP or `localhost`).
    default_instance: str | None = None
    max_body_bytes: int = 1024 * 1024
    couch_timeout_seconds: float = 30.0
    session_ttl_seconds: int = 7 * 24 * 3600
    login_max_failures: int = 10
    login_window_seconds: int = 300
    # How stale an in-process cache (instances, permission documents) may be.
    cache_ttl_seconds: float = 2.0
    # Sets the Secure flag on cookies when the public URL is https.
    https: bool = False
    log_level: str = "info"
    # Apps runtime (operator maxima; a manifest may ask for less, never more).
    apps_max_fuel: int = 20_000_000_000
    apps_max_memory_mib: int = 256
    apps_max_wall_seconds: float = 30.0
    apps_concurrency: int = 2
    # Most app runs one instance may hold at once (0: apps_concurrency - 1, at least 1).
    apps_per_instance_concurrency: int = 0
    # Host-call budget maxima per run (a manifest may ask for less, never more).
    apps_max_host_calls: int = 100_000
    apps_max_host_bytes: int = 512 * 1024 * 1024
    # The largest result or error a run may return.
    apps_max_output_bytes: int = 1024 * 1024
    # A compiled app no run used for this long leaves memory (0: kept while serving).
    apps_release_after_seconds: float = 60.0
    # The compiler process's address-space cap, MiB (0: none); a Python app needs < 1 GiB.
    apps_compile_memory_mib: int = 2048
    # Hosts a connector may reach even though they resolve to loopback/private addresses.
    egress_allow_private: tuple[str, ...] = ()
    # Where file bytes live: "local" (`{data_dir}/files`) or "s3" (an S3-compatible object
    # store every stack of a fleet shares; docs/scaling.md).
    blob_store: str = "local"
    s3_endpoint: str | None = None  # e.g. http://127.0.0.1:8333; unset: AWS S3
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Prepended to every object key, so several deployments share a bucket.
    s3_key_prefix: str = ""
    # The Store (docs/registry.md): registries besides the bundled one (folders or https
    # URLs), the public keys (`ed25519:<base64>`) whose signatures are accepted, and whether
    # `{data_dir}/registry` (made by `roost registry bundle`) is listed and its key trusted.
    registries: tuple[str, ...] = ()
    registry_trusted_keys: tuple[str, ...] = ()
    registry_bundled: bool = True
    registry_timeout_seconds: float = 30.0
    registry_max_package_bytes: int = 128 * 1024 * 1024
    # Optional e-mail of notifications (unset host: no e-mail is ever sent).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def couch_dir(self) -> Path:
        return self.data_dir / "couchdb"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


_ENV_KEYS: dict[str, str] = {
    "ROOST_DATA": "data_dir",
    "ROOST_COUCHDB_URL": "couchdb_url",
    "ROOST_DB_PREFIX": "db_prefix",
    "ROOST_HOST": "host",
    "ROOST_PORT": "port",
    "ROOST_DEFAULT_INSTANCE": "default_instance",
    "ROOST_MAX_BODY_BYTES": "max_body_bytes",
    "ROOST_HTTPS": "https",
    "ROOST_LOG_LEVEL": "log_level",
    "ROOST_EGRESS_ALLOW_PRIVATE": "egress_allow_private",
    "ROOST_BLOB_STORE": "blob_store",
    "ROOST_S3_ENDPOINT": "s3_endpoint",
    "ROOST_S3_BUCKET": "s3_bucket",
    "ROOST_S3_REGION": "s3_region",
    "ROOST_S3_ACCESS_KEY_ID": "s3_access_key_id",
    "ROOST_S3_SECRET_ACCESS_KEY": "s3_secret_access_key",
    "ROOST_S3_KEY_PREFIX": "s3_key_prefix",
    "ROOST_REGISTRIES": "registries",
    "ROOST_REGISTRY_TRUSTED_KEYS": "registry_trusted_keys",
    "ROOST_REGISTRY_BUNDLED": "registry_bundled",
    "ROOST_SMTP_HOST": "smtp_host",
    "ROOST_SMTP_PORT": "smtp_port",
    "ROOST_SMTP_FROM": "smtp_from",
    "ROOST_SMTP_STARTTLS": "smtp_starttls",
    "ROOST_SMTP_USER": "smtp_user",
    "ROOST_SMTP_PASSWORD": "smtp_password",
}


def _coerce(name: str, raw: Any) -> Any:
    try:
        return _convert(name, raw)
    except (TypeError, ValueError):
        raise BadRequest(f"invalid value {raw!r} for the setting {name}") from None


def _convert(name: str, raw: Any) -> Any:
    kinds = {f.name: f.type for f in dataclasses.fields(Config)}
    kind = str(kinds[name])
    if raw is None:
        return None
    if "Path" in kind:
        return Path(str(raw)).expanduser()
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if "tuple" in kind:
        if isinstance(raw, str):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        return tuple(str(p) for p in raw)
    if "str" in kind:
        text = str(raw)
        return text or None if "None" in kind else text
    return raw


def load_config(
    path: Path | None = None, env: dict[str, str] | None = None, **overrides: Any
) -> Config:
    """Read the TOML file (if any), then the environment, then explicit overrides."""
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    config_path = path or (Path(env["ROOST_CONFIG"]) if env.get("ROOST_CONFIG") else None)
    known = {f.name for f in dataclasses.fields(Config)} - {"extra"}
    if config_path is not None:
        try:
            data = tomllib.loads(config_path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise BadRequest(f"cannot read config file {config_path}: {error}") from error
        section = data.get("roost", data)
        for key, raw in section.items():
            if key not in known:
                raise BadRequest(f"unknown config key {key!r} in {config_path}")
            values[key] = _coerce(key, raw)
    for variable, key in _ENV_KEYS.items():
        if variable in env and env[variable] != "":
            values[key] = _coerce(key, env[variable])
    for key, raw in overrides.items():
        if raw is not None:
            values[key] = _coerce(key, raw)
    config = Config(**values)
    _check_blob_store(config)
    return config


def _check_blob_store(config: Config) -> None:
    if config.blob_store not in ("local", "s3"):
        raise BadRequest(f'blob_store must be "local" or "s3", not {config.blob_store!r}')
    if config.blob_store == "s3" and not config.s3_bucket:
        raise BadRequest('blob_store = "s3" needs s3_bucket (ROOST_S3_BUCKET)')
