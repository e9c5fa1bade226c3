"""The shipped production example passes the start-up checks (with its placeholders swapped for real values)."""

from __future__ import annotations

from pathlib import Path

from core.settings import load_settings, read_dotenv

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "production.env.example"


def test_the_production_example_names_only_known_settings_and_is_accepted() -> None:
    values = read_dotenv(EXAMPLE)
    settings = load_settings(values, dotenv=None)
    assert settings.is_production
    assert "verify-full" in settings.database.url
