"""The ``emon`` command line: server, database, demo data, accounts and the domain tools."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from core.settings import Settings, SettingsError, load_settings

VERSION = "0.1.0"


class EmonGroup(click.Group):
    """Turns any error into one readable line and a non-zero exit; never a stack trace."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException("invalid settings: " + "; ".join(exc.problems)) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # the last line of defence for the CLI's promise above
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


def settings_from(ctx: click.Context) -> Settings:
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
    return obj["settings"]


@click.group(cls=EmonGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """emon: electronic monitoring backend."""


@main.command()
def version() -> None:
    """Print the emon version."""
    click.echo(f"emon {VERSION}")


@main.command()
@click.option("--host", default=None, help="Address to bind (default: EMON_HTTP_HOST).")
@click.option("--port", type=int, default=None, help="Port to bind (default: EMON_HTTP_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: EMON_HTTP_WORKERS; >1 needs Redis).",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = settings_from(ctx)
    workers = workers or settings.http.workers
    if workers > 1 and not settings.redis.url:
        raise click.ClickException(
            "--workers > 1 needs EMON_REDIS_URL: without Redis each process keeps its own rate limits, "
            "nonces and revocations, so they would not hold"
        )
    host = host or settings.http.host
    port = port or settings.http.port
    click.echo(f"emon serving on http://{host if ':' not in host else f'[{host}]'}:{port} ({workers} worker(s))")
    uvicorn.run(
        "api.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    from api import migrate

    migrate.upgrade(settings_from(ctx), revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema down to REVISION (default: one step)."""
    from api import migrate

    migrate.downgrade(settings_from(ctx), revision)
    click.echo(f"database at {revision}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.pass_context
def db_revision(ctx: click.Context, message: str) -> None:
    """Write a new migration from the difference between the models and the database (development)."""
    from api import migrate

    migrate.revision(settings_from(ctx), message)


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("seed")
@click.pass_context
def demo_seed(ctx: click.Context) -> None:
    """Add demo accounts, orders, devices and check-ins (idempotent)."""
    from api.demo import seed

    for line in asyncio.run(seed(settings_from(ctx))):
        click.echo(line)


def _mount() -> None:
    from biometrics.cli import biometrics
    from checkin.cli import checkin, retention

    for group in (biometrics, checkin, retention):
        main.add_command(group)


_mount()


def run() -> None:
    main(prog_name="emon")


if __name__ == "__main__":
    sys.exit(main(prog_name="emon"))
