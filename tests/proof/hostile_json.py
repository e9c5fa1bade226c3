"""Hostile JSON bodies: malformed documents, hostile values in each field, and a skeleton body built from a request
schema so that hostile values reach past the first missing field."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

#: Documents that are not acceptable JSON bodies at all (must answer 4xx).
MALFORMED: list[tuple[str, bytes]] = [
    ("truncated", b'{"username": "a'),
    ("not utf-8", b"\xff\xfe\x00{\x00}"),
    ("utf-8 bom", b"\xef\xbb\xbf{}"),
    ("trailing garbage", b"{} {}"),
    ("single quotes", b"{'a': 1}"),
    ("bare null", b"null"),
    ("bare array", b"[]"),
    ("bare string", b'"x"'),
    ("bare number", b"0"),
    ("NaN", b'{"x": NaN}'),
    ("Infinity", b'{"x": Infinity, "y": -Infinity}'),
    ("deep arrays", b"[" * 20_000 + b"]" * 20_000),
    ("deep objects", b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
    ("NUL byte raw", b'{"a": "\x00"}'),
    ("control character raw", b'{"a": "\x01\x1f"}'),
]

LONG = 20_000
#: Values put into a field of an otherwise plausible body (may be accepted or refused, never 5xx).
HOSTILE_VALUES: list[tuple[str, Any]] = [
    ("NUL", "a\x00b"),
    ("lone high surrogate", "\ud800"),
    ("lone low surrogate", "x\udfffx"),
    ("RTL override", "\u202eevil\u202c.png"),
    ("zero-width and BOM", "\u200b\ufeff\u2060"),
    ("astral, long", "\U0001d518" * LONG),
    ("huge ascii", "a" * 50_000),
    ("combining marks", "e" + "\u0301" * 5_000),
    ("negative", -1),
    ("int64 min - 1", -(2**63) - 1),
    ("2**64", 2**64),
    ("2**200", 2**200),
    ("1e308", 1e308),
    ("-1e308", -1e308),
    ("denormal", 5e-324),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("true", True),
    ("null", None),
    ("empty list", []),
    ("object", {"$ne": None, "__proto__": {"admin": True}}),
    ("deep in a field", json.loads("[" * 200 + "]" * 200)),
]


def encode(value: Any) -> bytes:
    """JSON as a hostile client writes it: lone surrogates as escapes, NaN and Infinity as bare tokens."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    for _ in range(20):
        ref = schema.get("$ref")
        if not ref:
            break
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [_resolve(s, spec) for s in schema[key]]
            real = [s for s in options if s.get("type") != "null"]
            return real[0] if real else options[0]
    if schema.get("allOf"):
        return _resolve(schema["allOf"][0], spec)
    return schema


def skeleton(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A plausible value for a JSON schema: enough for a body to get past "field required"."""
    schema = _resolve(schema, spec)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        props = schema.get("properties", {})
        return {name: skeleton(sub, spec, depth + 1) for name, sub in props.items()}
    if kind == "array":
        items = schema.get("items") or {}
        count = max(1, int(schema.get("minItems", 1)))
        return [skeleton(items, spec, depth + 1) for _ in range(min(count, 3))] if depth <= 6 else []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    fmt = schema.get("format", "")
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return "2026-01-01T10:00:00Z"
    if fmt == "date":
        return "2026-01-01"
    if schema.get("contentEncoding") == "base64":
        return "aGVsbG8="
    length = int(schema.get("minLength", 1))
    return "x" * max(1, min(length, 64))


def field_variants(base: Any) -> Iterator[tuple[str, bytes]]:
    """Each hostile value once in every field (all at once), then once in a single field, taking fields in turn."""
    fields = list(base) if isinstance(base, dict) else []
    for index, (name, value) in enumerate(HOSTILE_VALUES):
        if fields:
            yield f"{name} in every field", encode(dict.fromkeys(fields, value))
            target = fields[index % len(fields)]
            yield f"{name} in {target}", encode({**base, target: value})
        else:
            yield name, encode(value)
    if fields:
        duplicated = b"{" + b",".join(encode(k) + b":" + encode(v) for k, v in base.items())
        first = fields[0]
        yield "duplicate key", duplicated + b"," + encode(first) + b":" + encode(HOSTILE_VALUES[0][1]) + b"}"
