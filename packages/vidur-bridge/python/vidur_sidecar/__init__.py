"""vidur_sidecar: runs the PyPI `vidur` simulator for @vf/vidur-bridge, one simulation per process.

It registers a model built from a Hugging Face config.json and device/node SKUs Vidur lacks, points the
execution-time predictor at local profile CSVs (the PyPI release would download them from the HF hub),
records every batch end and every output token, then calls Vidur's own entry point. It never edits Vidur's
files; everything is done by subclassing and by wrapping methods at runtime. It is not installed: the
TypeScript side runs `python -m vidur_sidecar --spec spec.json` with this folder on PYTHONPATH.
"""
