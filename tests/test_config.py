"""Configuration: built-in defaults < TOML file < `ROOST_*` environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roost.config import Config, load_config
from roost.errors import BadRequest


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roost.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment() -> None:
    config = load_config(env={})
    assert config == Config()
    assert config.couchdb_url is None
    assert config.max_body_bytes == 1024 * 1024
    assert config.default_instance is None
    assert config.https is False


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('[roost]\nport = 9000\ndb_prefix = "file-"\n', id="roost-section"),
        pytest.param('port = 9000\ndb_prefix = "file-"\n', id="top-level"),
    ],
)
def test_the_file_sets_keys(tmp_path: Path, text: str) -> None:
    config = load_config(_file(tmp_path, text), env={})
    assert (config.port, config.db_prefix) == (9000, "file-")


@pytest.mark.parametrize(
    ("file_text", "env", "overrides", "expected"),
    [
        pytest.param("port = 9000", {}, {}, 9000, id="file-over-default"),
        pytest.param("port = 9000", {"ROOST_PORT": "9100"}, {}, 9100, id="env-over-file"),
        pytest.param(
            "port = 9000", {"ROOST_PORT": "9100"}, {"port": 9200}, 9200, id="override-over-env"
        ),
        pytest.param("port = 9000", {"ROOST_PORT": ""}, {}, 9000, id="empty-env-is-unset"),
        pytest.param("", {"ROOST_PORT": "9100"}, {}, 9100, id="env-over-default"),
        pytest.param("port = 9000", {}, {"port": None}, 9000, id="none-override-is-unset"),
    ],
)
def test_precedence(
    tmp_path: Path, file_text: str, env: dict[str, str], overrides: dict[str, Any], expected: int
) -> None:
    config = load_config(_file(tmp_path, file_text), env=env, **overrides)
    assert config.port == expected


def test_roost_config_names_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, 'couchdb_url = "http://admin:pw@127.0.0.1:5984"')
    config = load_config(env={"ROOST_CONFIG": str(path)})
    assert config.couchdb_url == "http://admin:pw@127.0.0.1:5984"


@pytest.mark.parametrize(
    ("variable", "raw", "key", "value"),
    [
        ("ROOST_DATA", "/srv/roost", "data_dir", Path("/srv/roost")),
        ("ROOST_DATA", "~/roost", "data_dir", Path("~/roost").expanduser()),
        ("ROOST_COUCHDB_URL", "http://c:5984", "couchdb_url", "http://c:5984"),
        ("ROOST_DB_PREFIX", "prod-", "db_prefix", "prod-"),
        ("ROOST_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("ROOST_PORT", "8443", "port", 8443),
        ("ROOST_DEFAULT_INSTANCE", "alice.localhost", "default_instance", "alice.localhost"),
        ("ROOST_MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
        ("ROOST_HTTPS", "true", "https", True),
        ("ROOST_HTTPS", "yes", "https", True),
        ("ROOST_HTTPS", "1", "https", True),
        ("ROOST_HTTPS", "0", "https", False),
        ("ROOST_HTTPS", "off", "https", False),
        ("ROOST_LOG_LEVEL", "debug", "log_level", "debug"),
        (
            "ROOST_EGRESS_ALLOW_PRIVATE",
            "127.0.0.1, localhost,",
            "egress_allow_private",
            ("127.0.0.1", "localhost"),
        ),
    ],
)
def test_each_environment_variable(variable: str, raw: str, key: str, value: Any) -> None:
    assert getattr(load_config(env={variable: raw}), key) == value


def test_file_values_are_coerced_to_their_types(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "[roost]\n"
        'data_dir = "/var/lib/roost"\n'
        'port = "8081"\n'
        "https = true\n"
        "cache_ttl_seconds = 1\n"
        'egress_allow_private = ["127.0.0.1"]\n'
        'default_instance = ""\n',
    )
    config = load_config(path, env={})
    assert config.data_dir == Path("/var/lib/roost")
    assert config.port == 8081
    assert config.https is True
    assert config.cache_ttl_seconds == 1.0
    assert isinstance(config.cache_ttl_seconds, float)
    assert config.egress_allow_private == ("127.0.0.1",)
    assert config.default_instance is None
    assert config.couch_dir == Path("/var/lib/roost/couchdb")
    assert config.files_dir == Path("/var/lib/roost/files")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("colour = 'blue'", "unknown config key 'colour'", id="unknown-key"),
        pytest.param(
            "[roost]\nmax_body_byte = 10", "unknown config key 'max_body_byte'", id="typo"
        ),
        pytest.param("[roost]\nextra = {}", "unknown config key 'extra'", id="internal-field"),
        pytest.param("port = ", "cannot read config file", id="malformed-toml"),
    ],
)
def test_a_bad_file_is_an_error_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(BadRequest) as raised:
        load_config(path, env={})
    assert message in raised.value.reason
    assert str(path) in raised.value.reason


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="cannot read config file"):
        load_config(tmp_path / "absent.toml", env={})


def test_the_config_is_immutable() -> None:
    config = load_config(env={})
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


def test_a_malformed_number_is_a_config_error() -> None:
    with pytest.raises(BadRequest, match=r"ROOST_PORT|port"):
        load_config(env={"ROOST_PORT": "abc"})


def test_the_s3_blob_store_is_configured_from_the_environment() -> None:
    config = load_config(
        env={
            "ROOST_BLOB_STORE": "s3",
            "ROOST_S3_ENDPOINT": "http://127.0.0.1:8333",
            "ROOST_S3_BUCKET": "roost",
            "ROOST_S3_ACCESS_KEY_ID": "key",
            "ROOST_S3_SECRET_ACCESS_KEY": "secret",
            "ROOST_S3_KEY_PREFIX": "prod/",
        }
    )
    assert (config.blob_store, config.s3_endpoint, config.s3_bucket) == (
        "s3",
        "http://127.0.0.1:8333",
        "roost",
    )
    assert (config.s3_access_key_id, config.s3_key_prefix, config.s3_region) == (
        "key",
        "prod/",
        "us-east-1",
    )
    assert load_config(env={}).blob_store == "local"


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"ROOST_BLOB_STORE": "swift"}, 'blob_store must be "local" or "s3"'),
        ({"ROOST_BLOB_STORE": "s3"}, "needs s3_bucket"),
    ],
)
def test_a_wrong_blob_store_is_refused_at_start(env: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        load_config(env=env)
