"""ASGI entry point for the production server: ``uvicorn --factory api.asgi:create``."""

from __future__ import annotations

from litestar import Litestar

from api.app import create_app
from core.settings import get_settings


def create() -> Litestar:
    return create_app(get_settings())
