"""Settings come from EMON_* variables (and .env), are validated at start, and production refuses unsafe values."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, env_names, load_settings

STRONG = "s" * 40
STRONG2 = "t" * 40
PRODUCTION_OK = {
    "EMON_ENV": "production",
    "EMON_SECURITY_SECRET_KEY": STRONG,
    "EMON_SECURITY_AUDIT_HMAC_KEY": STRONG2,
    "EMON_DATABASE_URL": "postgresql+asyncpg://emon@db.internal/emon?ssl=verify-full",
    "EMON_BIOMETRICS_TEMPLATE_KEYS": "k1:" + "A" * 44,
    "EMON_HTTP_ALLOWED_HOSTS": "emon.example.gov.uk",
}


def test_defaults_are_a_working_development_setup() -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.env == "development"
    assert settings.database.url == "sqlite+aiosqlite:///var/emon.db"
    assert settings.http.port == 8000


def test_values_are_read_and_converted_from_the_environment() -> None:
    settings = load_settings(
        {"EMON_HTTP_PORT": "9000", "EMON_HTTP_CORS_ORIGINS": "https://a.example, https://b.example"}, dotenv=None
    )
    assert settings.http.port == 9000
    assert settings.http.cors_origins == ["https://a.example", "https://b.example"]


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nEMON_HTTP_PORT=7000\nexport EMON_LOGGING_LEVEL='DEBUG'\n")
    settings = load_settings({"EMON_HTTP_PORT": "7001"}, dotenv=dotenv)
    assert settings.http.port == 7001
    assert settings.logging.level == "DEBUG"


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"EMON_HTTP_PORT": "eighty"}, dotenv=None)
    assert "EMON_HTTP_PORT" in str(caught.value)


def test_an_unknown_variable_is_reported_not_ignored() -> None:
    with pytest.raises(SettingsError, match="EMON_HTTP_PROT"):
        load_settings({"EMON_HTTP_PROT": "1"}, dotenv=None)


def test_production_with_safe_values_starts() -> None:
    assert load_settings(PRODUCTION_OK, dotenv=None).is_production


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"EMON_SECURITY_SECRET_KEY": "dev-insecure-secret-change-me"}, "EMON_SECURITY_SECRET_KEY is the development"),
        ({"EMON_SECURITY_SECRET_KEY": "short"}, "EMON_SECURITY_SECRET_KEY is shorter"),
        ({"EMON_DEBUG": "true"}, "EMON_DEBUG is on"),
        ({"EMON_HTTP_CORS_ORIGINS": "*"}, "wildcard"),
        ({"EMON_DATABASE_URL": "sqlite+aiosqlite:///var/x.db"}, "SQLite"),
        ({"EMON_BIOMETRICS_TEMPLATE_KEYS": ""}, "TEMPLATE_KEYS"),
        ({"EMON_SECURITY_ARGON2_MEMORY_COST_KIB": "4096"}, "OWASP floor"),
        ({"EMON_SECURITY_MFA_REQUIRED": "false"}, "MFA"),
    ],
)
def test_production_refuses_each_insecure_value_by_name(override: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**PRODUCTION_OK, **override}, dotenv=None)
    assert any(named in problem for problem in caught.value.problems)


def test_production_names_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"EMON_ENV": "production"}, dotenv=None)
    assert len(caught.value.problems) >= 4


def test_sqlite_in_production_only_when_explicitly_allowed() -> None:
    env = {**PRODUCTION_OK, "EMON_DATABASE_URL": "sqlite+aiosqlite:///var/x.db", "EMON_ALLOW_SQLITE_IN_PRODUCTION": "1"}
    assert load_settings(env, dotenv=None).uses_sqlite


def test_several_workers_need_redis() -> None:
    with pytest.raises(SettingsError, match="EMON_REDIS_URL"):
        load_settings({"EMON_HTTP_WORKERS": "2"}, dotenv=None)


def test_every_setting_has_one_environment_variable() -> None:
    names = env_names()
    assert names["EMON_DATABASE_URL"] == "database.url"
    assert names["EMON_ENV"] == "env"
    assert len(set(names.values())) == len(names)
