"""Configuration and code surface: the settings object and the application's route table.

Everything the checks read goes through :class:`ConfigView`, a small adapter over whatever settings object and
Litestar app it is given. ``FIELDS`` maps a logical name to the attribute paths tried in order, so a
renamed setting is a one-line change here, and a setting that does not exist makes the check report ERROR,
never PASS.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from compliance.errors import InputMissingError, SettingMissingError
from compliance.model import Finding, Status
from compliance.registry import check

FIELDS: dict[str, tuple[str, ...]] = {
    "env": ("env", "environment"),
    "debug": ("debug",),
    "secret_key": ("secret_key", "security.secret_key", "secrets.secret_key"),
    "hmac_keys": ("hmac_keys", "security.hmac_keys", "secrets.hmac_keys"),
    "jwt.algorithm": ("jwt.algorithm",),
    "jwt.access_ttl_seconds": ("jwt.access_ttl_seconds", "jwt.access_ttl", "jwt.access_token_ttl_seconds"),
    "jwt.issuer": ("jwt.issuer",),
    "jwt.audience": ("jwt.audience",),
    "jwt.private_key_file": ("jwt.private_key_file", "jwt.private_key_path"),
    "jwt.public_key_file": ("jwt.public_key_file", "jwt.public_key_path"),
    "jwt.key_id": ("jwt.key_id", "jwt.kid"),
    "jwt.required_claims": ("jwt.required_claims",),
    "argon2.memory_cost": ("argon2.memory_cost", "password.argon2_memory_cost"),
    "argon2.time_cost": ("argon2.time_cost", "password.argon2_time_cost"),
    "argon2.parallelism": ("argon2.parallelism", "password.argon2_parallelism"),
    "password.min_length": ("password.min_length", "password_min_length"),
    "password.max_length": ("password.max_length", "password_max_length"),
    "password.deny_list": ("password.deny_list", "password.deny_list_enabled", "password.check_deny_list"),
    "mfa.required": ("mfa.required", "mfa_required", "auth.mfa_required"),
    "rate_limit.login_attempts": ("rate_limit.login_attempts", "rate_limits.login_attempts"),
    "rate_limit.login_window_seconds": (
        "rate_limit.login_window_seconds",
        "rate_limits.login_window_seconds",
    ),
    "rate_limit.checkin_attempts": ("rate_limit.checkin_attempts", "rate_limits.checkin_attempts"),
    "rate_limit.checkin_window_seconds": (
        "rate_limit.checkin_window_seconds",
        "rate_limits.checkin_window_seconds",
    ),
    "cors.allowed_origins": ("cors.allowed_origins", "cors_allowed_origins"),
    "allowed_hosts": ("allowed_hosts", "http.allowed_hosts"),
    "limits.max_body_bytes": ("limits.max_body_bytes", "http.max_body_bytes", "max_body_bytes"),
    "limits.max_upload_bytes": ("limits.max_upload_bytes", "http.max_upload_bytes", "max_upload_bytes"),
    "database.url": ("database.url", "database_url"),
    "redis.url": ("redis.url", "redis_url"),
    "retention.record_days": ("retention.record_days", "retention.records_days"),
    "retention.checkin_image_days": ("retention.checkin_image_days", "retention.image_days"),
    "retention.template_grace_days": ("retention.template_grace_days",),
    "crypto.template_keys": ("crypto.template_keys", "biometrics.template_keys", "template_keys"),
    "logging.redact": ("logging.redact", "log_redaction", "logging.redaction"),
    "headers.hsts_max_age": ("headers.hsts_max_age", "security_headers.hsts_max_age"),
    "headers.csp": ("headers.csp", "headers.content_security_policy", "security_headers.csp"),
    "headers.frame_options": ("headers.frame_options", "security_headers.frame_options"),
    "headers.referrer_policy": ("headers.referrer_policy", "security_headers.referrer_policy"),
}

# Thresholds from the standards guide; each cites where it comes from.
ARGON2_FLOOR = {"memory_cost": 19_456, "time_cost": 2, "parallelism": 1}  # OWASP password storage cheat sheet
MAX_ACCESS_TTL_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 12  # Cyber Essentials: 12 without a deny-list alternative
MIN_PASSWORD_MAX_LENGTH = 64  # Cyber Essentials / ASVS 6.2.9
LOGIN_MAX_ATTEMPTS, LOGIN_WINDOW_SECONDS = 10, 300  # Cyber Essentials: at most 10 guesses in 5 minutes
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
RECORD_RETENTION_MAX_DAYS = 2190  # Home Office: records up to 6 years
TEMPLATE_GRACE_MAX_DAYS = 90
HSTS_MIN_SECONDS = 31_536_000
MIN_KEY_BYTES = 32
ASYMMETRIC_JWT_ALGORITHMS = {"EdDSA", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
REQUIRED_JWT_CLAIMS = {"exp", "iat", "nbf", "iss", "aud", "jti"}
WEAK_SECRETS = {
    "",
    "secret",
    "changeme",
    "change-me",
    "change_me",
    "password",
    "dev",
    "development",
    "test",
    "insecure",
}
WEAK_SECRET_MARKERS = ("change-me", "changeme", "insecure", "not-secret", "example", "default")


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: tuple[str, ...]
    handler: str
    guards: tuple[str, ...]
    public: bool
    documentation: bool


class ConfigView:
    """Read-only adapter over a settings object and (optionally) the Litestar application."""

    def __init__(
        self, settings: Any, app: Any = None, fields: Mapping[str, tuple[str, ...]] = FIELDS
    ) -> None:
        self.settings = settings
        self.app = app
        self.fields = fields

    def value(self, name: str) -> Any:
        for path in self.fields.get(name, (name,)):
            found, value = _lookup(self.settings, path)
            if found:
                return _reveal(value)
        raise SettingMissingError(name)

    def optional(self, name: str, default: Any = None) -> Any:
        try:
            return self.value(name)
        except SettingMissingError:
            return default

    def default_of(self, name: str) -> tuple[bool, Any]:
        """The declared default of a setting (msgspec Struct or dataclass field), if one is declared."""
        for path in self.fields.get(name, (name,)):
            *parents, leaf = path.split(".")
            found, owner = _lookup(self.settings, ".".join(parents)) if parents else (True, self.settings)
            if not found or owner is None:
                continue
            default = _declared_default(type(owner), leaf)
            if default is not _NO_DEFAULT:
                return True, _reveal(default)
        return False, None

    @property
    def production(self) -> bool:
        return str(self.optional("env", "production")).lower() in {"production", "prod"}

    def routes(self) -> list[RouteInfo]:
        if self.app is None:
            raise InputMissingError("no application given: the route table cannot be inspected")
        return route_table(self.app)


_NO_DEFAULT = object()


def _lookup(obj: Any, path: str) -> tuple[bool, Any]:
    current = obj
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return False, None
            current = current[part]
        elif hasattr(current, part):
            current = getattr(current, part)
        else:
            return False, None
    return True, current


def _reveal(value: Any) -> Any:
    getter = getattr(value, "get_secret_value", None)
    return getter() if callable(getter) else value


def _declared_default(cls: type, name: str) -> Any:
    import dataclasses

    import msgspec

    try:
        for f in msgspec.structs.fields(cls):
            if f.name == name:
                if f.default is not msgspec.NODEFAULT:
                    return f.default
                if f.default_factory is not msgspec.NODEFAULT:
                    return f.default_factory()
                return _NO_DEFAULT
    except TypeError:
        pass
    if dataclasses.is_dataclass(cls):
        for df in dataclasses.fields(cls):
            if df.name == name:
                if df.default is not dataclasses.MISSING:
                    return df.default
                if df.default_factory is not dataclasses.MISSING:
                    return df.default_factory()
    return _NO_DEFAULT


def route_table(app: Any) -> list[RouteInfo]:
    """Every HTTP handler of a Litestar app, with the guards resolved through all layers."""
    openapi_config = getattr(app, "openapi_config", None)
    docs_prefix = getattr(openapi_config, "path", None) or "/schema"
    out: list[RouteInfo] = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            methods = tuple(sorted(getattr(handler, "http_methods", None) or ("WEBSOCKET",)))
            guards = tuple(getattr(g, "__name__", type(g).__name__) for g in handler.resolve_guards())
            opt = handler.resolve_opts() if hasattr(handler, "resolve_opts") else None
            opt = opt if opt is not None else getattr(handler, "opt", {}) or {}
            public = bool(opt.get("public") or opt.get("exclude_from_auth"))
            documentation = route.path == docs_prefix or route.path.startswith(docs_prefix.rstrip("/") + "/")
            name = getattr(handler, "handler_name", None) or str(getattr(handler, "name", "")) or route.path
            for path in getattr(route, "paths", None) or {route.path}:
                out.append(RouteInfo(path, methods, name, guards, public, documentation))
    return sorted(out, key=lambda r: (r.path, r.methods))


def key_bytes(value: Any) -> bytes:
    """The raw bytes of a key given as bytes, hex, base64 or plain text (the weakest reading wins)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value).strip()
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        return binascii.unhexlify(text)
    if re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text) and len(text) % 4 == 0:
        try:
            return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            pass
    return text.encode()


