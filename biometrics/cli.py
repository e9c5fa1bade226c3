"""``biometrics`` command group (mounted by the application as ``emon biometrics``)."""

from __future__ import annotations

import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import click
import msgspec
import numpy as np

from biometrics import evaluation, matching
from biometrics.pipeline import analyse_image, provenance
from biometrics.policy import DEFAULT_POLICY
from biometrics.schemas import ImageAnalysis, to_loggable


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None


def _findings(analysis: ImageAnalysis) -> str:
    if not analysis.reasons:
        return "ok"
    return ", ".join(str(reason) for reason in analysis.reasons)


@click.group(name="biometrics")
def biometrics() -> None:
    """Face verification tools: compare two photos, evaluate error rates."""


@biometrics.command()
@click.argument("first", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("second", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def compare(first: Path, second: Path, as_json: bool) -> None:
    """Distance, band and quality findings for two photos."""
    policy = DEFAULT_POLICY
    analyses = [analyse_image(_read(path), policy) for path in (first, second)]
    distance = band = None
    if all(a.encoding is not None for a in analyses):
        first_encoding, second_encoding = analyses[0].encoding, analyses[1].encoding
        distance = round(float(np.linalg.norm(first_encoding - second_encoding)), 4)  # type: ignore[operator]
        band = matching.band(distance, policy).value if all(a.usable for a in analyses) else "REJECT"
    if as_json:
        click.echo(
            _json(
                {
                    "distance": distance,
                    "band": band,
                    "policy": {
                        "version": policy.version,
                        "accept": policy.accept_distance,
                        "refer": policy.refer_distance,
                    },
                    "images": [
                        {"name": path.name, **to_loggable(analysis)}
                        for path, analysis in zip((first, second), analyses, strict=True)
                    ],
                    "provenance": to_loggable(provenance(policy)),
                }
            )
        )
        return
    for path, analysis in zip((first, second), analyses, strict=True):
        click.echo(f"{path.name}: {_findings(analysis)}")
        if analysis.measures is not None:
            m = analysis.measures
            click.echo(
                f"  inter-eye {m.inter_eye_px:.0f} px, yaw {m.yaw_deg:+.0f} deg, roll {m.roll_deg:+.0f} deg, "
                f"sharpness {m.sharpness:.0f}, brightness {m.mean_brightness:.0f}"
            )
    if distance is None:
        click.echo("distance: n/a (no single face in both images)")
    else:
        click.echo(
            f"distance: {distance:.4f}  band: {band}  "
            f"(accept <= {policy.accept_distance}, refer <= {policy.refer_distance})"
        )


@biometrics.command(name="eval")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--images", "images_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default: CPUs, max 4).")
@click.option("--target-fmr", type=click.FloatRange(0.0, 1.0), default=0.001, show_default=True)
def eval_command(pairs_path: Path, images_dir: Path, as_json: bool, workers: int | None, target_fmr: float) -> None:
    """FMR and FNMR over genuine and impostor pairs (CSV header: left,right,same)."""
    if not images_dir.is_dir():
        raise click.ClickException(f"not a directory: {images_dir}")
    try:
        pairs = evaluation.read_pairs(pairs_path, images_dir)
    except evaluation.EvaluationInputError as exc:
        raise click.ClickException(str(exc)) from None
    names = sorted({name for pair in pairs for name in (pair.left, pair.right)})
    workers = workers or min(4, os.cpu_count() or 1)
    try:
        if sys.stderr.isatty():
            with click.progressbar(length=len(names), label="encoding", file=sys.stderr) as bar:
                analyses = evaluation.analyse_images(names, images_dir, DEFAULT_POLICY, workers, lambda: bar.update(1))
        else:
            analyses = evaluation.analyse_images(names, images_dir, DEFAULT_POLICY, workers)
    except (BrokenProcessPool, ImportError, OSError) as exc:
        raise click.ClickException(f"encoding failed in a worker process: {exc}") from None
    report = evaluation.evaluate(pairs, analyses, DEFAULT_POLICY, target_fmr)
    if as_json:
        click.echo(_json(report))
        return
    _print_report(report)


def _print_report(report: evaluation.Report) -> None:
    click.echo(f"pairs: {report.genuine} genuine, {report.impostor} impostor; images: {report.images}")
    for failed in report.failed_images:
        click.echo(f"  failed image: {failed.name}: {', '.join(failed.reasons)}")
    policy = report.policy
    click.echo(f"shipped policy {policy['version']}: accept <= {policy['accept']}, refer <= {policy['refer']}")
    for kind, outcome in report.outcomes.items():
        click.echo(
            f"  {kind:8s} accepted {outcome.accepted:4d}  referred {outcome.referred:4d}  "
            f"rejected {outcome.rejected:4d}  (referred share {report.referred_share[kind]:.3f})"
        )
    click.echo("threshold     FMR      FNMR")
    for row in report.thresholds:
        click.echo(f"  {row.threshold:6.3f}  {row.fmr:8.4f}  {row.fnmr:8.4f}")
    if report.at_target_fmr is not None:
        row = report.at_target_fmr
        click.echo(
            f"target FMR {report.target_fmr}: threshold {row.threshold:.4f} gives FMR {row.fmr:.4f}, "
            f"FNMR {row.fnmr:.4f}"
        )
    if report.fmr_upper_bound_if_zero_errors is not None:
        click.echo(
            f"  no false match among {report.impostor} impostor pairs: FMR only bounded at "
            f"~{report.fmr_upper_bound_if_zero_errors:.4f} (rule of three)"
        )
    for kind, summary in report.distances.items():
        if summary:
            click.echo(f"{kind} distances: min {summary['min']}, median {summary['median']}, max {summary['max']}")
