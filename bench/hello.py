"""The baseline: a Litestar hello-world endpoint, served the same way as emon for the same-run comparison."""

from __future__ import annotations

from litestar import Litestar, get


@get("/", sync_to_thread=False)
def hello() -> dict[str, str]:
    return {"hello": "world"}


app = Litestar(route_handlers=[hello], logging_config=None)
