"""CPU cost of the simulated dyad: seconds of CPU per second of dyad (all six streams).

Ours is measured as the live publisher drives it (a call every 20 ms) and as
offline work drives it (10 s per call); the reference is NeuroKit2's batch
simulators (``ecg_simulate`` with ECGSYN, ``rsp_simulate``, ``eda_simulate``)
making the same six streams at the same rates and length, in the same run.

    /work/venv/bin/python benchmarks/bench_sensors.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import neurokit2 as nk

from dyadscope.sensors.simulate import MODALITIES, SimulatedDyad


def cpu_seconds(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def ours(duration: float, step: float) -> None:
    dyad = SimulatedDyad(1)
    t = 0.0
    while t < duration:
        t = min(duration, t + step)
        dyad.advance(t)


def neurokit(duration: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in (1, 2):  # two people
            nk.ecg_simulate(duration=duration, sampling_rate=MODALITIES["ECG"][0], random_state=seed)
            nk.rsp_simulate(duration=duration, sampling_rate=MODALITIES["RSP"][0], random_state=seed)
            nk.eda_simulate(duration=duration, sampling_rate=MODALITIES["EDA"][0], scr_number=4, random_state=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s of dyad instead of 120 s")
    duration = 20 if parser.parse_args().quick else 120
    reference = cpu_seconds(lambda: neurokit(duration)) / duration
    rows = [
        ("ours, live (20 ms calls)", cpu_seconds(lambda: ours(duration, 0.02)) / duration),
        ("ours, offline (10 s calls)", cpu_seconds(lambda: ours(duration, 10.0)) / duration),
        ("NeuroKit2 simulators (batch)", reference),
    ]
    print(f"simulated dyad, {duration:g} s, 6 streams (2 x ECG 500 Hz, RSP 50 Hz, EDA 32 Hz)")
    print(f"{'generator':30s} {'CPU ms per dyad-second':>24s} {'vs NeuroKit2':>13s} {'dyads per core':>15s}")
    for name, cost in rows:
        print(f"{name:30s} {cost * 1e3:24.3f} {cost / reference:13.3f} {1.0 / cost:15.0f}")


if __name__ == "__main__":
    main()
