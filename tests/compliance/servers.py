"""Real servers on 127.0.0.1 for the live endpoint checks: a well-configured app and a badly configured one.

Each runs uvicorn in a daemon thread on a free port, with a TLS context made here (self-signed certificates from
``cryptography``), and stops when the test session ends.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from litestar import Litestar, Request, Response, get, post, route
from litestar.config.cors import CORSConfig
from litestar.exceptions import NotAuthorizedException
from litestar.openapi.config import OpenAPIConfig

ISSUER, AUDIENCE = "emon", "emon-api"
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def make_certificate(directory: Path, *, key: Any, days: int, name: str) -> tuple[Path, Path]:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start, end = (
        (now - dt.timedelta(days=1), now + dt.timedelta(days=days))
        if days > 0
        else (now - dt.timedelta(days=30), now + dt.timedelta(days=days))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def good_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    cert, key = make_certificate(directory, key=ec.generate_private_key(ec.SECP256R1()), days=365, name="good")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
    ctx.load_cert_chain(cert, key)
    return ctx, cert


def bad_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - weak on purpose
    cert, key = make_certificate(directory, key=weak, days=-1, name="bad")  # expired yesterday
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)
    return ctx, cert


def good_app(signing_key: ed25519.Ed25519PrivateKey) -> Litestar:
    failures: Counter[str] = Counter()
    public = signing_key.public_key()

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/api/v1/orders", sync_to_thread=False)
    def orders(request: Request[Any, Any, Any]) -> list[str]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise jwt.InvalidTokenError("no bearer")
            jwt.decode(
                token,
                public,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti"]},
            )
        except jwt.InvalidTokenError:
            raise NotAuthorizedException() from None
        return []

    @post("/api/v1/auth/login")
    async def login(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        try:
            data = await request.json()
        except Exception:
            return Response({"detail": "malformed request body"}, status_code=400)
        user = str(data.get("username")) if isinstance(data, dict) else ""
        failures[user] += 1
        if failures[user] > 10:
            return Response({"detail": "too many attempts"}, status_code=429)
        return Response({"detail": "invalid credentials"}, status_code=401)

    def add_headers(response: Response[Any]) -> Response[Any]:
        response.headers.update(SECURITY_HEADERS)
        return response

    return Litestar(
        [healthz, orders, login],
        after_request=add_headers,
        cors_config=CORSConfig(allow_origins=["https://caseworker.emon.example"]),
        openapi_config=None,
        request_max_body_size=64 * 1024,
        debug=False,
    )


def bad_app() -> Litestar:
    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/api/v1/orders", sync_to_thread=False)
    def orders() -> list[str]:
        return ["every order, no token needed"]

    @post("/api/v1/auth/login")
    async def login(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        body = json.loads(await request.body())  # raises on malformed JSON; debug mode shows the traceback
        return Response({"detail": f"no user {body.get('username')}"}, status_code=401)

    @get("/.env", sync_to_thread=False)
    def dotenv() -> str:
        return "EMON_SECURITY_SECRET_KEY=oops"

    @route("/", http_method=["TRACE"], sync_to_thread=False)
    def trace(request: Request[Any, Any, Any]) -> str:
        return "\n".join(f"{k}: {v}" for k, v in request.headers.items())

    def add_banner(response: Response[Any]) -> Response[Any]:
        response.headers["x-powered-by"] = "Litestar/2.25.0"
        return response

    return Litestar(
        [healthz, orders, login, dotenv, trace],
        after_request=add_banner,
        cors_config=CORSConfig(allow_origins=["*"]),
        openapi_config=OpenAPIConfig(title="bad", version="1"),
        request_max_body_size=None,
        debug=True,
    )


class ServerThread:
    def __init__(self, app: Litestar, ssl_context: ssl.SSLContext | None, lifespan: str = "off") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="critical", lifespan=lifespan, server_header=False, timeout_keep_alive=2)
        config.load()
        config.ssl = ssl_context  # our own context: pinned protocol versions and suites
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.scheme = "https" if ssl_context else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