def _keys(value: Any) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), _reveal(v)) for k, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        return [(str(i), _reveal(v)) for i, v in enumerate(value)]
    if isinstance(value, str) and "," in value:
        return [(str(i), v) for i, v in enumerate(value.split(","))]
    return [("0", value)]


def _finding(
    ok: bool, good: str, bad: str, looked_at: str, resource: str = "settings", **values: Any
) -> Finding:
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=good if ok else bad,
        resource=resource,
        looked_at=looked_at,
        values=values,
    )


def _na(message: str, looked_at: str) -> Finding:
    return Finding(status=Status.NOT_APPLICABLE, message=message, resource="settings", looked_at=looked_at)


# --- the checks ---


@check("CFG-001")
def debug_off(cfg: ConfigView) -> Finding:
    debug = bool(cfg.value("debug"))
    app_debug = bool(getattr(cfg.app, "debug", False)) if cfg.app is not None else False
    if not cfg.production:
        return _na("debug is only judged in production", "settings.debug")
    return _finding(
        not debug and not app_debug,
        "debug is off in production",
        "debug is on in production",
        "settings.debug, app.debug",
        debug=debug,
        app_debug=app_debug,
    )


@check("CFG-002")
def docs_not_exposed(cfg: ConfigView) -> Finding:
    if not cfg.production:
        return _na("API documentation may be served outside production", "app.openapi_config")
    if cfg.app is None:
        raise InputMissingError("no application given")
    docs = sorted({r.path for r in cfg.routes() if r.documentation and not r.guards})
    return _finding(
        not docs,
        "no unguarded API documentation routes in production",
        f"API documentation served without a guard in production: {', '.join(docs[:5])}",
        "app route table (openapi routes)",
        routes=docs,
    )


