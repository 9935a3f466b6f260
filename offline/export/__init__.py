"""Exporters: a recording in the formats researchers' tools read.

* :mod:`.bids` — BIDS physiological recordings (``*_physio.tsv.gz`` + JSON per
  rate group) and ``*_events.tsv``;
* :mod:`.tables` — one CSV or Parquet table per stream and per kind of measure;
* :mod:`.report` — a figure of the session (PNG and PDF).

Each takes a loaded :class:`~dyadscope.xdf.reader.Recording`, an output
folder and an optional ``progress`` wrapper (e.g. ``tqdm``), and returns the
paths it wrote. They need the ``export`` extra (pandas, pyarrow, matplotlib).
"""
