"""``ems report`` on the SQLite store: a PDF file from the edge YAML's tariff, and bad input
answered with a message and exit status 2."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import yaml
from report_site_data import MARCH_START_S, rows, samples, tariff_config

from ems.cli import main
from ems.cloud.telemetry import SqliteTelemetryStore


def edge_yaml(folder: Path) -> Path:
    demo = Path(__file__).parents[3] / "src/ems/edge/sites/demo.yaml"
    body = yaml.safe_load(demo.read_text(encoding="utf-8"))
    body["tariff"] = tariff_config().model_dump(by_alias=True, exclude_none=True)
    path = folder / "edge.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


async def fill(data_dir: Path) -> None:
    store = SqliteTelemetryStore(data_dir / "telemetry.sqlite3")
    await store.start()
    await store.write(rows(samples(MARCH_START_S, MARCH_START_S + 86_400)))
    await store.close()


def test_a_pdf_from_the_edge_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    asyncio.run(fill(data_dir))
    out = tmp_path / "day.pdf"
    args = ["report", "--config", str(edge_yaml(tmp_path)), "--period", "day"]
    args += ["--start", "2026-03-01", "--data-dir", str(data_dir), "--format", "pdf"]
    assert main([*args, "--out", str(out), "--threshold-w", "2500"]) == 0
    pdf = pdfium.PdfDocument(out.read_bytes())
    text = " ".join(pdf[0].get_textpage().get_text_range().split())
    assert "site-1" in text and "Europe/Berlin" in text and "money in EUR" in text
    assert "Flat threshold 2500 W" in text
    pdf.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2026-02-30"], "--start '2026-02-30': expected a date"),
        (["--start", "2026-03-01", "--data-dir", "/nonexistent"], "no telemetry store at"),
        (["--start", "2026-03-01", "--carbon-g-per-kwh", "-1"], "report options:"),
    ],
)
def test_bad_input_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["report", "--config", str(edge_yaml(tmp_path)), "--period", "month", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