@check("CFG-003")
def jwt_algorithm(cfg: ConfigView) -> Finding:
    alg = str(cfg.value("jwt.algorithm"))
    return _finding(
        alg in ASYMMETRIC_JWT_ALGORITHMS,
        f"JWT algorithm {alg} is asymmetric",
        f"JWT algorithm {alg!r} is not in the asymmetric allow-list",
        "settings.jwt.algorithm",
        algorithm=alg,
        allowed=sorted(ASYMMETRIC_JWT_ALGORITHMS),
    )


@check("CFG-004")
def jwt_keys_present(cfg: ConfigView) -> Finding:
    private = cfg.value("jwt.private_key_file")
    public = cfg.optional("jwt.public_key_file")
    problems: list[str] = []
    for label, ref in (("private", private), ("public", public)):
        if label == "public" and ref is None:
            continue  # a public key may be derived from the private one
        if not ref:
            problems.append(f"{label} key not configured")
        elif not str(ref).lstrip().startswith("-----BEGIN") and not Path(str(ref)).is_file():
            problems.append(f"{label} key file missing: {Path(str(ref)).name}")
    if not problems and not str(private).lstrip().startswith("-----BEGIN"):
        text = Path(str(private)).read_bytes()
        if b"PRIVATE KEY" not in text:
            problems.append("private key file holds no PEM private key")
    return _finding(
        not problems,
        "JWT signing keys are present",
        "; ".join(problems),
        "settings.jwt key files",
        problems=problems,
    )


