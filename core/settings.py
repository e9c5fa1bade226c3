"""Settings from ``EMON_*`` environment variables (and an optional ``.env`` file), validated at start.

Each field of a section is read from ``EMON_<SECTION>_<FIELD>``; top-level fields from ``EMON_<FIELD>``.
Lists are comma-separated. In production, :func:`insecure_values` must be empty or the process refuses to start.
"""

from __future__ import annotations

import os
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import msgspec

DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - the known default production refuses
DEV_AUDIT_KEY = "dev-insecure-audit-key-change-me"
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """Settings are unreadable or unsafe. The message names every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True):
    url: str = "sqlite+aiosqlite:///var/emon.db"
    pool_size: int = 10
    echo: bool = False
    sqlite_busy_timeout_ms: int = 5000


class RedisSettings(msgspec.Struct, frozen=True, kw_only=True):
    url: str = ""
    prefix: str = "emon"  # every key this app writes starts with "<prefix>:", so instances of one deployment share


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cors_origins: list[str] = msgspec.field(default_factory=list)
    allowed_hosts: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "localhost", "::1", "testserver"])
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    max_json_bytes: int = 64 * 1024
    max_image_bytes: int = 5 * 1024 * 1024
    max_page_size: int = 100
    openapi_in_production: bool = False
    metrics_token: str = ""


class SecuritySettings(msgspec.Struct, frozen=True, kw_only=True):
    secret_key: str = DEV_SECRET
    audit_hmac_key: str = DEV_AUDIT_KEY
    # Audit entries are chained by a background sealer in every instance (see security/audit.py): how often it runs
    # (0 turns it off in this instance), and how long it waits at a gap in insertion ids for a slower transaction.
    audit_seal_interval_seconds: float = 1.0
    audit_seal_delay_seconds: float = 2.0
    jwt_algorithm: Literal["EdDSA", "ES256"] = "EdDSA"
    jwt_issuer: str = "emon"
    jwt_audience: str = "emon-api"
    jwt_keys_dir: str = "var/keys"
    access_token_ttl_seconds: int = 600
    refresh_token_ttl_seconds: int = 12 * 3600
    argon2_memory_cost_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    password_min_length: int = 12
    password_max_length: int = 128
    mfa_required: bool = True
    login_max_failures: int = 10
    login_window_seconds: int = 300
    checkin_rate_per_minute: int = 30
    device_clock_skew_seconds: int = 120
    session_idle_seconds: int = 15 * 60
    session_absolute_seconds: int = 8 * 3600
    dormant_account_days: int = 90
    headers_hsts_seconds: int = 31_536_000
    # TOTP secrets are sealed with AES-GCM under a key derived (HKDF) from this one or, when empty, from secret_key;
    # changing it makes existing enrolments unreadable.
    totp_encryption_key: str = ""
    totp_issuer: str = "emon"
    totp_valid_window: int = 1
    recovery_code_count: int = 10
    mfa_challenge_ttl_seconds: int = 300
    login_lockout_max_seconds: int = 3600
    device_token_ttl_seconds: int = 300
    api_rate_per_minute: int = 600
    # Without Redis: how long one process trusts that a token was not revoked (see security/revocation.py);
    # revocations made in the same process apply at once. 0 asks the database on every request.
    revocation_cache_seconds: float = 2.0


class BiometricsSettings(msgspec.Struct, frozen=True, kw_only=True):
    accept_threshold: float = 0.50
    refer_threshold: float = 0.60
    replay_threshold: float = 0.10
    max_image_side: int = 640
    max_pixels: int = 40_000_000
    workers: int = 1
    template_keys: str = ""  # "kid:base64key,kid2:base64key"; the first is current
    use_68_point_landmarks: bool = False


class CheckinSettings(msgspec.Struct, frozen=True, kw_only=True):
    response_window_seconds: int = 600
    sweep_interval_seconds: int = 15
    max_frames: int = 5
    require_liveness: bool = True  # a single-photo check-in (no challenge answered) is referred, not verified
    queue_per_worker: int = 4  # verifications admitted per worker before 503; beyond the workers' count, 202
    poll_max_wait_seconds: int = 25  # the longest a watch may long-poll for its prompt
    timezone: str = "Europe/London"  # check-in windows are local times


class FieldworkSettings(msgspec.Struct, frozen=True, kw_only=True):
    photo_dir: str = "var/photos"  # the encrypted, content-addressed evidence photo store
    max_sync_operations: int = 500
    max_sync_body_bytes: int = 2 * 1024 * 1024
    sync_ops_per_commit: int = 50  # a long batch commits as it goes, so it never holds locks for long
    appointment_hours: int = 4  # the default appointment window when intake gives none


class RetentionSettings(msgspec.Struct, frozen=True, kw_only=True):
    checkin_image_days: int = 90
    template_grace_days: int = 30
    record_days: int = 6 * 365


class LoggingSettings(msgspec.Struct, frozen=True, kw_only=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json: bool = True


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: Literal["development", "production"] = "development"
    debug: bool = False
    allow_sqlite_in_production: bool = False
    emergency_override: str = ""
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    biometrics: BiometricsSettings = msgspec.field(default_factory=BiometricsSettings)
    checkin: CheckinSettings = msgspec.field(default_factory=CheckinSettings)
    fieldwork: FieldworkSettings = msgspec.field(default_factory=FieldworkSettings)
    retention: RetentionSettings = msgspec.field(default_factory=RetentionSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")


PREFIX = "EMON_"


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list


def env_names() -> dict[str, str]:
    """Every setting's environment variable mapped to its dotted path (for docs and the reference test)."""
    names: dict[str, str] = {}
    hints = typing.get_type_hints(Settings)
    for field in msgspec.structs.fields(Settings):
        tp = hints[field.name]
        if _is_struct(tp):
            for sub in msgspec.structs.fields(tp):
                names[f"{PREFIX}{field.name.upper()}_{sub.name.upper()}"] = f"{field.name}.{sub.name}"
        else:
            names[f"{PREFIX}{field.name.upper()}"] = field.name
    return names


