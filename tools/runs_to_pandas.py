#!/usr/bin/env python3
"""Loads a folder of nanolab runs into pandas DataFrames, for analysis in Python.

Reads the run.h5 files directly with h5py (layout: docs/run-format.md); nanolab need not be
installed. One row per logged point: `load_runs(folder, "train")` gives the columns step, loss, lr,
grad_norm, tokens_per_s, elapsed_s; `"val"` gives step, loss, train_loss, accuracy. Each row also
carries the run's experiment, run name, status, path and its flat configuration keys
("optimizer.lr"). Not a writer and not a replacement for `nanolab compare`.

    python3 tools/runs_to_pandas.py runs/ [--metrics train|val] [--csv OUT.csv]
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
        group = f["metrics/" + metrics]
        # A run still being written: every column to the length of its step column, cut at the
        # first unwritten step (-1), as docs/run-format.md says.
        n = min(len(group[name]) for name in group)
        columns = {name: group[name][:n] for name in group}
        step = columns["step"]
        written = (step >= 0).argmin() if (step < 0).any() else n
        frame = pd.DataFrame({name: values[:written] for name, values in columns.items()})
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
    return pd.concat([read_run(p, metrics) for p in paths], ignore_index=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--metrics", choices=["train", "val"], default="val")
    parser.add_argument("--csv", help="write the DataFrame here instead of printing a summary")
    args = parser.parse_args()
    frame = load_runs(args.folder, args.metrics)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    else:
        print(frame.groupby("run")["loss"].min().to_string())


if __name__ == "__main__":
    sys.exit(main())
