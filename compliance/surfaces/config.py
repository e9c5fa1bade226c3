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
    "env": ("env",),
    "debug": ("debug",),
    "secret_key": ("security.secret_key",),
    "hmac_keys": ("security.audit_hmac_key", "security.hmac_keys"),
    "jwt.algorithm": ("security.jwt_algorithm",),
    "jwt.access_ttl_seconds": ("security.access_token_ttl_seconds",),
    "jwt.issuer": ("security.jwt_issuer",),
    "jwt.audience": ("security.jwt_audience",),
    "jwt.keys": ("security.jwt_keys_dir",),  # a folder of <kid>.pem private keys, or one PEM file
    "argon2.memory_cost": ("security.argon2_memory_cost_kib",),
    "argon2.time_cost": ("security.argon2_time_cost",),
    "argon2.parallelism": ("security.argon2_parallelism",),
    "password.min_length": ("security.password_min_length",),
    "password.max_length": ("security.password_max_length",),
    "mfa.required": ("security.mfa_required",),
    "rate_limit.login_attempts": ("security.login_max_failures",),
    "rate_limit.login_window_seconds": ("security.login_window_seconds",),
    "rate_limit.checkin_attempts": ("security.checkin_rate_per_minute",),
    "cors.allowed_origins": ("http.cors_origins",),
    "allowed_hosts": ("http.allowed_hosts",),
    "limits.max_body_bytes": ("http.max_json_bytes",),
    "limits.max_upload_bytes": ("http.max_image_bytes",),
    "database.url": ("database.url",),
    "redis.url": ("redis.url",),
    "retention.record_days": ("retention.record_days",),
    "retention.checkin_image_days": ("retention.checkin_image_days",),
    "retention.template_grace_days": ("retention.template_grace_days",),
    "crypto.template_keys": ("biometrics.template_keys",),
    "headers.hsts_max_age": ("security.headers_hsts_seconds",),
}

# Values that are not settings of their own but follow from one (name -> (settings path it needs, derivation)).
DERIVED: dict[str, tuple[str, Any]] = {
    "rate_limit.checkin_window_seconds": ("security.checkin_rate_per_minute", lambda _v: 60),
}

# Thresholds from the standards guide; each cites where it comes from.
ARGON2_FLOOR = {"memory_cost": 19_456, "time_cost": 2, "parallelism": 1}  # OWASP password storage cheat sheet
MAX_ACCESS_TTL_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 12  # Cyber Essentials: 12 without a deny-list alternative
MIN_PASSWORD_MAX_LENGTH = 64  # Cyber Essentials / ASVS 6.2.9
LOGIN_MAX_ATTEMPTS, LOGIN_WINDOW_SECONDS = 10, 300  # Cyber Essentials: at most 10 guesses in 5 minutes
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_APP_BODY_BYTES = 64 * 1024 * 1024
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
WEAK_SECRET_MARKERS = ("change-me", "changeme", "insecure", "not-secret", "example", "default", "replace")


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

    def __init__(self, settings: Any, app: Any = None, fields: Mapping[str, tuple[str, ...]] = FIELDS) -> None:
        self.settings = settings
        self.app = app
        self.fields = fields

    def value(self, name: str) -> Any:
        if name in DERIVED and name not in self.fields:
            source, derive = DERIVED[name]
            found, value = _lookup(self.settings, source)
            if found:
                return derive(value)
            raise SettingMissingError(name)
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
            if methods == ("OPTIONS",) and getattr(handler, "handler_name", "") == "options_handler":
                continue  # Litestar's generated CORS preflight handler: no data, answers 204
            guards = tuple(_callable_name(g) for g in handler.resolve_guards())
            opt = handler.resolve_opts() if hasattr(handler, "resolve_opts") else None
            opt = opt if opt is not None else getattr(handler, "opt", {}) or {}
            public = bool(opt.get("public") or opt.get("exclude_from_auth"))
            documentation = route.path == docs_prefix or route.path.startswith(docs_prefix.rstrip("/") + "/")
            name = getattr(handler, "handler_name", None) or str(getattr(handler, "name", "")) or route.path
            for path in getattr(route, "paths", None) or {route.path}:
                out.append(RouteInfo(path, methods, name, guards, public, documentation))
    return sorted(out, key=lambda r: (r.path, r.methods))


