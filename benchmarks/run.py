"""Run every benchmark, each in its own process, and report its peak memory.

    python benchmarks/run.py [--quick] [NAME ...]

Each ``benchmarks/bench_<name>.py`` prints its own table of costs and of
ratios against its reference, measured side by side in the same run (shared,
noisy machines make absolute times meaningful only side by side). This runner
adds the peak resident memory of each benchmark's process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test of the benchmarks)")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. ecg physio")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
        if not scripts:
            parser.error(f"no benchmark named {' '.join(args.names)}")
    failed = []
    summary = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child: become the benchmark, so its rusage is its own
            os.execv(cmd[0], cmd)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        peak_mib = usage.ru_maxrss / 1024  # Linux reports KiB
        summary.append((script.stem, elapsed, peak_mib, code))
        if code:
            failed.append(script.stem)
    print("\n=== summary ===")
    print(f"{'benchmark':<22}{'wall s':>9}{'peak MiB':>11}  status")
    for name, elapsed, peak, code in summary:
        print(f"{name:<22}{elapsed:>9.1f}{peak:>11.1f}  {'ok' if code == 0 else f'exit {code}'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
