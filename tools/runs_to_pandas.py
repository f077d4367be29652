#!/usr/bin/env python3
"""Loads a folder of nanolab runs into pandas DataFrames, for analysis in Python.

Reads the run.h5 files directly with h5py (layout: docs/run-format.md); nanolab need not be
installed. One row per logged point of a group of /metrics: `load_runs(folder, "train")` gives the
columns step, loss, lr, grad_norm, tokens_per_s, elapsed_s (and, with train.diagnostics,
grad_norm.h.0, update_ratio.h.0...); `"val"` gives step, loss, train_loss, accuracy; a group of
recorded metrics ("loss", "attention", "optimizer") gives step and one column per name, NaN where a
name was not recorded at that step. A run without the group adds no row. Each row also carries the
run's experiment, run name, status, path and its flat configuration keys ("optimizer.lr"). Not a
writer and not a replacement for `nanolab compare`.

    python3 tools/runs_to_pandas.py runs/ [--metrics GROUP] [--csv OUT.csv]
Debian: apt-get install python3-h5py python3-pandas
"""
import argparse
import pathlib
import sys
import tomllib

import h5py
import pandas as pd


def flat_config(toml_text):
    """The resolved TOML as dotted key -> value, as `nanolab compare` shows it."""
    out = {}

    def walk(table, prefix):
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value, prefix + key + ".")
            else:
                out[prefix + key] = value
    walk(tomllib.loads(toml_text), "")
    return out


def read_run(path, metrics):
    with h5py.File(path, "r") as f:
        if "metrics/" + metrics not in f:
            return None
        group = f["metrics/" + metrics]
        # A run still being written: every column to the length of its step column, cut at the
        # first unwritten step (-1), as docs/run-format.md says.
        n = min(len(group[name]) for name in group)
        columns = {name: group[name][:n] for name in group}
        step = columns["step"]
        written = (step >= 0).argmin() if (step < 0).any() else n
        frame = pd.DataFrame({name: values[:written] for name, values in columns.items()})
        frame.attrs["metrics"] = list(columns)
        info = {"experiment": f.attrs["experiment"], "run": f.attrs["run"],
                "status": f.attrs["status"], "path": str(path)}
        info.update(flat_config(f["config"].asstr()[()]))
    for key, value in info.items():
        frame[key] = value if not isinstance(value, list) else str(value)
    return frame


def load_runs(folder, metrics="val"):
    """Every run.h5 under `folder` (searched recursively) in one DataFrame."""
    paths = sorted(pathlib.Path(folder).rglob("run.h5"))
    if not paths:
        raise SystemExit(f"runs_to_pandas: no run.h5 under {folder}")
    frames = [frame for frame in (read_run(p, metrics) for p in paths) if frame is not None]
    if not frames:
        raise SystemExit(f"runs_to_pandas: no run under {folder} has /metrics/{metrics}")
    frame = pd.concat(frames, ignore_index=True)
    # The group's columns (step and the metrics), apart from the run's and its config's.
    frame.attrs["metrics"] = sorted({n for f in frames for n in f.attrs["metrics"]})
    return frame


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--metrics", default="val", metavar="GROUP",
                        help="a group of /metrics: train, val, loss, attention, optimizer")
    parser.add_argument("--csv", help="write the DataFrame here instead of printing a summary")
    args = parser.parse_args()
    frame = load_runs(args.folder, args.metrics)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    else:
        # The best loss of each run, or the last value of each recorded metric.
        names = frame.attrs.get("metrics", [])
        print(frame.groupby("run")["loss"].min().to_string() if "loss" in names
              else frame.groupby("run")[[n for n in names if n != "step"]].last().to_string())


if __name__ == "__main__":
    sys.exit(main())
