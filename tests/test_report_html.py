"""The HTML report of a run with every kind of section (runtime sweeps with a crossover,
optimisation variants, pipelines, A/B) opens in headless Chromium without console errors,
draws every chart, and shows the same tables as the markdown report."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from onnxbench.report import write_reports
from report_fixtures import PIPELINE_AXES, make_run, optim_results, pipeline_results
from test_html_browser import CHROMIUM, load_page, not_blank


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, Path]:
    run = make_run(tmp_path_factory.mktemp("full"), repeats=2, ab_axes=PIPELINE_AXES,
                   extra=optim_results() + pipeline_results())
    md, page = write_reports(run)
    return md, page


def test_html_has_the_markdown_tables(written):
    md, page = (p.read_text(encoding="utf-8") for p in written)
    titles = re.findall(r"^#{2,3} (.+)$", md, flags=re.M)
    assert "resnet18/512: end-to-end pipeline stages (medians)" in titles
    assert "moe / default: optimisations, speed-up and accuracy delta" in titles
    for title in titles:
        assert html.escape(title) in page, title
    assert md.count("\n| ") - md.count("\n| ---") <= page.count("<tr>")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None,
                    reason="headless Chromium not installed (`make browser` installs it)")
def test_full_report_opens_and_every_chart_draws(written, tmp_path):
    errors, counts, png = load_page(written[1], tmp_path)
    assert errors == [], f"console errors: {errors}"
    assert counts["charts"] >= 5 and counts["drawn"] == counts["charts"], counts
    assert not_blank(png)
