"""EEG streams (a Muse headband, a BioSemi cap ...) where BIDS puts them: ``eeg/``, as BrainVision.

Per EEG stream, in the person's ``eeg/`` folder: ``<stem>_eeg.vhdr``,
``.vmrk`` and ``.eeg`` (written by pybv, float32, the samples as recorded),
``<stem>_eeg.json`` (the required keys; what a stream header cannot tell,
such as the reference or the mains frequency, is ``n/a``) and
``<stem>_channels.tsv``. Values are taken to be in the header's unit, and
in µV where it names none (what Muse and most LSL EEG apps send). Without
pybv (the ``export`` extra) EEG is left out, with one log line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dyadscope.offline.export.common import channel_columns, unit
from dyadscope.xdf.reader import RecordedStream

logger = logging.getLogger(__name__)

#: Volts per unit, for the units EEG headers give.
_VOLTS = {"V": 1.0, "volts": 1.0, "mV": 1e-3, "millivolts": 1e-3, "µV": 1e-6, "uV": 1e-6, "microvolts": 1e-6}


def is_eeg(stream: RecordedStream) -> bool:
    """Whether this is a regular EEG stream with samples."""
    info = stream.info
    return info.modality.upper() == "EEG" and info.nominal_rate > 0 and info.channel_format != "string" and len(stream)


def have_writer() -> bool:
    """Whether pybv (BrainVision writer) is installed."""
    try:
        import pybv  # noqa: F401
    except ImportError:
        return False
    return True


def _sidecar(stream: RecordedStream, task: str) -> dict[str, Any]:
    info = stream.info
    return {
        "TaskName": task,
        "SamplingFrequency": info.nominal_rate,
        "EEGReference": "n/a",
        "PowerLineFrequency": "n/a",
        "SoftwareFilters": "n/a",
        "EEGChannelCount": info.channel_count,
        "RecordingType": "continuous",
        "RecordingDuration": len(stream) / info.nominal_rate,
    }


def write_eeg(stream: RecordedStream, folder: Path, stem: str, task: str) -> list[Path]:
    """Write one EEG stream as ``<stem>_eeg.*`` and ``<stem>_channels.tsv`` into ``folder``; returns the paths."""
    from pybv import write_brainvision

    folder.mkdir(parents=True, exist_ok=True)
    names = channel_columns(stream, with_owner=False)
    units = [unit(stream, c) for c in range(stream.info.channel_count)]
    volts = np.array([_VOLTS.get(u, 1e-6) for u in units])
    data = (stream.values.astype(np.float64) * volts).T
    write_brainvision(
        data=data, sfreq=stream.info.nominal_rate, ch_names=names, fname_base=f"{stem}_eeg",
        folder_out=folder, overwrite=True, unit="µV",
    )  # fmt: skip
    sidecar = folder / f"{stem}_eeg.json"
    sidecar.write_text(json.dumps(_sidecar(stream, task), indent=2, ensure_ascii=False))
    channels = folder / f"{stem}_channels.tsv"
    pd.DataFrame({"name": names, "type": "EEG", "units": "µV"}).to_csv(channels, sep="\t", index=False)
    return [folder / f"{stem}_eeg.{ext}" for ext in ("vhdr", "vmrk", "eeg")] + [sidecar, channels]