@check("CFG-005")
def jwt_lifetime(cfg: ConfigView) -> Finding:
    ttl = int(cfg.value("jwt.access_ttl_seconds"))
    return _finding(
        0 < ttl <= MAX_ACCESS_TTL_SECONDS,
        f"access tokens live {ttl} s",
        f"access tokens live {ttl} s (limit {MAX_ACCESS_TTL_SECONDS} s)",
        "settings.jwt.access_ttl_seconds",
        ttl_seconds=ttl,
        limit=MAX_ACCESS_TTL_SECONDS,
    )


@check("CFG-006")
def jwt_claims(cfg: ConfigView) -> Finding:
    issuer = cfg.value("jwt.issuer")
    audience = cfg.value("jwt.audience")
    required = cfg.optional("jwt.required_claims")
    missing = sorted(REQUIRED_JWT_CLAIMS - set(required)) if required is not None else []
    problems = [f"{n} not set" for n, v in (("issuer", issuer), ("audience", audience)) if not v]
    if missing:
        problems.append(f"claims not required: {', '.join(missing)}")
    return _finding(
        not problems,
        "issuer, audience and required claims configured",
        "; ".join(problems),
        "settings.jwt.issuer/audience/required_claims",
        issuer=issuer,
        audience=audience,
        required_claims=sorted(required) if required is not None else None,
    )


@check("CFG-007")
def argon2_parameters(cfg: ConfigView) -> Finding:
    values = {k: int(cfg.value(f"argon2.{k}")) for k in ARGON2_FLOOR}
    weak = [f"{k}={v} < {ARGON2_FLOOR[k]}" for k, v in values.items() if v < ARGON2_FLOOR[k]]
    return _finding(
        not weak,
        "argon2id parameters meet the OWASP floor",
        "argon2id below the OWASP floor: " + ", ".join(weak),
        "settings.argon2",
        floor=ARGON2_FLOOR,
        **values,
    )


@check("CFG-008")
def password_min_length(cfg: ConfigView) -> Finding:
    n = int(cfg.value("password.min_length"))
    return _finding(
        n >= MIN_PASSWORD_LENGTH,
        f"minimum password length {n}",
        f"minimum password length {n} < {MIN_PASSWORD_LENGTH}",
        "settings.password.min_length",
        min_length=n,
    )


@check("CFG-009")
def password_max_length(cfg: ConfigView) -> Finding:
    n = cfg.value("password.max_length")
    ok = n is None or int(n) >= MIN_PASSWORD_MAX_LENGTH
    return _finding(
        ok,
        f"maximum password length {n}",
        f"maximum password length {n} < {MIN_PASSWORD_MAX_LENGTH}",
        "settings.password.max_length",
        max_length=n,
    )


@check("CFG-010")
def password_deny_list(cfg: ConfigView) -> Finding:
    on = bool(cfg.value("password.deny_list"))
    return _finding(
        on, "common-password deny-list on", "common-password deny-list off", "settings.password.deny_list"
    )


