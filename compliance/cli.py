"""``emon compliance``: a click group the composition root mounts.

Exit codes of ``check``: 0 nothing unwaived at or above ``--fail-on``; 3 such failures; 2 bad arguments or an
invalid waiver/baseline/data file; 4 expired waivers; 1 the checker itself failed.

The group reads two optional hooks from ``click.Context.obj`` (a dict) so it never imports the API package:
``load_settings`` (a callable returning the settings object) and ``create_app`` (settings -> Litestar app).
Without them it falls back to ``core.settings.load_settings`` and the ``--app-factory`` import path.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import msgspec

from compliance import registry
from compliance.devices import (
    DevicePolicy,
    PolicyNotInForceError,
    evaluate_device,
    fleet_summary,
    load_policy,
    load_postures,
)
from compliance.errors import ComplianceError, InputError
from compliance.frameworks import checks_by_ref, frameworks
from compliance.model import Report, Severity, Status, Surface
from compliance.output import EXTENSIONS, FORMATS, render
from compliance.runner import Inputs, run
from compliance.waivers import apply_waivers, load_baseline, load_waivers

EXIT_OK, EXIT_CHECKER, EXIT_USAGE, EXIT_FAILURES, EXIT_EXPIRED = 0, 1, 2, 3, 4


class _Group(click.Group):
    """Usage errors become one readable line and exit code 2, never a traceback or a usage page."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.UsageError as exc:
            _die(exc.format_message(), EXIT_USAGE)
        except click.ClickException as exc:
            _die(exc.format_message(), exc.exit_code or EXIT_CHECKER)
        except click.Abort:
            _die("aborted", EXIT_CHECKER)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _die(message: str, code: int) -> NoReturn:
    click.echo(f"emon compliance: {message}", err=True)
    sys.exit(code)


@click.group(name="compliance", cls=_Group)
def compliance() -> None:
    """Gather evidence of the deployment against UK government cyber security standards."""


def _settings(ctx: click.Context, notes: list[str]) -> Any:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    if obj.get("settings") is not None:
        return obj["settings"]
    loader: Callable[[], Any] | None = obj.get("load_settings")
    if loader is None:
        try:
            loader = importlib.import_module("core.settings").load_settings
        except (ImportError, AttributeError):
            notes.append("configuration: core.settings.load_settings not available")
            return None
    try:
        return loader()
    except Exception as exc:  # the settings refused to load: report it, do not crash
        notes.append(f"configuration: settings failed to load: {type(exc).__name__}: {exc}")
        return None


def _app(ctx: click.Context, settings: Any, factory_path: str, notes: list[str]) -> Any:
    if settings is None:
        return None
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    factory: Callable[[Any], Any] | None = obj.get("create_app")
    if factory is None and factory_path:
        module, _, attr = factory_path.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr or "create_app")
        except (ImportError, AttributeError):
            notes.append(f"configuration: app factory {factory_path} not importable; route checks report ERROR")
            return None
    try:
        return factory(settings) if factory else None
    except Exception as exc:
        notes.append(f"configuration: app factory failed: {type(exc).__name__}: {exc}")
        return None