def read_dotenv(path: Path) -> dict[str, str]:
    """A small ``.env`` reader: ``KEY=value`` lines, ``#`` comments, optional matching quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep:
            raise SettingsError([f"{path.name} line {number}: expected KEY=value"])
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Build settings from the environment (which wins over ``.env``); raise :class:`SettingsError`."""
    source: dict[str, str] = {}
    if dotenv is not None:
        source.update(read_dotenv(dotenv))
    source.update(os.environ if environ is None else environ)
    known = env_names()
    unknown = sorted(k for k in source if k.startswith(PREFIX) and k not in known and not k.startswith("EMON_TEST_"))
    problems = [f"unknown setting {k}" for k in unknown if k != "EMON_REQUIRE_SERVICES"]
    raw: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for env_name, dotted in known.items():
        if env_name not in source:
            continue
        value: Any = source[env_name]
        parts = dotted.split(".")
        field_type = typing.get_type_hints(hints[parts[0]])[parts[1]] if len(parts) == 2 else hints[parts[0]]
        if _is_list(field_type):
            value = [item.strip() for item in value.split(",") if item.strip()]
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        problems.append(_explain(str(exc)))
        raise SettingsError(problems) from None
    problems.extend(consistency_problems(settings))
    if settings.is_production:
        problems.extend(insecure_values(settings))
    if problems:
        raise SettingsError(problems)
    return settings


def _explain(message: str) -> str:
    # msgspec says e.g. "Expected `int`, got `str` - at `$.http.port`"; name the variable instead of the path.
    if "- at `$." in message:
        text, _, path = message.partition(" - at `$.")
        env = PREFIX + path.rstrip("`").replace(".", "_").upper()
        return f"{env}: {text}"
    return message