def _callable_name(guard: Any) -> str:
    fn = getattr(guard, "func", guard)  # litestar wraps guards in AsyncCallable
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


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
    """Keys given as a mapping, a list, or text ``kid:key,kid2:key2`` (or a single key)."""
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):
        return [(str(k), _reveal(v)) for k, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        return [(str(i), _reveal(v)) for i, v in enumerate(value)]
    if isinstance(value, str):
        out = []
        for i, item in enumerate(p.strip() for p in value.split(",") if p.strip()):
            kid, sep, key = item.partition(":")
            out.append((kid, key) if sep and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", kid) else (str(i), item))
        return out
    return [("0", value)]


def _secret_values(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, str | bytes):
        return [("0", value)]
    return _keys(value)


def _finding(ok: bool, good: str, bad: str, looked_at: str, resource: str = "settings", **values: Any) -> Finding:
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
    ref = str(cfg.value("jwt.keys") or "")
    algorithm = str(cfg.optional("jwt.algorithm", ""))
    path = Path(ref)
    files = sorted(path.glob("*.pem")) if path.is_dir() else ([path] if ref and path.is_file() else [])
    problems: list[str] = []
    kinds: dict[str, str] = {}
    if not files:
        problems.append(f"no PEM signing key at the configured location ({path.name or 'unset'})")
    for f in files:
        kind = _private_key_kind(f.read_bytes())
        kinds[f.stem] = kind
        if kind == "none":
            problems.append(f"{f.name} holds no private key")
        elif (algorithm == "EdDSA" and kind != "ed25519") or (algorithm == "ES256" and kind != "p256"):
            problems.append(f"{f.name} is a {kind} key, not one for {algorithm}")
    return _finding(
        not problems,
        f"{len(files)} JWT signing key(s) present for {algorithm}",
        "; ".join(problems),
        "JWT key folder (key types only, never key material)",
        keys=kinds,
        algorithm=algorithm,
    )


def _private_key_kind(pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return "none"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "p256" if key.curve.name == "secp256r1" else key.curve.name
    if isinstance(key, rsa.RSAPrivateKey):
        return f"rsa{key.key_size}"
    return type(key).__name__


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
def jwt_issuer_audience(cfg: ConfigView) -> Finding:
    issuer = cfg.value("jwt.issuer")
    audience = cfg.value("jwt.audience")
    problems = [f"{n} not set" for n, v in (("issuer", issuer), ("audience", audience)) if not str(v or "").strip()]
    return _finding(
        not problems,
        "issuer and audience configured (claim enforcement is probed live by EP-013..EP-016)",
        "; ".join(problems),
        "settings jwt issuer/audience",
        issuer=issuer,
        audience=audience,
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
        configured=values,
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


COMMON_PASSWORD_PROBES = ("password1234", "qwertyuiop123", "iloveyou12345")


@check("CFG-010")
def password_deny_list(cfg: ConfigView) -> Finding:
    """Behavioural: the deployed password policy itself must refuse well-known common passwords."""
    from security.passwords import password_problems

    accepted = [p for p in COMMON_PASSWORD_PROBES if not password_problems(p, cfg.settings)]
    return _finding(
        not accepted,
        "common passwords refused by the password policy",
        f"password policy accepts common passwords: {', '.join(accepted)}",
        "security.passwords.password_problems",
        probes=len(COMMON_PASSWORD_PROBES),
        accepted=len(accepted),
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
        f"login allows {attempts} per {window} s (more than {LOGIN_MAX_ATTEMPTS} per {LOGIN_WINDOW_SECONDS} s)",
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
    app_cap = getattr(cfg.app, "request_max_body_size", None) if cfg.app is not None else None
    problems = []
    if n is None or not 0 < int(n) <= MAX_BODY_BYTES:
        problems.append(f"JSON body cap {n} missing or above {MAX_BODY_BYTES}")
    if cfg.app is not None and (app_cap is None or not 0 < int(app_cap) <= MAX_APP_BODY_BYTES):
        problems.append(f"application body cap {app_cap} missing or above {MAX_APP_BODY_BYTES}")
    return _finding(
        not problems,
        f"JSON bodies capped at {n} bytes, all bodies at {app_cap}",
        "; ".join(problems),
        "settings JSON cap, app.request_max_body_size",
        max_json_bytes=n,
        request_max_body_size=app_cap,
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
        findings.append(Finding(status=Status.NOT_APPLICABLE, message="no routes", looked_at="app route table"))
    return findings


@check("CFG-019")
def secrets_not_default(cfg: ConfigView) -> list[Finding]:
    out = []
    for name in ("secret_key", "hmac_keys"):
        value = cfg.value(name) if name == "secret_key" else cfg.optional(name)
        if value is None and name != "secret_key":
            continue
        has_default, default = cfg.default_of(name)
        for label, v in _secret_values(value):
            text = v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            weak = text.strip().lower() in WEAK_SECRETS or any(m in text.lower() for m in WEAK_SECRET_MARKERS)
            is_default = has_default and bool(default) and v == default
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
    headers = _configured_headers(cfg.settings)
    problems = []
    if hsts < HSTS_MIN_SECONDS:
        problems.append(f"HSTS max-age {hsts} < {HSTS_MIN_SECONDS}")
    if headers is None:
        problems.append("security headers middleware not found")
    else:
        if headers.get("x-content-type-options") != "nosniff":
            problems.append("no X-Content-Type-Options: nosniff")
        if "x-frame-options" not in headers and "frame-ancestors" not in headers.get("content-security-policy", ""):
            problems.append("no frame-ancestors or X-Frame-Options")
        if not headers.get("referrer-policy"):
            problems.append("no Referrer-Policy")
    return _finding(
        not problems,
        "security headers configured",
        "; ".join(problems),
        "settings HSTS max-age and the security headers middleware",
        hsts_max_age=hsts,
        headers=headers,
    )


def _configured_headers(settings: Any) -> dict[str, str] | None:
    """The fixed headers the security package adds (read, not re-implemented, so drift shows)."""
    try:
        from security.headers import API_CSP, build_headers
    except ImportError:
        return None
    try:
        pairs = build_headers(settings)
    except Exception:
        return None
    out = {k.decode().lower(): v.decode() for k, v in pairs}
    out.setdefault("content-security-policy", API_CSP)
    return out


@check("CFG-025")
def log_redaction(cfg: ConfigView) -> Finding:
    """Behavioural: the redaction step is in the configured log pipeline and blanks sensitive fields."""
    import structlog

    from core.logs import redact

    configured = redact in structlog.get_config().get("processors", []) or _redacts_through_formatter()
    probe = redact(None, "info", {"event": "x", "password": "hunter2", "token": "abc", "image": b"\xff\xd8"})
    blanked = all(probe[k] != v for k, v in (("password", "hunter2"), ("token", "abc")))
    return _finding(
        configured and blanked,
        "log pipeline redacts passwords, tokens and images",
        "log redaction missing from the log pipeline" if not configured else "redaction leaves secrets in place",
        "core.logs.redact",
        in_pipeline=configured,
    )


def _redacts_through_formatter() -> bool:
    """The root handler's formatter runs the shared chain for stdlib records; look for the step there too."""
    import logging

    from core.logs import redact

    for handler in logging.getLogger().handlers:
        chain = getattr(handler.formatter, "foreign_pre_chain", None) or []
        if redact in chain:
            return True
    return False


@check("CFG-026")
def template_keys_strong(cfg: ConfigView) -> list[Finding]:
    keys = _keys(cfg.value("crypto.template_keys"))
    if not keys:
        return [_finding(False, "", "no template encryption key configured", "settings.crypto.template_keys")]
    out = []
    for label, v in keys:
        n = len(key_bytes(v)) if v else 0
        placeholder = any(m in str(v).lower() for m in WEAK_SECRET_MARKERS)
        out.append(
            _finding(
                n >= MIN_KEY_BYTES and not placeholder,
                f"key {label}: {n} bytes",
                f"key {label}: placeholder value" if placeholder else f"key {label}: {n} bytes < {MIN_KEY_BYTES}",
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
        for label, v in _secret_values(value):
            # secrets are used as text (HMAC input), so their length in bytes is what counts
            n = len(v if isinstance(v, bytes) else str(v).encode()) if v else 0
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