@check("CFG-011")
def mfa_required(cfg: ConfigView) -> Finding:
    on = bool(cfg.value("mfa.required"))
    return _finding(on, "MFA is required", "MFA is not required", "settings.mfa.required", required=on)


@check("CFG-012")
def login_rate_limit(cfg: ConfigView) -> Finding:
    attempts = int(cfg.value("rate_limit.login_attempts"))
    window = int(cfg.value("rate_limit.login_window_seconds"))
    # scale to the 5-minute window of Cyber Essentials
    per_window = attempts * LOGIN_WINDOW_SECONDS / window if window > 0 else float("inf")
    return _finding(
        attempts > 0 and per_window <= LOGIN_MAX_ATTEMPTS,
        f"login limited to {attempts} per {window} s",
        f"login allows {attempts} per {window} s "
        f"(more than {LOGIN_MAX_ATTEMPTS} per {LOGIN_WINDOW_SECONDS} s)",
        "settings.rate_limit.login_*",
        attempts=attempts,
        window_seconds=window,
    )


@check("CFG-013")
def checkin_rate_limit(cfg: ConfigView) -> Finding:
    attempts = int(cfg.value("rate_limit.checkin_attempts"))
    window = int(cfg.value("rate_limit.checkin_window_seconds"))
    return _finding(
        attempts > 0 and window > 0,
        f"check-in limited to {attempts} per {window} s",
        "check-in submissions are not rate limited",
        "settings.rate_limit.checkin_*",
        attempts=attempts,
        window_seconds=window,
    )


@check("CFG-014")
def cors_allow_list(cfg: ConfigView) -> Finding:
    origins = list(cfg.value("cors.allowed_origins") or [])
    bad = [o for o in origins if "*" in o or o == "null" or (cfg.production and o.startswith("http://"))]
    return _finding(
        not bad,
        "CORS origins are an explicit allow-list",
        f"CORS allows wildcard, null or plain-http origins: {bad}",
        "settings.cors.allowed_origins",
        origins=origins,
    )


@check("CFG-015")
def allowed_hosts(cfg: ConfigView) -> Finding:
    hosts = list(cfg.value("allowed_hosts") or [])
    if not cfg.production:
        return _na("host allow-list is only required in production", "settings.allowed_hosts")
    bad = not hosts or any(h.strip() in {"*", "*.*"} for h in hosts)
    return _finding(
        not bad,
        "allowed hosts restricted",
        "allowed hosts empty or wildcard",
        "settings.allowed_hosts",
        hosts=hosts,
    )


@check("CFG-016")
def body_cap(cfg: ConfigView) -> Finding:
    n = cfg.value("limits.max_body_bytes")
    ok = n is not None and 0 < int(n) <= MAX_BODY_BYTES
    return _finding(
        ok,
        f"request bodies capped at {n} bytes",
        f"request body cap {n} missing or above {MAX_BODY_BYTES}",
        "settings.limits.max_body_bytes",
        max_body_bytes=n,
    )


@check("CFG-017")
def upload_cap(cfg: ConfigView) -> Finding:
    n = cfg.value("limits.max_upload_bytes")
    ok = n is not None and 0 < int(n) <= MAX_UPLOAD_BYTES
    return _finding(
        ok,
        f"uploads capped at {n} bytes",
        f"upload cap {n} missing or above {MAX_UPLOAD_BYTES}",
        "settings.limits.max_upload_bytes",
        max_upload_bytes=n,
    )


@check("CFG-018")
def routes_guarded(cfg: ConfigView) -> list[Finding]:
    findings = []
    for r in cfg.routes():
        if r.documentation:
            continue  # judged by CFG-002
        resource = f"{','.join(r.methods)} {r.path}"
        ok = bool(r.guards) or r.public
        findings.append(
            _finding(
                ok,
                "public by declaration" if r.public and not r.guards else f"guarded by {', '.join(r.guards)}",
                "handler has no guard and is not declared public",
                "app route table",
                resource=resource,
                handler=r.handler,
                guards=list(r.guards),
                public=r.public,
            )
        )
    if not findings:
        findings.append(
            Finding(status=Status.NOT_APPLICABLE, message="no routes", looked_at="app route table")
        )
    return findings


