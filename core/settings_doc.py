"""What each ``EMON_*`` setting means: the configuration reference the README shows.

``python -m core.settings_doc`` prints the reference as a Markdown table; a test keeps the README's copy complete.
"""

from __future__ import annotations

from typing import Any

from core.settings import Settings, env_names

DESCRIPTIONS: dict[str, str] = {
    "EMON_ENV": "`development` or `production`; production refuses unsafe values and names each one",
    "EMON_DEBUG": "Litestar debug mode (never in production)",
    "EMON_ALLOW_SQLITE_IN_PRODUCTION": "accept SQLite in production (a single-instance deployment)",
    "EMON_EMERGENCY_OVERRIDE": "a reason (e.g. an incident number) to start production despite a critical "
    "compliance failure; the start is audited",
    "EMON_DATABASE_URL": "SQLAlchemy async URL: `sqlite+aiosqlite:///…` or `postgresql+asyncpg://…?ssl=verify-full`",
    "EMON_DATABASE_POOL_SIZE": "PostgreSQL connections per process (and as many again on overflow)",
    "EMON_DATABASE_ECHO": "log every SQL statement (development only)",
    "EMON_DATABASE_SQLITE_BUSY_TIMEOUT_MS": "how long SQLite waits for the writer lock",
    "EMON_REDIS_URL": "Redis for rate limits, nonces, revocations and page sessions shared by all instances; "
    "required for more than one worker",
    "EMON_REDIS_PREFIX": "prefix of every Redis key (several deployments can share a server)",
    "EMON_HTTP_HOST": "address `emon serve` binds",
    "EMON_HTTP_PORT": "port `emon serve` binds",
    "EMON_HTTP_WORKERS": "server worker processes (more than one needs Redis)",
    "EMON_HTTP_CORS_ORIGINS": "comma-separated origins allowed by CORS; empty means no cross-origin access; "
    "never `*` in production",
    "EMON_HTTP_ALLOWED_HOSTS": "comma-separated Host header values served; others get 400",
    "EMON_HTTP_TRUSTED_PROXIES": "comma-separated proxy addresses/CIDRs whose `X-Forwarded-For` is believed",
    "EMON_HTTP_MAX_JSON_BYTES": "largest JSON request body",
    "EMON_HTTP_MAX_IMAGE_BYTES": "largest single image (photo evidence, check-in frame, enrolment photo)",
    "EMON_HTTP_MAX_PAGE_SIZE": "largest page a list endpoint returns",
    "EMON_HTTP_OPENAPI_IN_PRODUCTION": "serve `/schema` in production, to admins only",
    "EMON_HTTP_METRICS_TOKEN": "bearer token the Prometheus scraper presents in production (no token: no metrics)",
    "EMON_SECURITY_SECRET_KEY": "secret for sessions and derived keys; at least 32 characters in production",
    "EMON_SECURITY_AUDIT_HMAC_KEY": "HMAC key of the audit chain; at least 32 characters, distinct from the secret",
    "EMON_SECURITY_JWT_ALGORITHM": "`EdDSA` (Ed25519) or `ES256` (P-256) for access tokens",
    "EMON_SECURITY_JWT_ISSUER": "`iss` of access tokens",
    "EMON_SECURITY_JWT_AUDIENCE": "`aud` of access tokens",
    "EMON_SECURITY_JWT_KEYS_DIR": "folder of `<kid>.pem` signing keys; `current` names the signing one",
    "EMON_SECURITY_ACCESS_TOKEN_TTL_SECONDS": "access token lifetime (production: at most 15 minutes)",
    "EMON_SECURITY_REFRESH_TOKEN_TTL_SECONDS": "refresh token family lifetime",
    "EMON_SECURITY_ARGON2_MEMORY_COST_KIB": "argon2id memory (OWASP floor 19456 KiB)",
    "EMON_SECURITY_ARGON2_TIME_COST": "argon2id iterations (floor 2)",
    "EMON_SECURITY_ARGON2_PARALLELISM": "argon2id lanes (floor 1)",
    "EMON_SECURITY_PASSWORD_MIN_LENGTH": "shortest password accepted",
    "EMON_SECURITY_PASSWORD_MAX_LENGTH": "longest password accepted (at least 64)",
    "EMON_SECURITY_MFA_REQUIRED": "a TOTP second factor for every staff account (production: on)",
    "EMON_SECURITY_LOGIN_MAX_FAILURES": "failed sign-ins allowed per account name and per address in the window",
    "EMON_SECURITY_LOGIN_WINDOW_SECONDS": "the sign-in throttling window",
    "EMON_SECURITY_CHECKIN_RATE_PER_MINUTE": "check-in submissions per watch per minute",
    "EMON_SECURITY_DEVICE_CLOCK_SKEW_SECONDS": "how far a signed device request's timestamp may differ from ours",
    "EMON_SECURITY_SESSION_IDLE_SECONDS": "web page session idle timeout",
    "EMON_SECURITY_SESSION_ABSOLUTE_SECONDS": "web page session absolute timeout",
    "EMON_SECURITY_DORMANT_ACCOUNT_DAYS": "days without sign-in after which the compliance module flags an account",
    "EMON_SECURITY_HEADERS_HSTS_SECONDS": "`Strict-Transport-Security` max-age in production",
    "EMON_SECURITY_TOTP_ENCRYPTION_KEY": "key that seals TOTP secrets (default: derived from the secret key)",
    "EMON_SECURITY_TOTP_ISSUER": "issuer shown in authenticator apps",
    "EMON_SECURITY_TOTP_VALID_WINDOW": "TOTP steps of clock drift accepted either side",
    "EMON_SECURITY_RECOVERY_CODE_COUNT": "recovery codes issued at MFA enrolment",
    "EMON_SECURITY_MFA_CHALLENGE_TTL_SECONDS": "how long the password step's MFA challenge lasts",
    "EMON_SECURITY_LOGIN_LOCKOUT_MAX_SECONDS": "longest lockout after repeated throttling (lockouts double)",
    "EMON_SECURITY_DEVICE_TOKEN_TTL_SECONDS": "device access token lifetime",
    "EMON_SECURITY_API_RATE_PER_MINUTE": "requests per caller per minute across the API",
    "EMON_SECURITY_AUDIT_SEAL_INTERVAL_SECONDS": "how often each instance seals new audit entries into the chain "
    "(0: never; then run `emon audit seal`)",
    "EMON_SECURITY_AUDIT_SEAL_DELAY_SECONDS": "how long the sealer waits past a gap in entry ids before treating it "
    "as a rolled-back transaction",
    "EMON_SECURITY_REVOCATION_CACHE_SECONDS": "without Redis, how long a 'not revoked' answer is trusted "
    "(revocations by another instance take effect within this)",
    "EMON_BIOMETRICS_ACCEPT_THRESHOLD": "face distance at or below which a check-in verifies",
    "EMON_BIOMETRICS_REFER_THRESHOLD": "face distance up to which a check-in is referred; above it: rejected",
    "EMON_BIOMETRICS_REPLAY_THRESHOLD": "distance to an earlier check-in below which a probe is a suspected replay",
    "EMON_BIOMETRICS_MAX_IMAGE_SIDE": "photos are scaled down to this longest side before detection",
    "EMON_BIOMETRICS_MAX_PIXELS": "images with more pixels are refused before decoding (decompression bombs)",
    "EMON_BIOMETRICS_WORKERS": "verification worker processes per server process",
    "EMON_BIOMETRICS_TEMPLATE_KEYS": "`kid:base64(32 bytes)` AES-256-GCM keys for face templates and images, "
    "comma-separated; the first is current",
    "EMON_BIOMETRICS_USE_68_POINT_LANDMARKS": "use dlib's 68-point model for blink liveness "
    "(its training data forbids commercial use)",
    "EMON_CHECKIN_RESPONSE_WINDOW_SECONDS": "time a wearer has to answer a prompt before it is MISSED",
    "EMON_CHECKIN_SWEEP_INTERVAL_SECONDS": "how often each instance sweeps expired prompts and schedules new ones",
    "EMON_CHECKIN_MAX_FRAMES": "frames accepted in one check-in (liveness burst)",
    "EMON_CHECKIN_REQUIRE_LIVENESS": "a check-in without a liveness burst can at best be referred",
    "EMON_CHECKIN_QUEUE_PER_WORKER": "check-ins waiting per verification worker before new ones get 503",
    "EMON_CHECKIN_POLL_MAX_WAIT_SECONDS": "longest long-poll for a pending prompt",
    "EMON_CHECKIN_TIMEZONE": "time zone of the check-in windows in orders",
    "EMON_FIELDWORK_PHOTO_DIR": "folder of encrypted, content-addressed photo evidence",
    "EMON_FIELDWORK_MAX_SYNC_OPERATIONS": "most operations in one offline sync batch",
    "EMON_FIELDWORK_MAX_SYNC_BODY_BYTES": "largest sync request body",
    "EMON_FIELDWORK_SYNC_OPS_PER_COMMIT": "sync operations committed together",
    "EMON_FIELDWORK_APPOINTMENT_HOURS": "length of the appointment window of an automatically created visit",
    "EMON_RETENTION_CHECKIN_IMAGE_DAYS": "days check-in images are kept (hashes and decisions stay)",
    "EMON_RETENTION_TEMPLATE_GRACE_DAYS": "days face templates are kept after the order ends",
    "EMON_RETENTION_RECORD_DAYS": "days check-in records are kept (Home Office: 6 years)",
    "EMON_LOGGING_LEVEL": "`DEBUG`, `INFO`, `WARNING` or `ERROR`",
    "EMON_LOGGING_JSON": "JSON log lines (else human-readable)",
}


def _default(dotted: str) -> Any:
    value: Any = Settings()
    for part in dotted.split("."):
        value = getattr(value, part)
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, bool):
        return str(value).lower()
    return value


def reference_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for env, dotted in env_names().items():
        default = _default(dotted)
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{env}` | {shown} | {DESCRIPTIONS.get(env, '')} |")
    return "\n".join(rows)


START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def with_reference(readme: str) -> str:
    """The README text with the reference between its markers brought up to date."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{reference_table()}\n{END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] == ["--readme"]:
        path = Path(__file__).resolve().parent.parent / "README.md"
        path.write_text(with_reference(path.read_text()))
    else:
        print(reference_table())
