"""Exporters: a recording in the formats researchers' tools read.

* :mod:`.bids` — BIDS, one subject per person of the dyad: physio
  (``*_physio.tsv.gz`` + JSON per rate group), EEG (:mod:`.bids_eeg`),
  ``*_events.tsv`` (:mod:`.bids_events`), ``participants.tsv`` and the dataset
  files (:mod:`.bids_dataset`), the measures in ``derivatives/dyadscope``
  (:mod:`.bids_derivatives`);
* :mod:`.tables` — one CSV or Parquet table per stream and per kind of measure;
* :mod:`.report` — a figure of the session (PNG and PDF).

Each takes a loaded :class:`~dyadscope.xdf.reader.Recording`, an output
folder and an optional ``progress`` wrapper (e.g. ``tqdm``), and returns the
paths it wrote. They need the ``export`` extra (pandas, pyarrow, matplotlib; pybv for EEG).
"""
