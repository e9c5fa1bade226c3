"""The ``biometrics`` command group: compare two photos, evaluate error rates over pairs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from biometrics.cli import biometrics
from biometrics.evaluation import Pair, evaluate
from biometrics.schemas import ImageAnalysis, Reason
from tests.biometrics.conftest import photo_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(biometrics, list(args))
    return result.exit_code, result.output


def test_compare_prints_distance_band_and_findings_as_json() -> None:
    code, output = run("compare", str(photo_path("obama.jpg")), str(photo_path("biden.jpg")), "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["band"] == "REJECT"
    assert report["distance"] > 0.6
    assert report["policy"] == {"version": report["policy"]["version"], "accept": 0.5, "refer": 0.6}
    assert [image["reasons"] for image in report["images"]] == [[], []]
    assert "encoding" not in output


def test_compare_in_text_names_the_band() -> None:
    code, output = run("compare", str(photo_path("obama.jpg")), str(photo_path("obama2.jpg")))
    assert code == 0, output
    assert "band: ACCEPT" in output


def test_compare_with_a_missing_file_is_one_readable_error() -> None:
    code, output = run("compare", "no-such-photo.jpg", str(photo_path("obama.jpg")))
    assert code != 0
    assert "cannot read no-such-photo.jpg" in output
    assert "Traceback" not in output


def test_eval_reports_counts_outcomes_and_thresholds_as_one_json_object(tmp_path: Path) -> None:
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        shutil.copyfile(photo_path(name), tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(
            [
                ["left", "right", "same"],
                ["obama.jpg", "obama2.jpg", "1"],
                ["obama.jpg", "broken.jpg", "1"],
                ["obama.jpg", "biden.jpg", "0"],
                ["obama2.jpg", "biden.jpg", "0"],
            ]
        )
    code, output = run("eval", "--pairs", str(pairs), "--images", str(tmp_path), "--json", "--workers", "1")
    assert code == 0, output
    report = json.loads(output)
    assert report["genuine"] == 2
    assert report["impostor"] == 2
    assert report["failed_images"] == [{"name": "broken.jpg", "reasons": ["CORRUPT"]}]
    assert report["policy"]["accept"] == 0.5
    assert report["policy"]["refer"] == 0.6
    assert report["outcomes"] == {
        "genuine": {"accepted": 1, "referred": 0, "rejected": 1},
        "impostor": {"accepted": 0, "referred": 0, "rejected": 2},
    }
    assert {"threshold", "fmr", "fnmr"} <= set(report["thresholds"][0])
    at_half = next(row for row in report["thresholds"] if row["threshold"] == 0.5)
    assert at_half["fmr"] == 0.0
    assert at_half["fnmr"] == 0.5


def test_eval_with_a_bad_header_is_one_readable_error(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b,c\nx,y,1\n")
    code, output = run("eval", "--pairs", str(pairs), "--images", str(tmp_path))
    assert code == 1
    assert output.strip() == "Error: pairs.csv: the header must be exactly 'left,right,same'"


def test_eval_with_a_missing_image_or_pairs_file_is_one_readable_error(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("left,right,same\nmissing.jpg,other.jpg,1\n")
    code, output = run("eval", "--pairs", str(pairs), "--images", str(tmp_path))
    assert code == 1
    assert output.strip() == "Error: image not found: missing.jpg"
    code, output = run("eval", "--pairs", str(tmp_path / "absent.csv"), "--images", str(tmp_path))
    assert code == 1
    assert "Traceback" not in output
    assert output.startswith("Error: cannot read")


def test_eval_refuses_image_names_leaving_the_image_directory(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("left,right,same\n../etc/passwd,b.jpg,0\n")
    code, output = run("eval", "--pairs", str(pairs), "--images", str(tmp_path / "."))
    assert code == 1
    assert "inside the image directory" in output


def _analysis(name: str, vector: np.ndarray | None) -> ImageAnalysis:
    if vector is None:
        return ImageAnalysis(sha256=name, reasons=(Reason.NO_FACE,))
    return ImageAnalysis(sha256=name, face_count=1, encoding=vector)


def test_the_threshold_for_a_target_fmr_stays_below_the_closest_impostors() -> None:
    base = np.zeros(128)

    def at(distance: float) -> np.ndarray:
        vector = np.zeros(128)
        vector[0] = distance
        return vector

    analyses = {"a": _analysis("a", base), "b": _analysis("b", at(0.4)), "c": _analysis("c", at(0.7))}
    analyses |= {"d": _analysis("d", at(0.9)), "e": _analysis("e", None)}
    pairs = [Pair("a", "b", True), Pair("a", "e", True), Pair("a", "c", False), Pair("a", "d", False)]
    report = evaluate(pairs, analyses, target_fmr=0.0)
    assert report.at_target_fmr is not None
    assert report.at_target_fmr.threshold < 0.7
    assert report.at_target_fmr.fmr == 0.0
    assert report.at_target_fmr.fnmr == 0.5  # the pair with a failed image is never accepted
    assert report.fmr_upper_bound_if_zero_errors == 1.0  # 3/N, capped: two impostor pairs prove little
    assert report.outcomes["genuine"].accepted == 1
    assert report.outcomes["genuine"].rejected == 1