@check("CFG-019")
def secrets_not_default(cfg: ConfigView) -> list[Finding]:
    out = []
    for name in ("secret_key", "hmac_keys"):
        value = cfg.value(name) if name == "secret_key" else cfg.optional(name)
        if value is None and name != "secret_key":
            continue
        has_default, default = cfg.default_of(name)
        for label, v in _keys(value):
            text = v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            weak = text.strip().lower() in WEAK_SECRETS or any(m in text.lower() for m in WEAK_SECRET_MARKERS)
            is_default = has_default and bool(default) and (v == default or (label, v) in _keys(default))
            out.append(
                _finding(
                    not weak and not is_default,
                    "not a default or placeholder value",
                    "secret is at its default or a placeholder value",
                    f"settings.{name}",
                    resource=f"settings.{name}[{label}]",
                    default=is_default,
                    placeholder=weak,
                )
            )
    return out


@check("CFG-020")
def database_tls(cfg: ConfigView) -> Finding:
    url = str(cfg.value("database.url"))
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        if cfg.production:
            return _finding(
                False,
                "",
                "production uses SQLite, not PostgreSQL over verified TLS",
                "settings.database.url",
                scheme=scheme,
            )
        return _na("SQLite file database outside production", "settings.database.url")
    if scheme not in {"postgresql", "postgres"}:
        return _na(f"database scheme {scheme} not judged", "settings.database.url")
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    mode = query.get("sslmode") or query.get("ssl")
    return _finding(
        mode == "verify-full",
        "PostgreSQL connections verify the server certificate and name",
        f"PostgreSQL sslmode is {mode!r}, not 'verify-full'",
        "settings.database.url (query only; credentials not recorded)",
        sslmode=mode,
    )


@check("CFG-021")
def record_retention(cfg: ConfigView) -> Finding:
    days = int(cfg.value("retention.record_days"))
    return _finding(
        0 < days <= RECORD_RETENTION_MAX_DAYS,
        f"records kept {days} days",
        f"records kept {days} days (policy at most {RECORD_RETENTION_MAX_DAYS})",
        "settings.retention.record_days",
        days=days,
        limit=RECORD_RETENTION_MAX_DAYS,
    )


@check("CFG-022")
def image_retention(cfg: ConfigView) -> Finding:
    images = int(cfg.value("retention.checkin_image_days"))
    records = int(cfg.value("retention.record_days"))
    return _finding(
        0 < images < records,
        f"check-in images kept {images} days, records {records}",
        f"check-in images kept {images} days, not shorter than records ({records})",
        "settings.retention",
        image_days=images,
        record_days=records,
    )


@check("CFG-023")
def template_grace(cfg: ConfigView) -> Finding:
    days = int(cfg.value("retention.template_grace_days"))
    return _finding(
        0 <= days <= TEMPLATE_GRACE_MAX_DAYS,
        f"templates deleted {days} days after order end",
        f"templates kept {days} days after order end (limit {TEMPLATE_GRACE_MAX_DAYS})",
        "settings.retention.template_grace_days",
        days=days,
    )


@check("CFG-024")
def security_headers(cfg: ConfigView) -> Finding:
    hsts = int(cfg.value("headers.hsts_max_age") or 0)
    csp = str(cfg.value("headers.csp") or "")
    frame = cfg.optional("headers.frame_options")
    referrer = cfg.optional("headers.referrer_policy")
    problems = []
    if hsts < HSTS_MIN_SECONDS:
        problems.append(f"HSTS max-age {hsts} < {HSTS_MIN_SECONDS}")
    if not csp:
        problems.append("no Content-Security-Policy")
    if "frame-ancestors" not in csp and not frame:
        problems.append("no frame-ancestors or X-Frame-Options")
    if referrer is not None and not referrer:
        problems.append("Referrer-Policy empty")
    return _finding(
        not problems,
        "security headers configured",
        "; ".join(problems),
        "settings.headers",
        hsts_max_age=hsts,
        csp=csp,
        frame_options=frame,
        referrer_policy=referrer,
    )


