"""Real data: import every candle file of freqtrade's test data and check what MANIFEST.tsv records."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from quantdesk.core.errors import ImportFormatError
from quantdesk.ingest import import_file
from quantdesk.lake import Lake

pytestmark = pytest.mark.realdata

CANDLE_KINDS = {"spot", "futures", "mark", "funding_rate"}
# Files the import refuses on purpose, with the words the message must contain.
REFUSED = {
    "NOPAIR_XXX-4m.json": "empty JSON array",
    "UNITTEST_BTC-8m.json": "empty",
    "UNITTEST_BTC-8m.feather": "empty",
    "UNITTEST_BTC-8m.json.gz": "--timeframe 1m",  # 1-minute rows under an 8m name
}


def _manifest(root: Path) -> list[dict[str, str]]:
    with (root / "MANIFEST.tsv").open() as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if row["kind"] in CANDLE_KINDS]


def _missing_bars(lake: Lake, report) -> int:  # noqa: ANN001 - an ImportReport
    gaps = lake.gaps(report.symbol, report.timeframe, exchange=report.exchange)
    return int(gaps["missing_bars"].sum()) if gaps.height else 0


def test_every_manifest_candle_file_imports_as_recorded(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "freqtrade-testdata"
    rows = _manifest(root)
    assert len(rows) >= 50
    for i, row in enumerate(rows):
        lake = Lake(tmp_path / f"lake{i}")
        path = root / row["path"]
        if row["path"] in REFUSED:
            with pytest.raises(ImportFormatError, match=REFUSED[row["path"]]):
                import_file(path, lake=lake)
            assert lake.series() == [], row["path"]  # a refused file leaves the lake untouched
            continue
        report = import_file(path, lake=lake, exchange="freqtrade")
        expected = int(row["rows"])
        if row["kind"] == "funding_rate":  # rates go to the funding table, never the candles
            stored = lake.funding.read(report.symbol, exchange="freqtrade")
            assert (report.rows, stored.height, lake.series()) == (expected, expected, []), row["path"]
            assert stored["ts"][0].isoformat().replace("+00:00", "Z") == row["first_ts_utc"], row["path"]
            continue
        assert (report.rows, report.inserted, report.quarantined) == (expected, expected, 0), row[
            "path"
        ]
        assert (
            report.symbol.split("@")[0] == row["pair"] and report.timeframe == row["timeframe"]
        ), row["path"]
        assert report.first_ts.isoformat().replace("+00:00", "Z") == row["first_ts_utc"], row[
            "path"
        ]
        assert _missing_bars(lake, report) == int(row["gaps"]), row["path"]


def test_mislabelled_8m_file_imports_as_1m_when_told(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "freqtrade-testdata"
    lake = Lake(tmp_path / "lake")
    report = import_file(root / "UNITTEST_BTC-8m.json.gz", lake=lake, timeframe="1m")
    assert (report.rows, report.timeframe, _missing_bars(lake, report)) == (13_681, "1m", 717)
    again = import_file(
        root / "UNITTEST_BTC-1m.json", lake=lake
    )  # the same rows under the right name
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 13_681)


def test_gap_filled_json_matches_the_gap_dropped_feather(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "freqtrade-testdata"
    filled = import_file(root / "XRP_ETH-1m.json", lake=Lake(tmp_path / "a"))
    assert (filled.rows, filled.filler_rows) == (3_560, 1_091)
    lake = Lake(tmp_path / "b")
    dropped = import_file(root / "XRP_ETH-1m.json", lake=lake, drop_fillers=True)
    assert (dropped.rows, _missing_bars(lake, dropped)) == (2_469, 1_091)
    feather = import_file(root / "XRP_ETH-1m.feather", lake=lake)
    assert (feather.inserted, feather.updated, feather.unchanged) == (0, 0, 2_469)


def test_mark_candles_without_volume_are_stored_apart(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "freqtrade-testdata" / "futures"
    lake = Lake(tmp_path / "lake")
    mark = import_file(root / "XRP_USDT_USDT-1h-mark.json", lake=lake)
    futures = import_file(root / "XRP_USDT_USDT-1h-futures.json", lake=lake)
    assert (mark.symbol, futures.symbol) == ("XRP/USDT:USDT@mark", "XRP/USDT:USDT")
    assert any("NaN" in note for note in mark.notes) and futures.inserted == 100
