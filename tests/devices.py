"""A device as the API sees one, for any package's tests: a fresh Ed25519 key enrolled through ``POST
/api/v1/devices`` by a member of staff, a key-bound device token from ``POST /api/v1/devices/token``, and requests
signed exactly as :mod:`security.devices` verifies them (token AND signature by the same key).

    watch = await enrol_device(client, token_for(officer))          # kind "watch" by default
    response = await watch.post(client, "/api/v1/checkin/prompts/{id}/checkins", body)
    response = await watch.get(client, "/api/v1/checkin/prompts/pending?wait=1")
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from litestar import Litestar
from litestar.testing import AsyncTestClient

from security.devices import canonical_request

Client = AsyncTestClient[Litestar]
TOKEN_PATH = "/api/v1/devices/token"

#: What a watch reports at device enrolment (``security.schemas.PostureReport``).
ENROLMENT_POSTURE: dict[str, Any] = {
    "platform": "wearos",
    "os_version": "5.1",
    "security_patch": "2026-11-01",
    "encrypted": True,
    "screen_lock": True,
    "rooted": False,
    "attestation_format": "android-key",
    "attestation": "MIIB...",
}


@dataclass
class SignedDevice:
    """An enrolled device holding its private key; every request it makes is signed and carries its token."""

    key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    device_id: str = ""
    token: str = ""

    @property
    def public_b64(self) -> str:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def signed_headers(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        *,
        nonce: str | None = None,
        timestamp: int | None = None,
        signer: ed25519.Ed25519PrivateKey | None = None,
        token: bool = True,
    ) -> dict[str, str]:
        """Headers of a signed request: ``url`` is the path with its query string, exactly as sent."""
        sent_at = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or uuid.uuid4().hex
        message = canonical_request(method, url, body, sent_at, nonce, self.device_id)
        headers = {
            "X-Device-Id": self.device_id,
            "X-Device-Timestamp": sent_at,
            "X-Device-Nonce": nonce,
            "X-Device-Signature": base64.b64encode((signer or self.key).sign(message)).decode(),
            "Content-Type": "application/json",
        }
        if token and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def get(self, client: Client, url: str, **signing: Any) -> httpx.Response:
        return await client.get(url, headers=self.signed_headers("GET", url, **signing))

    async def post(self, client: Client, url: str, body: Any = None, **signing: Any) -> httpx.Response:
        content = b"" if body is None else json.dumps(body).encode()
        return await client.post(url, content=content, headers=self.signed_headers("POST", url, content, **signing))

    async def fetch_token(self, client: Client) -> str:
        """A fresh device token (claims as the device record stands now, e.g. the wearer a watch is bound to)."""
        headers = self.signed_headers("POST", TOKEN_PATH, token=False)
        response = await client.post(TOKEN_PATH, content=b"", headers=headers)
        assert response.status_code == 201, response.text
        self.token = response.json()["access_token"]
        return self.token

    def claims(self) -> dict[str, Any]:
        """The current token's claims, read without verification (the server verifies them)."""
        payload = self.token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def enrol_device(
    client: Client, staff_headers: dict[str, str], kind: str = "watch", posture: dict[str, Any] | None = None
) -> SignedDevice:
    """Enrol a device with a fresh Ed25519 key (as an officer, supervisor or administrator) and get its token."""
    device = SignedDevice()
    response = await client.post(
        "/api/v1/devices",
        json={
            "kind": kind,
            "label": f"test {kind} {uuid.uuid4().hex[:6]}",
            "public_key": device.public_b64,
            "posture": posture or ENROLMENT_POSTURE,
        },
        headers=staff_headers,
    )
    assert response.status_code == 201, response.text
    device.device_id = response.json()["id"]
    await device.fetch_token(client)
    return device
