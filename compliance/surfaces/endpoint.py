"""Live endpoint surface: probes one deployed URL (and only that URL) with a bounded number of requests.

TLS protocol versions and cipher suites are tested by handshakes pinned to what must be refused; headers, CORS,
error pages, authentication and rate limiting by ordinary HTTP requests. Tokens for the authentication probes are
forged here (``alg=none``, expired, wrong audience), signed with a key the server does not trust unless a signing key
is given, in which case the probe shows the server checks the claims and not only the signature.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import socket
import ssl
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from compliance.errors import InputMissingError
from compliance.model import Finding, Status
from compliance.registry import check

HSTS_MIN_SECONDS = 31_536_000
RATE_LIMIT_WINDOW = 10  # Cyber Essentials: at most 10 guesses...
MAX_LOGIN_PROBES = 15  # ...so a 429 must come by the 11th attempt; never more than this many requests
CERT_MIN_DAYS_LEFT = 14
HOSTILE_ORIGIN = "https://hostile.invalid"
LEAK_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"Traceback \(most recent call last\)",
        r"File \"[^\"]+\.py\", line \d+",
        r"site-packages",
        r"sqlalchemy\.|psycopg|asyncpg\.|sqlite3\.",
        r"\b(SELECT|INSERT|UPDATE|DELETE)\b .+\b(FROM|INTO|SET)\b",
        r"(/home/|/usr/lib/python|/opt/|C:\\\\)",
        r"\b(Exception|Error): .+ at line",
    )
]
EXPOSED_PATHS = ("/.git/config", "/.git/HEAD", "/.env", "/.DS_Store", "/server-status")
DOC_PATHS = ("/schema", "/schema/openapi.json", "/docs", "/openapi.json", "/swagger")


@dataclass(frozen=True)
class EndpointOptions:
    url: str
    ca_file: Path | None = None
    login_path: str = "/api/v1/auth/login"
    protected_paths: tuple[str, ...] = ()
    production: bool | None = None
    timeout: float = 5.0
    signing_key: Any = None  # a private key the server trusts (optional), with its kid and algorithm
    signing_kid: str | None = None
    signing_algorithm: str = "EdDSA"
    issuer: str | None = None
    audience: str | None = None


@dataclass
class Handshake:
    ok: bool
    version: str | None = None
    cipher: str | None = None
    der: bytes | None = None
    error: str | None = None
    local_refusal: bool = False  # our own TLS library would not even offer what was asked


@dataclass
class EndpointContext:
    options: EndpointOptions
    production: bool
    client: httpx.Client
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.options.url.rstrip("/")

    @property
    def https(self) -> bool:
        return urlsplit(self.options.url).scheme == "https"

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.options.url)
        return parts.hostname or "localhost", parts.port or (443 if parts.scheme == "https" else 80)

    def get(self, key: str, fn: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, self.url + path, **kwargs)

    def close(self) -> None:
        self.client.close()


def build_context(inputs: Any) -> EndpointContext:
    options: EndpointOptions | None = inputs.endpoint
    if options is None and inputs.url:
        options = EndpointOptions(url=inputs.url)
    if options is None or not options.url:
        raise InputMissingError("no --url given")
    if urlsplit(options.url).scheme not in {"http", "https"}:
        raise InputMissingError(f"unsupported URL scheme in {options.url!r}")
    production = options.production
    if production is None:
        env = getattr(inputs.settings, "env", None) if inputs.settings is not None else None
        production = env is None or str(env).lower() == "production"
    if not options.protected_paths and inputs.app is not None:
        from compliance.surfaces.config import route_table

        guarded = tuple(
            r.path for r in route_table(inputs.app) if r.guards and "GET" in r.methods and "{" not in r.path
        )
        options = EndpointOptions(**{**options.__dict__, "protected_paths": guarded[:3]})
    if options.issuer is None and inputs.settings is not None:
        sec = getattr(inputs.settings, "security", None)
        options = EndpointOptions(
            **{
                **options.__dict__,
                "issuer": getattr(sec, "jwt_issuer", None),
                "audience": getattr(sec, "jwt_audience", None),
            }
        )
    # Certificate trust is judged by EP-005 on its own; the HTTP probes must reach a server whatever its certificate.
    # one log line per probe request would drown the report (and a JSON report written to stdout)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    probing = ssl.create_default_context()
    probing.check_hostname = False
    probing.verify_mode = ssl.CERT_NONE
    client = httpx.Client(verify=probing, timeout=options.timeout, follow_redirects=False)
    return EndpointContext(options=options, production=production, client=client)


# --- TLS -----------------------------------------------------------------------------------------------------


def handshake(
    host: str,
    port: int,
    *,
    versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
    ciphers: str | None = None,
    verify: bool = False,
    ca_file: Path | None = None,
    timeout: float = 5.0,
) -> Handshake:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pinning TLS 1.0/1.1 on purpose, to see it refused
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            ctx.load_verify_locations(cafile=str(ca_file)) if ca_file else ctx.load_default_certs()
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        try:
            if versions:
                ctx.minimum_version, ctx.maximum_version = versions
            if ciphers:
                ctx.set_ciphers(ciphers)
        except (ssl.SSLError, ValueError) as exc:
            return Handshake(ok=False, error=str(exc), local_refusal=True)
        if versions and not _can_offer(ctx, host):
            return Handshake(ok=False, error="local TLS library cannot offer this protocol", local_refusal=True)
        try:
            with (
                socket.create_connection((host, port), timeout=timeout) as raw,
                ctx.wrap_socket(raw, server_hostname=host) as tls,
            ):
                return Handshake(
                    ok=True, version=tls.version(), cipher=(tls.cipher() or ("",))[0], der=tls.getpeercert(True)
                )
        except (ssl.SSLError, ssl.CertificateError) as exc:
            return Handshake(ok=False, error=f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return Handshake(ok=False, error=f"connection failed: {exc}")


def _can_offer(ctx: ssl.SSLContext, host: str) -> bool:
    """Whether our side can produce a ClientHello for the pinned versions (without touching the network)."""
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=host)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return True
    except ssl.SSLError:
        return False
    return True


def _tls_applicability(ctx: EndpointContext) -> Finding | None:
    if ctx.https:
        return None
    if ctx.production:
        return Finding(
            status=Status.FAIL,
            message="production endpoint served over plain HTTP",
            resource=ctx.url,
            looked_at="URL scheme",
        )
    return Finding(
        status=Status.NOT_APPLICABLE, message="plain HTTP outside production", resource=ctx.url, looked_at="URL scheme"
    )


def _modern(ctx: EndpointContext) -> Handshake:
    host, port = ctx.host_port
    return ctx.get("tls:modern", lambda: handshake(host, port, timeout=ctx.options.timeout))


@check("EP-001")
def tls_versions(ctx: EndpointContext) -> list[Finding]:
    early = _tls_applicability(ctx)
    if early:
        return [early]
    host, port = ctx.host_port
    modern = _modern(ctx)
    if not modern.ok:
        raise InputMissingError(f"no TLS 1.2/1.3 handshake with {host}:{port}: {modern.error}")
    out = []
    for label, version in (("TLSv1.0", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1)):
        hs = handshake(host, port, versions=(version, version), ciphers="ALL:@SECLEVEL=0", timeout=ctx.options.timeout)
        if hs.local_refusal:
            out.append(
                Finding(
                    status=Status.MANUAL,
                    message=f"{label} could not be offered by the local TLS library; test it with another client",
                    resource=f"{ctx.url} {label}",
                    looked_at="pinned TLS handshake",
                    values={"error": hs.error},
                )
            )
            continue
        out.append(
            Finding(
                status=Status.FAIL if hs.ok else Status.PASS,
                message=f"{label} accepted (negotiated {hs.cipher})" if hs.ok else f"{label} refused",
                resource=f"{ctx.url} {label}",
                looked_at="pinned TLS handshake",
                values={"accepted": hs.ok, "error": hs.error, "modern": modern.version},
            )
        )
    return out


WEAK_SUITES = {
    "non-AEAD": "ALL:!AESGCM:!CHACHA20:!AESCCM:!ARIA:!aNULL:!eNULL:@SECLEVEL=0",
    "no forward secrecy": "kRSA:!aNULL:!eNULL:@SECLEVEL=0",
}


@check("EP-002")
def cipher_suites(ctx: EndpointContext) -> list[Finding]:
    early = _tls_applicability(ctx)
    if early:
        return [early]
    host, port = ctx.host_port
    modern = _modern(ctx)
    if not modern.ok:
        raise InputMissingError(f"no TLS handshake with {host}:{port}: {modern.error}")
    out = [_suite_finding(ctx, "negotiated", modern, expect_ok=True)]
    for label, suites in WEAK_SUITES.items():
        hs = handshake(
            host,
            port,
            versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
            ciphers=suites,
            timeout=ctx.options.timeout,
        )
        out.append(_suite_finding(ctx, label, hs, expect_ok=False))
    return out


def _suite_finding(ctx: EndpointContext, label: str, hs: Handshake, expect_ok: bool) -> Finding:
    resource = f"{ctx.url} ciphers:{label}"
    if expect_ok:
        strong = bool(hs.cipher) and (hs.version == "TLSv1.3" or _forward_secret_aead(hs.cipher or ""))
        return Finding(
            status=Status.PASS if strong else Status.FAIL,
            message=f"default handshake negotiated {hs.version} {hs.cipher}",
            resource=resource,
            looked_at="TLS handshake",
            values={"version": hs.version, "cipher": hs.cipher},
        )
    if hs.local_refusal:
        return Finding(
            status=Status.MANUAL,
            message=f"{label} suites could not be offered locally",
            resource=resource,
            looked_at="pinned TLS 1.2 handshake",
            values={"error": hs.error},
        )
    return Finding(
        status=Status.FAIL if hs.ok else Status.PASS,
        message=f"server accepted a {label} suite: {hs.cipher}" if hs.ok else f"{label} suites refused",
        resource=resource,
        looked_at="pinned TLS 1.2 handshake",
        values={"accepted": hs.ok, "cipher": hs.cipher},
    )


def _forward_secret_aead(name: str) -> bool:
    return name.startswith(("ECDHE-", "DHE-")) and any(x in name for x in ("GCM", "CHACHA20", "CCM"))


def _certificate(ctx: EndpointContext) -> Any:
    from cryptography import x509

    modern = _modern(ctx)
    if not modern.ok or not modern.der:
        raise InputMissingError(f"no certificate obtained: {modern.error}")
    return x509.load_der_x509_certificate(modern.der)


@check("EP-003")
def certificate_validity(ctx: EndpointContext) -> Finding:
    early = _tls_applicability(ctx)
    if early:
        return early
    cert = _certificate(ctx)
    now = datetime.now(UTC)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        status, message = Status.FAIL, f"certificate not valid before {start:%Y-%m-%d}"
    elif now > end:
        status, message = Status.FAIL, f"certificate expired {end:%Y-%m-%d}"
    elif end - now < timedelta(days=CERT_MIN_DAYS_LEFT):
        status, message = Status.FAIL, f"certificate expires in {(end - now).days} days"
    else:
        status, message = Status.PASS, f"certificate valid until {end:%Y-%m-%d}"
    return Finding(
        status=status,
        message=message,
        resource=ctx.url,
        looked_at="server certificate",
        values={
            "subject": cert.subject.rfc4514_string(),
            "not_before": start.isoformat(),
            "not_after": end.isoformat(),
            "serial": format(cert.serial_number, "x"),
        },
    )


@check("EP-004")
def certificate_key(ctx: EndpointContext) -> Finding:
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    early = _tls_applicability(ctx)
    if early:
        return early
    key = _certificate(ctx).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        kind, bits, ok = "RSA", key.key_size, key.key_size >= 2048
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind, bits, ok = f"EC {key.curve.name}", key.curve.key_size, key.curve.key_size >= 256
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        kind, bits, ok = type(key).__name__.replace("PublicKey", ""), 256, True
    else:
        kind, bits, ok = type(key).__name__, 0, False
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=f"certificate key {kind} {bits} bits",
        resource=ctx.url,
        looked_at="server certificate public key",
        values={"kind": kind, "bits": bits},
    )


@check("EP-005")
def certificate_trusted(ctx: EndpointContext) -> Finding:
    early = _tls_applicability(ctx)
    if early:
        return early
    host, port = ctx.host_port
    hs = handshake(host, port, verify=True, ca_file=ctx.options.ca_file, timeout=ctx.options.timeout)
    return Finding(
        status=Status.PASS if hs.ok else Status.FAIL,
        message="certificate chain and host name verified"
        if hs.ok
        else f"certificate not trusted for {host}: {hs.error}",
        resource=ctx.url,
        looked_at="verified TLS handshake",
        values={"ca_file": ctx.options.ca_file.name if ctx.options.ca_file else "system store"},
    )


# --- headers -------------------------------------------------------------------------------------------------


def _root(ctx: EndpointContext) -> httpx.Response:
    return ctx.get("http:root", lambda: ctx.request("GET", "/healthz"))


def _header_finding(ctx: EndpointContext, name: str, ok: bool, good: str, bad: str) -> Finding:
    response = _root(ctx)
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=good if ok else bad,
        resource=ctx.url,
        looked_at=f"response headers of GET {response.request.url.path}",
        values={"status": response.status_code, name: response.headers.get(name)},
    )


@check("EP-006")
def hsts(ctx: EndpointContext) -> Finding:
    early = _tls_applicability(ctx)
    if early:
        return early
    value = _root(ctx).headers.get("strict-transport-security", "")
    m = re.search(r"max-age=\"?(\d+)", value)
    age = int(m.group(1)) if m else 0
    return _header_finding(
        ctx,
        "strict-transport-security",
        age >= HSTS_MIN_SECONDS,
        f"HSTS max-age {age}",
        f"HSTS missing or max-age {age} < {HSTS_MIN_SECONDS}",
    )


@check("EP-007")
def csp(ctx: EndpointContext) -> Finding:
    value = _root(ctx).headers.get("content-security-policy", "")
    return _header_finding(
        ctx, "content-security-policy", bool(value.strip()), "Content-Security-Policy set", "no Content-Security-Policy"
    )


@check("EP-008")
def nosniff(ctx: EndpointContext) -> Finding:
    value = _root(ctx).headers.get("x-content-type-options", "")
    return _header_finding(
        ctx,
        "x-content-type-options",
        value.strip().lower() == "nosniff",
        "X-Content-Type-Options: nosniff",
        "X-Content-Type-Options: nosniff missing",
    )


@check("EP-009")
def framing(ctx: EndpointContext) -> Finding:
    headers = _root(ctx).headers
    ok = "frame-ancestors" in headers.get("content-security-policy", "") or headers.get(
        "x-frame-options", ""
    ).upper() in {"DENY", "SAMEORIGIN"}
    return _header_finding(ctx, "x-frame-options", ok, "framing restricted", "no frame-ancestors or X-Frame-Options")


@check("EP-010")
def referrer_policy(ctx: EndpointContext) -> Finding:
    value = _root(ctx).headers.get("referrer-policy", "").lower()
    ok = bool(value) and "unsafe-url" not in value and value != "no-referrer-when-downgrade"
    return _header_finding(ctx, "referrer-policy", ok, f"Referrer-Policy {value}", "Referrer-Policy missing or unsafe")


@check("EP-011")
def cors_hostile_origin(ctx: EndpointContext) -> list[Finding]:
    out = []
    path = (ctx.options.protected_paths or ("/healthz",))[0]
    probes = {
        "simple": ("GET", {"Origin": HOSTILE_ORIGIN}),
        "preflight": (
            "OPTIONS",
            {
                "Origin": HOSTILE_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        ),
    }
    for label, (method, headers) in probes.items():
        r = ctx.request(method, path, headers=headers)
        allow = r.headers.get("access-control-allow-origin", "")
        creds = r.headers.get("access-control-allow-credentials", "").lower() == "true"
        bad = allow == "*" or allow == HOSTILE_ORIGIN or allow == "null"
        out.append(
            Finding(
                status=Status.FAIL if bad else Status.PASS,
                message=f"hostile origin allowed (Access-Control-Allow-Origin: {allow})"
                if bad
                else "hostile origin not allowed",
                resource=f"{method} {path} cors:{label}",
                looked_at="CORS response to a hostile Origin",
                values={"status": r.status_code, "allow_origin": allow, "allow_credentials": creds},
            )
        )
    return out


# --- errors and exposure -------------------------------------------------------------------------------------


def _leaks(text: str) -> list[str]:
    return [p.pattern for p in LEAK_PATTERNS if p.search(text)]


@check("EP-012")
def error_leakage(ctx: EndpointContext) -> list[Finding]:
    missing = f"/compliance-probe-{secrets.token_hex(4)}"
    probes = {
        "malformed-json": (
            "POST",
            ctx.options.login_path,
            {"content": b'{"username": "x", ', "headers": {"Content-Type": "application/json"}},
        ),
        "not-found": ("GET", missing, {}),
        "method-not-allowed": ("DELETE", "/healthz", {}),
        "oversize-body": (
            "POST",
            ctx.options.login_path,
            {"content": b"[" + b"1," * (512 * 1024) + b"1]", "headers": {"Content-Type": "application/json"}},
        ),
    }
    out = []
    for label, (method, path, kwargs) in probes.items():
        try:
            r = ctx.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            out.append(
                Finding(
                    status=Status.ERROR,
                    message=f"probe failed: {type(exc).__name__}",
                    resource=f"error:{label}",
                    looked_at=f"{method} {path}",
                )
            )
            continue
        leaks = _leaks(r.text[:20000])
        out.append(
            Finding(
                status=Status.FAIL if leaks or r.status_code >= 500 else Status.PASS,
                message=f"{r.status_code}: leaks {leaks}"
                if leaks
                else (
                    f"{r.status_code}: server error on bad input"
                    if r.status_code >= 500
                    else f"{r.status_code} with a generic body"
                ),
                resource=f"error:{label}",
                looked_at=f"{method} {path}",
                values={"status": r.status_code, "leaks": leaks, "body_sha256_prefix": _digest(r.content)},
            )
        )
    return out


def _digest(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()[:16]


@check("EP-013")
def server_banner(ctx: EndpointContext) -> Finding:
    headers = _root(ctx).headers
    server = headers.get("server", "")
    powered = headers.get("x-powered-by", "")
    bad = bool(re.search(r"\d", server)) or bool(powered)
    return Finding(
        status=Status.FAIL if bad else Status.PASS,
        message=f"banner reveals versions (Server: {server!r}, X-Powered-By: {powered!r})"
        if bad
        else "no version in Server/X-Powered-By",
        resource=ctx.url,
        looked_at="response headers",
        values={"server": server, "x_powered_by": powered},
    )


@check("EP-014")
def trace_disabled(ctx: EndpointContext) -> Finding:
    r = ctx.request("TRACE", "/", headers={"X-Compliance-Probe": "trace"})
    echoed = r.status_code < 300 and "x-compliance-probe" in r.text.lower()
    return Finding(
        status=Status.FAIL if echoed else Status.PASS,
        message="TRACE echoes the request" if echoed else f"TRACE answered {r.status_code}",
        resource=f"TRACE {ctx.url}/",
        looked_at="TRACE request",
        values={"status": r.status_code},
    )


@check("EP-015")
def exposed_files(ctx: EndpointContext) -> list[Finding]:
    out = []
    for path in EXPOSED_PATHS:
        r = ctx.request("GET", path)
        exposed = r.status_code == 200 and len(r.content) > 0
        out.append(
            Finding(
                status=Status.FAIL if exposed else Status.PASS,
                message=f"{path} served ({len(r.content)} bytes)" if exposed else f"{path}: {r.status_code}",
                resource=f"GET {path}",
                looked_at="request for a sensitive file",
                values={"status": r.status_code},
            )
        )
    return out


@check("EP-016")
def docs_in_production(ctx: EndpointContext) -> list[Finding]:
    if not ctx.production:
        return [
            Finding(
                status=Status.NOT_APPLICABLE,
                message="documentation may be public outside production",
                resource=ctx.url,
                looked_at="environment",
            )
        ]
    out = []
    for path in DOC_PATHS:
        r = ctx.request("GET", path)
        out.append(
            Finding(
                status=Status.FAIL if r.status_code == 200 else Status.PASS,
                message=f"{path} served in production" if r.status_code == 200 else f"{path}: {r.status_code}",
                resource=f"GET {path}",
                looked_at="request for API documentation",
                values={"status": r.status_code},
            )
        )
    return out


# --- authentication ------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(ctx: EndpointContext, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ctx.options.issuer or "emon",
        "aud": ctx.options.audience or "emon-api",
        "sub": "00000000-0000-7000-8000-000000000000",
        "role": "ADMIN",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "jti": secrets.token_hex(8),
    }
    claims.update(overrides)
    return claims


def _signed(ctx: EndpointContext, claims: dict[str, Any]) -> str:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ctx.options.signing_key or ctx.get("forge-key", ed25519.Ed25519PrivateKey.generate)
    algorithm = ctx.options.signing_algorithm if ctx.options.signing_key is not None else "EdDSA"
    headers = {"kid": ctx.options.signing_kid} if ctx.options.signing_kid else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _auth_probe(ctx: EndpointContext, label: str, token: str | None) -> list[Finding]:
    if not ctx.options.protected_paths:
        raise InputMissingError("no protected path known: give --protected-path")
    out = []
    for path in ctx.options.protected_paths:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        r = ctx.request("GET", path, headers=headers)
        if r.status_code == 404:
            out.append(
                Finding(
                    status=Status.ERROR,
                    message=f"{path} not found: give a real protected path",
                    resource=f"GET {path} auth:{label}",
                    looked_at="request with a forged or missing token",
                    values={"status": 404},
                )
            )
            continue
        out.append(
            Finding(
                status=Status.PASS if r.status_code == 401 else Status.FAIL,
                message=f"{label}: {r.status_code}" + ("" if r.status_code == 401 else " (expected 401)"),
                resource=f"GET {path} auth:{label}",
                looked_at="request with a forged or missing token",
                values={"status": r.status_code, "trusted_key": ctx.options.signing_key is not None},
            )
        )
    return out


@check("EP-017")
def auth_no_token(ctx: EndpointContext) -> list[Finding]:
    return _auth_probe(ctx, "no-token", None)


@check("EP-018")
def auth_alg_none(ctx: EndpointContext) -> list[Finding]:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(ctx)).encode())
    return _auth_probe(ctx, "alg-none", f"{header}.{payload}.")


@check("EP-019")
def auth_expired(ctx: EndpointContext) -> list[Finding]:
    past = int(time.time()) - 3600
    return _auth_probe(ctx, "expired", _signed(ctx, _claims(ctx, iat=past - 600, nbf=past - 600, exp=past)))


@check("EP-020")
def auth_wrong_audience(ctx: EndpointContext) -> list[Finding]:
    return _auth_probe(ctx, "wrong-audience", _signed(ctx, _claims(ctx, aud="some-other-service")))


@check("EP-021")
def login_rate_limited(ctx: EndpointContext) -> Finding:
    codes: list[int] = []
    user = f"compliance-probe-{secrets.token_hex(4)}"
    for _ in range(MAX_LOGIN_PROBES):
        r = ctx.request("POST", ctx.options.login_path, json={"username": user, "password": secrets.token_urlsafe(12)})
        codes.append(r.status_code)
        if r.status_code == 429:
            break
    if set(codes) <= {404, 405}:
        raise InputMissingError(f"login path {ctx.options.login_path} not found (give --login-path)")
    limited_at = codes.index(429) + 1 if 429 in codes else None
    ok = limited_at is not None and limited_at <= RATE_LIMIT_WINDOW + 1
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=f"429 after {limited_at - 1} failed attempts"
        if ok and limited_at
        else f"no 429 within {len(codes)} login attempts",
        resource=f"POST {ctx.options.login_path}",
        looked_at="repeated failed logins (bounded)",
        values={"codes": codes},
    )
