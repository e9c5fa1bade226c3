"""Version comparison: PEP 440 through ``packaging`` when importable, else a small PEP 440 subset."""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Any

try:  # packaging is a transitive dependency; the fallback keeps the module importable without it
    from packaging.version import InvalidVersion
    from packaging.version import Version as _PackagingVersion
except ImportError:  # pragma: no cover - exercised by a test that forces the fallback
    _PackagingVersion = None  # type: ignore[assignment,misc]
    InvalidVersion = ValueError  # type: ignore[assignment,misc]

_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_PEP440 = re.compile(
    r"^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|alpha|b|beta|c|rc|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:(?:-(?P<post_n1>\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>\d*)))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?(?:\+[a-z0-9.]+)?$",
    re.IGNORECASE,
)


@total_ordering
class SimpleVersion:
    """A PEP 440 subset: epoch, release, pre, post, dev (local labels ignored)."""

    def __init__(self, text: str) -> None:
        m = _PEP440.match(text.strip())
        if not m:
            raise ValueError(f"invalid version: {text!r}")
        release = tuple(int(p) for p in m["release"].split("."))
        while len(release) > 1 and release[-1] == 0:
            release = release[:-1]
        inf = float("inf")
        pre: tuple[float, float] = (_PRE[m["pre_l"].lower()], int(m["pre_n"] or 0)) if m["pre_l"] else (inf, 0)
        post_n = m["post_n1"] or m["post_n2"]
        post = int(post_n) if post_n is not None and post_n != "" else (0 if m["post_n2"] == "" else -1)
        dev = int(m["dev_n"] or 0) if m["dev_n"] is not None else inf
        if m["dev_n"] is not None and not m["pre_l"] and post < 0:
            pre = (-1, 0)  # 1.0.dev1 sorts before 1.0a1
        self.key = (int(m["epoch"] or 0), release, pre, post, dev)
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimpleVersion) and self.key == other.key

    def __lt__(self, other: SimpleVersion) -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"SimpleVersion({self.text!r})"


def parse_version(text: str) -> Any:
    """A comparable version; raises ValueError for text that is not a version."""
    if _PackagingVersion is not None:
        try:
            return _PackagingVersion(text)
        except InvalidVersion as exc:
            raise ValueError(str(exc)) from exc
    return SimpleVersion(text)


def os_version_tuple(text: str) -> tuple[int, ...]:
    """Dotted OS versions such as '14', '17.4.1' or 'Wear OS 5.0' compare numerically."""
    numbers = re.findall(r"\d+", text or "")
    if not numbers:
        raise ValueError(f"no version number in {text!r}")
    parts = [int(n) for n in numbers]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)