@check("CFG-025")
def log_redaction(cfg: ConfigView) -> Finding:
    on = bool(cfg.value("logging.redact"))
    return _finding(on, "log redaction on", "log redaction off", "settings.logging.redact")


@check("CFG-026")
def template_keys_strong(cfg: ConfigView) -> list[Finding]:
    keys = _keys(cfg.value("crypto.template_keys"))
    if not keys:
        return [_finding(False, "", "no template encryption key configured", "settings.crypto.template_keys")]
    out = []
    for label, v in keys:
        n = len(key_bytes(v)) if v else 0
        out.append(
            _finding(
                n >= MIN_KEY_BYTES,
                f"key {label}: {n} bytes",
                f"key {label}: {n} bytes < {MIN_KEY_BYTES}",
                "settings.crypto.template_keys",
                resource=f"settings.crypto.template_keys[{label}]",
                key_bytes=n,
            )
        )
    return out


@check("CFG-027")
def secret_key_strong(cfg: ConfigView) -> list[Finding]:
    out = []
    for name in ("secret_key", "hmac_keys"):
        value = cfg.value(name) if name == "secret_key" else cfg.optional(name)
        for label, v in _keys(value):
            n = len(key_bytes(v)) if v else 0
            out.append(
                _finding(
                    n >= MIN_KEY_BYTES,
                    f"{n} bytes",
                    f"{n} bytes < {MIN_KEY_BYTES}",
                    f"settings.{name}",
                    resource=f"settings.{name}[{label}]",
                    key_bytes=n,
                )
            )
    return out


@check("CFG-028")
def shared_store_in_production(cfg: ConfigView) -> Finding:
    if not cfg.production:
        return _na("a per-process store is fine for one process", "settings.redis.url")
    url = cfg.value("redis.url")
    scheme = urlsplit(str(url or "")).scheme
    return _finding(
        scheme == "rediss",
        "rate limits and revocation use Redis over TLS",
        f"production has no shared Redis store over TLS (scheme {scheme or 'none'!r})",
        "settings.redis.url (scheme only)",
        scheme=scheme,
    )


@check("CFG-029")
def auth_excludes_anchored(cfg: ConfigView) -> Finding:
    if cfg.app is None:
        raise InputMissingError("no application given")
    patterns = list(_auth_exclude_patterns(cfg.app))
    loose = [p for p in patterns if not p.startswith("^")]
    return _finding(
        not loose,
        f"{len(patterns)} auth exclude pattern(s), all anchored",
        f"unanchored auth exclude patterns: {loose}",
        "app middleware (auth exclude)",
        patterns=patterns,
    )


def _auth_exclude_patterns(app: Any) -> Iterable[str]:
    for mw in getattr(app, "middleware", None) or ():
        kwargs = getattr(mw, "kwargs", None) or {}
        exclude = kwargs.get("exclude")
        if exclude is None:
            continue
        yield from [exclude] if isinstance(exclude, str) else list(exclude)


@check("CFG-030")
def environment_known(cfg: ConfigView) -> Finding:
    env = str(cfg.value("env")).lower()
    return _finding(
        env in {"development", "test", "staging", "production"},
        f"environment {env!r}",
        f"unknown environment {env!r}: production rules may be skipped",
        "settings.env",
        env=env,
    )


def build_context(inputs: Any) -> ConfigView:
    if inputs.settings is None:
        raise InputMissingError("no settings given")
    return ConfigView(inputs.settings, inputs.app)
