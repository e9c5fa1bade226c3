"""The README's example runs as written."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.biometrics.conftest import encode_image
from tests.biometrics.synthetic import warped

README = Path(__file__).resolve().parents[2] / "biometrics" / "README.md"


def test_the_readme_python_example_runs(
    models_ready: None, photo_bytes: Callable[[str], bytes], analysis_rgb: Callable[[str], np.ndarray]
) -> None:
    from biometrics.pipeline import analyse_image

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks
    rgb = analysis_rgb("obama.jpg")
    still = analyse_image(encode_image(rgb, quality=95))
    frames = [encode_image(rgb, quality=95), encode_image(warped(rgb, still, 0.3), quality=95)]
    for block in blocks:
        exec(block, {"enrolment_photo": photo_bytes("obama2.jpg"), "checkin_frames": frames})  # noqa: S102