def _db_postures(settings: Any, notes: list[str]) -> list[Any] | None:
    """Device postures from the configured database, or None (with a note) when it cannot be read."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from compliance.fleet import postures_from_database

    url = str(settings.database.url)
    if url.startswith("sqlite") and not Path(url.split(":///", 1)[-1]).is_file():
        notes.append("devices: the SQLite database file does not exist")
        return None

    async def read() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as session:
                return await postures_from_database(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(read())
    except sa.exc.SQLAlchemyError as exc:
        notes.append(f"devices: device tables not readable ({type(exc).__name__})")
        return None


def gate(report: Report, fail_on: Severity, baseline: set[str] | None = None) -> list[Any]:
    """The unwaived failures at or above ``fail_on`` (only new ones when a baseline is given)."""
    return [
        r
        for r in report.results
        if r.status is Status.FAIL
        and not r.waived
        and r.severity.at_least(fail_on)
        and (baseline is None or r.fingerprint not in baseline)
    ]


@compliance.command("check")
@click.option("--url", help="Probe this deployed endpoint (https://host[:port]).")
@click.option(
    "--surfaces",
    "surfaces_opt",
    multiple=True,
    type=click.Choice([s.value for s in Surface]),
    help="Surfaces to run (repeatable); default all, each only where its input is available.",
)
@click.option("--waivers", "waivers_path", type=click.Path(path_type=Path), help="Waiver TOML file.")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path), help="An earlier JSON report.")
@click.option("--new-only", is_flag=True, help="With --baseline: fail only on findings not in the baseline.")
@click.option("--fail-on", type=click.Choice([s.value for s in Severity]), default="high", show_default=True)
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS), help="Repeatable; default table.")
@click.option("--output", type=click.Path(path_type=Path), help="File (one format) or stem (several formats).")
@click.option("--advisories", type=click.Path(path_type=Path), help="OSV JSON file or folder of advisories.")
@click.option("--devices", "devices_path", type=click.Path(path_type=Path), help="Device postures JSON file.")
@click.option("--device-policy", type=click.Path(path_type=Path), help="Device policy TOML (default: shipped).")
@click.option("--lock-file", type=click.Path(path_type=Path), help="uv.lock to inspect (default: project's).")
@click.option("--ca-file", type=click.Path(path_type=Path), help="CA bundle to verify the endpoint certificate.")
@click.option(
    "--signing-key",
    type=click.Path(path_type=Path),
    help="PEM private key the server trusts (file stem = kid): token probes then test claims, not just signatures.",
)
@click.option("--login-path", default="/api/v1/auth/login", show_default=True)
@click.option("--protected-path", "protected_paths", multiple=True, help="Guarded path to probe (repeatable).")
@click.option("--app-factory", default="api.app:create_app", show_default=True, help="module:callable(settings).")
@click.pass_context
def check_cmd(ctx: click.Context, **opts: Any) -> None:
    """Run the checks and report; the exit code gates CI."""
    try:
        code = _check(ctx, **opts)
    except ComplianceError as exc:
        _die(str(exc), exc.exit_code)
    except Exception as exc:
        _die(f"checker failed: {type(exc).__name__}: {exc}", EXIT_CHECKER)
    sys.exit(code)


def _check(ctx: click.Context, **o: Any) -> int:
    now = datetime.now(UTC)
    if o["new_only"] and not o["baseline_path"]:
        raise InputError("--new-only needs --baseline")
    for key in (
        "advisories",
        "devices_path",
        "device_policy",
        "lock_file",
        "ca_file",
        "waivers_path",
        "baseline_path",
    ):
        if o[key] is not None and not Path(o[key]).exists():
            raise InputError(f"--{key.replace('_path', '').replace('_', '-')} {o[key]}: no such file or folder")
    waivers = load_waivers(o["waivers_path"], set(registry.definitions()), now.date()) if o["waivers_path"] else []
    baseline = load_baseline(o["baseline_path"]) if o["baseline_path"] else None
    formats = list(dict.fromkeys(o["formats"] or ("table",)))
    notes: list[str] = []
    try:
        policy: DevicePolicy | None = load_policy(o["device_policy"]) if o["device_policy"] else None
        postures = load_postures(o["devices_path"]) if o["devices_path"] else None
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    surfaces = [Surface(s) for s in o["surfaces_opt"]] or None
    want_config = surfaces is None or Surface.CONFIG in surfaces or Surface.ENDPOINT in surfaces
    settings = _settings(ctx, notes) if want_config else None
    app = _app(ctx, settings, o["app_factory"], notes) if want_config else None
    if postures is None and (surfaces is None or Surface.DEVICES in surfaces):
        obj = ctx.obj if isinstance(ctx.obj, dict) else {}
        provider = obj.get("device_provider")
        if provider is not None:
            postures = provider()
        else:
            if settings is None and surfaces is not None:
                settings = _settings(ctx, notes)
            if settings is not None:
                postures = _db_postures(settings, notes)

    from compliance.surfaces.data import DataSource, data_source_from_settings
    from compliance.surfaces.endpoint import EndpointOptions

    data: DataSource | None = None
    if settings is not None and (surfaces is None or Surface.DATA in surfaces):
        url = str(settings.database.url)
        db_file = url.split(":///", 1)[-1] if url.startswith("sqlite") else None
        if db_file and not Path(db_file).is_file():
            notes.append("data: the SQLite database file does not exist")
        else:
            data = data_source_from_settings(settings, now)

    inputs = Inputs(
        settings=settings,
        app=app,
        url=o["url"],
        endpoint=EndpointOptions(
            url=o["url"] or "",
            ca_file=o["ca_file"],
            login_path=o["login_path"],
            protected_paths=tuple(o["protected_paths"]),
            **_signing(o["signing_key"]),
        )
        if o["url"]
        else None,
        advisories=o["advisories"],
        lock_file=o["lock_file"],
        devices=postures,
        device_policy=policy,
        data=data,
        now=now,
    )
    try:
        report = asyncio.run(run(inputs, surfaces))
    except ValueError as exc:  # malformed data files surface here (advisories, ...)
        raise InputError(str(exc)) from exc
    report.notes = (*notes, *report.notes)
    report = apply_waivers(report, waivers)
    _write(report, formats, o["output"])
    failing = gate(report, Severity(o["fail_on"]), baseline if o["new_only"] else None)
    return EXIT_FAILURES if failing else EXIT_OK


def _signing(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"--signing-key {path.name}: not a readable unencrypted PEM private key") from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        algorithm = "ES256"
    else:
        raise InputError(f"--signing-key {path.name}: only Ed25519 and P-256 keys are supported")
    return {"signing_key": key, "signing_kid": path.stem, "signing_algorithm": algorithm}


def _write(report: Report, formats: list[str], output: Path | None) -> None:
    for fmt in formats:
        text = render(report, fmt)
        if output is None:
            click.echo(text, nl=False)
            continue
        target = output if len(formats) == 1 else output.with_name(f"{output.name}.{EXTENSIONS[fmt]}")
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {target.name}: {exc.strerror}") from exc


@compliance.command("controls")
@click.option("--framework", type=click.Choice(list(frameworks())), help="Show one framework's requirements.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def controls_cmd(framework: str | None, fmt: str) -> None:
    """List the checks and their framework mappings (or one framework's requirements and coverage)."""
    defs = registry.definitions()
    if framework is None:
        rows = [
            {
                "id": c.id,
                "surface": c.surface.value,
                "severity": c.severity.value,
                "title": c.title,
                "references": list(c.references),
            }
            for c in defs.values()
        ]
        if fmt == "json":
            click.echo(msgspec.json.format(msgspec.json.encode(rows).decode(), indent=2))
            return
        for r in rows:
            click.echo(f"{r['id']:8} {r['surface']:12} {r['severity']:8} {r['title']}")
            click.echo(f"{'':30}{', '.join(r['references'])}")
        return
    fw = frameworks()[framework]
    mapping = checks_by_ref()
    rows = [
        {
            "id": q.id,
            "title": q.title,
            "group": q.group,
            "checks": sorted(mapping.get(fw.ref(q.id), [])),
            "caf": list(q.caf),
        }
        for q in fw.requirements
    ]
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(rows).decode(), indent=2))
        return
    click.echo(f"{fw.title} {fw.version}: {len(rows)} requirements")
    for r in rows:
        covered = ", ".join(r["checks"]) or ("via CAF " + ", ".join(r["caf"]) if r["caf"] else "MANUAL")
        click.echo(f"{r['id']:8} {r['title'][:70]:70} {covered}")


