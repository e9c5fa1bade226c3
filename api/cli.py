"""The ``emon`` command line: server, database, demo data, accounts and the domain tools."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from core.db import Database, run_with_database
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
    if settings.is_production:
        _production_gate(settings)
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


def _production_gate(settings: Settings) -> None:
    """Refuse to serve production on a critical configuration failure, unless an audited override is given."""
    from api.gate import audit_override, critical_failures

    failures = asyncio.run(critical_failures(settings))
    if not failures:
        return
    listed = "; ".join(f"{r.check_id} {r.message}" for r in failures)
    if not settings.emergency_override:
        raise click.ClickException(
            f"refusing to start: critical compliance failures: {listed} "
            "(fix them, or set EMON_EMERGENCY_OVERRIDE to a reason to start anyway; that start is audited)"
        )
    asyncio.run(audit_override(settings, failures))
    click.echo(f"WARNING: starting despite critical failures ({listed}); override audited", err=True)


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


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.option("--username", required=True, help="Login name: 3-80 of a-z, 0-9, '.', '_', '-'.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["field_officer", "caseworker", "supervisor", "admin"]),
    help="The account's role (admin accounts are separate accounts).",
)
@click.option("--team", default=None, help="Team name (required for field officers; created when new).")
@click.option("--display-name", default=None, help="Name shown to colleagues (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the initial password from standard input.")
@click.pass_context
def users_create(
    ctx: click.Context, username: str, role: str, team: str | None, display_name: str | None, password_stdin: bool
) -> None:
    """Create a staff account; prints its TOTP secret, provisioning URI and recovery codes ONCE."""
    from core.errors import DomainError, ValidationFailed
    from security.accounts import create_staff
    from security.actor import SYSTEM

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Initial password", hide_input=True, confirmation_prompt=True)
    settings = settings_from(ctx)

    async def create(db: Database) -> Any:
        from security.runtime import build_runtime
        from security.tokens import TokenService, load_keyring

        rt = build_runtime(settings, db, None, TokenService(settings, load_keyring(settings)))
        async with db.transaction() as session:
            return await create_staff(
                session,
                rt,
                SYSTEM,
                username=username,
                role=role,
                display_name=display_name or username,
                password=password,
                team=team,
            )

    try:
        account = run_with_database(settings, create)
    except ValidationFailed as exc:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        raise click.ClickException(f"{exc.detail}: {problems}") from None
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"created {account.user.username} ({account.user.role}) id {account.user.id}")
    click.echo("Shown once; give these to the account holder over a trusted channel:")
    click.echo(f"  TOTP secret:      {account.totp_secret}")
    click.echo(f"  provisioning URI: {account.provisioning_uri}")
    click.echo("  recovery codes:   " + " ".join(account.recovery_codes))


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("seal")
@click.pass_context
def audit_seal(ctx: click.Context) -> None:
    """Chain the unsealed entries that are ready (one pass of what the app's background sealer does)."""
    from security.audit import unsealed_count
    from security.sealer import seal_pending

    settings = settings_from(ctx)

    async def run(db: Database) -> tuple[int, int]:
        key = settings.security.audit_hmac_key.encode()
        sealed = await seal_pending(db, key, settings.security.audit_seal_delay_seconds)
        async with db.transaction() as session:
            return sealed, await unsealed_count(session)

    sealed, left = run_with_database(settings, run)
    click.echo(f"{sealed} entries sealed; {left} unsealed")


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Report the entries not sealed yet, then check every sealed entry's link and hash; exit 1 at the first broken
    link."""
    from security.audit import verify_chain

    settings = settings_from(ctx)

    async def verify(db: Database) -> Any:
        async with db.transaction() as session:
            return await verify_chain(session, settings.security.audit_hmac_key.encode())

    report = run_with_database(settings, verify)
    click.echo(
        f"{report.unsealed} entries not sealed yet (sealed within seconds while the app runs; or `emon audit seal`)"
    )
    click.echo(f"{report.entries} entries checked")
    if not report.intact:
        click.echo(f"first broken link: entry {report.first_broken_seq}: {report.reason}")
        ctx.exit(1)
    click.echo("chain intact")


@main.group()
def keys() -> None:
    """Token signing keys."""


@keys.command("rotate")
@click.pass_context
def keys_rotate(ctx: click.Context) -> None:
    """Add a new signing key and make it current; restart the instances to use it. Old tokens keep verifying."""
    from pathlib import Path

    from security.tokens import rotate_key

    settings = settings_from(ctx)
    kid = rotate_key(Path(settings.security.jwt_keys_dir), settings.security.jwt_algorithm)
    click.echo(f"new current signing key {kid}; delete older keys once their tokens have expired")


def _mount_domain_commands() -> None:
    from biometrics.cli import biometrics
    from checkin.cli import checkin, retention
    from compliance.cli import compliance

    for group in (biometrics, checkin, retention, compliance):
        main.add_command(group)


_mount_domain_commands()


def run() -> None:
    main(prog_name="emon")


if __name__ == "__main__":
    sys.exit(main(prog_name="emon"))
