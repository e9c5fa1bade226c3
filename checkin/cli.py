"""``emon checkin sweep|schedule`` and ``emon retention run [--dry-run]`` (mounted by ``api.cli``)."""

from __future__ import annotations

from datetime import date

import click

from core.clock import utcnow
from core.db import Database, run_with_database
from core.settings import Settings, get_settings


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = get_settings()
    return obj["settings"]


@click.group(name="checkin")
def checkin() -> None:
    """Smartwatch check-ins: missed-prompt sweep and the daily schedule."""


@checkin.command("sweep")
@click.pass_context
def sweep_command(ctx: click.Context) -> None:
    """Mark expired prompts MISSED and raise their alerts (one pass; the server does this continuously)."""
    from checkin.sweeper import sweep

    async def run(db: Database) -> tuple[int, int]:
        result = await sweep(db)
        return result.marked, result.alerted

    marked, alerted = run_with_database(_settings(ctx), run)
    click.echo(f"missed prompts marked: {marked}; alerts raised: {alerted}")


@checkin.command("schedule")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Day (default: today).")
@click.option("--days", type=click.IntRange(1, 14), default=1, show_default=True, help="How many days from DATE.")
@click.pass_context
def schedule_command(ctx: click.Context, day: object, days: int) -> None:
    """Create the scheduled prompts of the given days (idempotent)."""
    from checkin.scheduler import schedule_days

    first: date = day.date() if day is not None else utcnow().date()  # type: ignore[attr-defined]

    settings = _settings(ctx)

    async def run(db: Database) -> int:
        return await schedule_days(db, settings, first, days)

    click.echo(f"scheduled prompts created: {run_with_database(settings, run)}")


@click.group(name="retention")
def retention() -> None:
    """Data retention."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.pass_context
def retention_run(ctx: click.Context, dry_run: bool) -> None:
    """Delete check-in photos, templates and records past their retention periods; print counts per kind."""
    from checkin.retention import run_retention

    settings = _settings(ctx)

    async def run(db: Database) -> dict[str, int]:
        async with db.transaction() as session:
            return await run_retention(session, settings, dry_run=dry_run)

    counts = run_with_database(settings, run)
    verb = "would delete" if dry_run else "deleted"
    for kind, count in counts.items():
        click.echo(f"{verb} {kind}: {count}")