@compliance.command("devices")
@click.option("--devices", "devices_path", type=click.Path(path_type=Path), help="Device postures JSON file.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path), help="Device policy TOML file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def devices_cmd(ctx: click.Context, devices_path: Path | None, policy_path: Path | None, fmt: str) -> None:
    """List the fleet against the device policy (postures from a provider hook or --devices FILE)."""
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    try:
        policy = load_policy(policy_path) if policy_path else load_policy()
        provider: Callable[[], list[Any]] | None = obj.get("device_provider")
        if devices_path is not None:
            postures = load_postures(devices_path)
        elif provider is not None:
            postures = provider()
        else:
            notes: list[str] = []
            settings = _settings(ctx, notes)
            found = _db_postures(settings, notes) if settings is not None else None
            if found is None:
                _die("no devices: give --devices FILE (" + "; ".join(notes or ["no settings"]) + ")", EXIT_USAGE)
            postures = found
        now = datetime.now(UTC)
        judged = [evaluate_device(p, policy, now) for p in postures]
    except (ValueError, PolicyNotInForceError) as exc:
        _die(str(exc), EXIT_USAGE)
    summary = fleet_summary(judged)
    if fmt == "json":
        doc = {"policy_version": policy.version, "devices": judged, "summary": summary}
        click.echo(msgspec.json.format(msgspec.json.encode(doc).decode(), indent=2))
        return
    click.echo(f"device policy v{policy.version} ({policy.status.value}, effective {policy.effective_from})")
    for d in judged:
        click.echo(
            f"{d.device_id:24} {d.platform:8} {d.os_version or '-':10} {d.state.value:14} {'; '.join(d.reasons)}"
        )
    o = summary.overall
    click.echo(f"\n{o.compliant}/{o.total} compliant ({o.percent_compliant}%), {o.no_data} without data")
    for name, share in summary.by_platform.items():
        click.echo(f"  {name:10} {share.compliant}/{share.total} ({share.percent_compliant}%)")
    for name, share in summary.by_os_version.items():
        click.echo(f"  {name:20} {share.compliant}/{share.total} ({share.percent_compliant}%)")
