"""Benchmark a rolling-retrain LightGBM strategy on a year of 1h bars (weekly retrains, 20 features).

Ours: `quantdesk.backtest.backtest` of a `quantdesk.ml.MLStrategy` (train on the last 720 samples,
retrain every 168 bars, horizon 6, purge + embargo 2), with a fresh model cache: features computed
once as one polars/TA-Lib matrix (vectorbt's JIT warmed up first, imports done), each retrain fitting on a slice of it. Then the same backtest
again in the same process with the models' memory cleared, so every model is read back from the
disk cache (what a second `quantdesk backtest` in a new process does), and once more with the
memory cache warm.

FreqAI's documented approach, by hand with scikit-learn in the same run on the same candles:
a pandas frame with the same 20 features (recomputed on each training window plus the week it
predicts, as a strategy's feature engineering runs per window), per retrain
`train_test_split(test_size=0.33, shuffle=False)` (FreqAI's default data split), a MinMaxScaler
and the same LightGBM regressor (same hyperparameters), then predict the week; the targets go
through the same simulator. Goals (issue 27): ours >= 5x faster than the by-hand loop; the
cached run >= 50x faster than the first. Figures are printed as measured.

Run: flock /tmp/quantdesk-bench.lock .venv/bin/python bench/ml.py [--bars 8760]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

FEATURES = ("ret_1,ret_2,ret_3,ret_6,ret_12,ret_24,ret_48,logret_72,vol_6,vol_12,vol_24,vol_48,"
            "range_6,range_12,range_24,range_48,volz_12,volz_24,hl_range,body")
PARAMS = {"features": FEATURES, "model": "lightgbm", "horizon": 6, "train_window": 720, "retrain_every": 168,
          "embargo": 2}


def _candles(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 0.008, n)
    close = 30_000.0 * np.exp(np.cumsum(shocks + 0.2 * np.convolve(shocks, np.ones(6) / 6, "full")[:n]))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n))
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    return pl.DataFrame({"ts": start + np.arange(n, dtype=np.int64) * 3_600_000, "open": open_, "high": high,
                         "low": low, "close": close, "volume": rng.uniform(1, 100, n)}).with_columns(
        pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC"))


def _pandas_features(df):  # noqa: ANN001, ANN202 - a pandas frame, as a FreqAI strategy writes them
    import numpy as np

    out = {}
    c = df["close"]
    for n in (1, 2, 3, 6, 12, 24, 48):
        out[f"ret_{n}"] = c / c.shift(n) - 1
    out["logret_72"] = np.log(c / c.shift(72))
    r = c / c.shift(1) - 1
    for n in (6, 12, 24, 48):
        out[f"vol_{n}"] = r.rolling(n).std(ddof=0)
        out[f"range_{n}"] = (df["high"].rolling(n).max() - df["low"].rolling(n).min()) / c
    for n in (12, 24):
        v = df["volume"]
        out[f"volz_{n}"] = (v - v.rolling(n).mean()) / v.rolling(n).std(ddof=0)
    out["hl_range"] = (df["high"] - df["low"]) / c
    out["body"] = (c - df["open"]) / df["open"]
    import pandas as pd

    return pd.DataFrame(out)


def freqai_by_hand(candles: pl.DataFrame) -> np.ndarray:
    """Targets the FreqAI way: per weekly retrain, features on the window, split, scale, fit, predict."""
    from lightgbm import LGBMRegressor
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    df = candles.to_pandas()
    n, h, window, every, lookback = len(df), PARAMS["horizon"], PARAMS["train_window"], PARAMS["retrain_every"], 74
    target = np.zeros(n)
    close = df["close"].to_numpy()
    for r in range(0, n, every):
        last = r - h - PARAMS["embargo"]
        first = last - window + 1
        if first - lookback < 0:
            continue
        end = min(r + every, n)
        frame = _pandas_features(df.iloc[first - lookback:end].reset_index(drop=True))
        x_all = frame.to_numpy()
        off = lookback
        x_train = x_all[off:off + window]
        y_train = close[first + h:last + h + 1] / close[first:last + 1] - 1
        x_fit, _x_test, y_fit, _y_test = train_test_split(x_train, y_train, test_size=0.33, shuffle=False)
        scaler = MinMaxScaler().fit(x_fit)
        model = LGBMRegressor(n_estimators=100, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                              random_state=0, n_jobs=1, verbose=-1, deterministic=True, force_row_wise=True)
        model.fit(scaler.transform(x_fit), y_fit)
        x_pred = x_all[off + (r - first):off + (end - first)]
        target[r:end] = np.sign(model.predict(scaler.transform(x_pred)))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=8760)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="qd-bench-ml-")
    os.environ["QUANTDESK_HOME"] = home  # a fresh model cache on disk

    import lightgbm  # noqa: F401 - imported before any timing: both sides pay no import
    import sklearn.model_selection  # noqa: F401

    from quantdesk.backtest import backtest
    from quantdesk.backtest.engine import simulate
    from quantdesk.core.costs import CostModel, MarketRules
    from quantdesk.ml import MLStrategy, default_cache
    from quantdesk.ml import features as feature_mod

    candles = _candles(args.bars)
    frames = {"BTC/USDT": candles}
    run = {"store": False, "lookahead_samples": 0, "allow_short": True, "timeframe": "1h"}

    # warm-up outside the timings: vectorbt's numba kernels compile on their first call
    backtest("sma_cross", {"BTC/USDT": _candles(500, seed=1)}, **run)

    t0 = time.perf_counter()
    first = backtest(MLStrategy, frames, params=PARAMS, **run)
    first_s = time.perf_counter() - t0
    trained = default_cache().stats.trained

    default_cache().clear_memory()
    feature_mod._MEMO.clear()  # as a new process would: features recomputed, models read from disk
    t0 = time.perf_counter()
    second = backtest(MLStrategy, frames, params=PARAMS, **run)
    disk_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    third = backtest(MLStrategy, frames, params=PARAMS, **run)
    memory_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    targets = freqai_by_hand(candles)
    simulate(frames, targets[:, None], cost=CostModel(), rules=MarketRules(), initial_cash=10_000.0,
             allow_short=True, timeframe="1h", rebalance=False)
    freqai_s = time.perf_counter() - t0

    print(json.dumps({
        "bench": "ml_rolling_retrain", "bars": args.bars, "features": len(FEATURES.split(",")),
        "retrains": first.extra["ml"]["retrains"], "models_trained": trained,
        "ours_first_s": round(first_s, 3), "ours_cached_disk_s": round(disk_s, 3),
        "ours_cached_memory_s": round(memory_s, 3), "freqai_by_hand_s": round(freqai_s, 3),
        "speedup_vs_freqai_by_hand": round(freqai_s / first_s, 2),
        "speedup_cached_disk_vs_first": round(first_s / disk_s, 1),
        "speedup_cached_memory_vs_first": round(first_s / memory_s, 1),
        "cached_runs_identical": second.metrics == first.metrics and third.metrics == first.metrics,
        "goals": {"vs_freqai_by_hand": 5.0, "cached_vs_first": 50.0},
    }, indent=2))


if __name__ == "__main__":
    main()