def consistency_problems(s: Settings) -> list[str]:
    problems: list[str] = []
    if not 0 < s.biometrics.accept_threshold <= s.biometrics.refer_threshold < 2:
        problems.append("EMON_BIOMETRICS_ACCEPT_THRESHOLD must be > 0 and <= EMON_BIOMETRICS_REFER_THRESHOLD")
    if s.http.workers < 1:
        problems.append("EMON_HTTP_WORKERS must be at least 1")
    if s.http.workers > 1 and not s.redis.url:
        problems.append(
            "EMON_HTTP_WORKERS > 1 needs EMON_REDIS_URL: rate limits, nonces and revocations are per process without it"
        )
    if s.retention.checkin_image_days > s.retention.record_days:
        problems.append("EMON_RETENTION_CHECKIN_IMAGE_DAYS must not exceed EMON_RETENTION_RECORD_DAYS")
    if s.security.recovery_code_count < 1 or s.security.totp_valid_window not in (0, 1):
        problems.append("EMON_SECURITY_RECOVERY_CODE_COUNT must be >= 1 and EMON_SECURITY_TOTP_VALID_WINDOW 0 or 1")
    if s.security.audit_seal_interval_seconds < 0 or s.security.audit_seal_delay_seconds < 0:
        problems.append(
            "EMON_SECURITY_AUDIT_SEAL_INTERVAL_SECONDS and EMON_SECURITY_AUDIT_SEAL_DELAY_SECONDS must be >= 0"
        )
    if not 0 <= s.security.revocation_cache_seconds <= 60:
        problems.append("EMON_SECURITY_REVOCATION_CACHE_SECONDS must be between 0 and 60")
    if s.security.password_min_length < 8 or s.security.password_max_length < 64:
        problems.append("passwords must allow at least 8..64 characters (EMON_SECURITY_PASSWORD_MIN/MAX_LENGTH)")
    return problems


def insecure_values(s: Settings) -> list[str]:
    """What production refuses, each named so an operator can fix it in one go."""
    problems: list[str] = []
    for env_name, value, default in (
        ("EMON_SECURITY_SECRET_KEY", s.security.secret_key, DEV_SECRET),
        ("EMON_SECURITY_AUDIT_HMAC_KEY", s.security.audit_hmac_key, DEV_AUDIT_KEY),
    ):
        if value == default:
            problems.append(f"{env_name} is the development default")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{env_name} is shorter than {MIN_SECRET_LENGTH} characters")
    if s.security.secret_key == s.security.audit_hmac_key:
        problems.append("EMON_SECURITY_SECRET_KEY and EMON_SECURITY_AUDIT_HMAC_KEY must differ")
    if s.security.totp_encryption_key and len(s.security.totp_encryption_key) < MIN_SECRET_LENGTH:
        problems.append(f"EMON_SECURITY_TOTP_ENCRYPTION_KEY is shorter than {MIN_SECRET_LENGTH} characters")
    if s.debug:
        problems.append("EMON_DEBUG is on")
    if any(origin.strip() == "*" for origin in s.http.cors_origins):
        problems.append("EMON_HTTP_CORS_ORIGINS contains the wildcard '*'")
    if any(h.strip() in {"*", ""} for h in s.http.allowed_hosts):
        problems.append("EMON_HTTP_ALLOWED_HOSTS contains a wildcard")
    if s.uses_sqlite and not s.allow_sqlite_in_production:
        problems.append("EMON_DATABASE_URL is SQLite; set EMON_ALLOW_SQLITE_IN_PRODUCTION=true to accept that")
    if not s.biometrics.template_keys:
        problems.append("EMON_BIOMETRICS_TEMPLATE_KEYS is empty: templates cannot be encrypted")
    if (
        s.security.argon2_memory_cost_kib < 19 * 1024
        or s.security.argon2_time_cost < 2
        or s.security.argon2_parallelism < 1
    ):
        problems.append("argon2 parameters are below the OWASP floor (m=19456 KiB, t=2, p=1)")
    if not s.security.mfa_required:
        problems.append("EMON_SECURITY_MFA_REQUIRED is off")
    if s.security.access_token_ttl_seconds > 900:
        problems.append("EMON_SECURITY_ACCESS_TOKEN_TTL_SECONDS is longer than 15 minutes")
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
