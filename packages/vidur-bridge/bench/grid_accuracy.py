"""Benchmark: accuracy and training-time cost of the pinned forest grid vs Vidur's default 27-point grid.

For each op model Vidur 0.0.26 trains (same features, targets, MAPE scorer and GridSearchCV as
`SklearnExecutionTimePredictor._train_model`), it fits the pinned grid (one candidate, seeded, 2-fold CV) and
the full grid (27 candidates, 10-fold CV or 2 when < 10 rows), then reports their training MAPE, the relative
difference of their predictions on the profile's own feature points, and the fit wall time.
Usage: `.venv/bin/python packages/vidur-bridge/bench/grid_accuracy.py PROFILE_DIR [N_JOBS] [OP,OP,...]`
(PROFILE_DIR holds mlp.csv and attention.csv for one model, TP=1; OPs restrict the models fitted).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    err = np.zeros_like(y_true)
    nz = y_true != 0
    err[nz] = np.abs((y_true[nz] - y_pred[nz]) / y_true[nz]) * 100
    err[~nz] = np.where(y_pred[~nz] == 0, 0, 100)
    return float(np.mean(err))


def fit(x: pd.DataFrame, y: pd.Series, grid: dict, folds: int, seed: int | None, jobs: int) -> tuple[object, float]:
    cv = 2 if len(x) < folds else folds
    gs = GridSearchCV(
        RandomForestRegressor(random_state=seed),
        grid,
        scoring=make_scorer(mape, greater_is_better=False),
        cv=cv,
        n_jobs=jobs,
    )
    t0 = time.perf_counter()
    gs.fit(x, y)
    return gs.best_estimator_, time.perf_counter() - t0


def main() -> None:
    prof = sys.argv[1]
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    mlp = pd.read_csv(f"{prof}/mlp.csv").drop_duplicates()
    attn = pd.read_csv(f"{prof}/attention.csv").drop_duplicates()
    attn["num_tokens"] = attn[["prefill_chunk_size", "batch_size"]].max(axis=1)
    tasks = [
        (op, mlp, ["num_tokens"])
        for op in (
            "attn_pre_proj",
            "attn_post_proj",
            "mlp_up_proj",
            "mlp_down_proj",
            "mlp_act",
            "input_layernorm",
            "post_attention_layernorm",
            "attn_rope",
            "add",
        )
    ]
    tasks.append(("attn_kv_cache_save", attn, ["num_tokens"]))
    tasks.append(("attn_prefill", attn[attn["prefill_chunk_size"] > 0], ["kv_cache_size", "prefill_chunk_size"]))
    tasks.append(("attn_decode", attn[attn["prefill_chunk_size"] == 0], ["batch_size", "kv_cache_size"]))
    if len(sys.argv) > 3:
        wanted = set(sys.argv[3].split(","))
        tasks = [t for t in tasks if t[0] in wanted]
    pinned = {"n_estimators": [250], "max_depth": [32], "min_samples_split": [2]}
    full = {"n_estimators": [250, 500, 750], "max_depth": [8, 16, 32], "min_samples_split": [2, 5, 10]}
    tot_p = tot_f = 0.0
    print(f"profile={prof} n_jobs={jobs}")
    print("op rows pinned_mape% full_mape% pred_rel_diff_median pred_rel_diff_max pinned_fit_s full_fit_s")
    for op, df, feats in tasks:
        col = f"time_stats.{op}.median"
        d = df.fillna({col: 0})
        x, y = d[feats], d[col]
        mp, tp = fit(x, y, pinned, 2, 0, jobs)
        mf, tf = fit(x, y, full, 10, 0, jobs)
        pp, pf = mp.predict(x), mf.predict(x)
        rel = np.abs(pp - pf) / np.where(pf == 0, 1, np.abs(pf))
        tot_p += tp
        tot_f += tf
        print(f"{op} {len(d)} {mape(y, pp):.2f} {mape(y, pf):.2f} {np.median(rel):.4f} {rel.max():.4f} {tp:.1f} {tf:.1f}")
    print(f"total_fit_s pinned={tot_p:.1f} full={tot_f:.1f} ratio={tot_f / max(tot_p, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
