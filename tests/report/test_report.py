"""report.html of the demo's curated run: one self-contained page with every stage, that a browser renders."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest


def test_report_is_one_self_contained_file_with_every_stage(demo):
    page = demo.report.read_text()
    for section in (
        "Did curation pay?",
        "Data: what went in",
        "Splits",
        "Training",
        "Evaluation: base model against the fine-tuned one",
        "Sample generations",
    ):
        assert section in page
    assert "refusal" in page and "placeholder_answer" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from a network
    assert 'src="data:image/png;base64,' in page  # the curves are inside the file
    assert "<script" not in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium (Debian's chromium package) is not installed")
def test_report_renders_in_headless_chromium(demo, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            demo.report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    img = Image.open(shot).convert("L")
    assert img.size == (1200, 2400)
    dark = sum(1 for p in img.getdata() if p < 128)
    assert dark > 20_000  # text, tables and the loss curves, not a blank page
