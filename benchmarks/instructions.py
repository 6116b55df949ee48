"""Count the instructions smreport and the floor execute, where timings cannot be trusted.

    python benchmarks/instructions.py [--notes 500] [--work /tmp/smreport-instructions]

Runs a single-process cold build (`--jobs 1 --no-cache`) and the floor on the
same generated notes under valgrind's cachegrind (`apt-get install valgrind`),
and prints the instructions each executed, in millions, and their ratio.
Unlike wall or CPU time on this machine, which swing by 20-40 % within
minutes, the count is the same from run to run (to about 0.1 %), so a change
of 1-3 % is seen in one run instead of dozens of alternating ones. It counts
work, not time: a cache miss or a blocking pipe costs no instruction, and the
parallel build is left out. Under valgrind a build runs about 50 times slower:
500 notes take about a minute each way.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402
from run import ENV  # noqa: E402 - without PYTHONDONTWRITEBYTECODE, as users run smreport

_TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions_in(report: str) -> int:
    """The total instruction count from cachegrind's summary ('I refs: 1,234,567')."""
    match = _TOTAL.search(report)
    if match is None:
        raise ValueError("no 'I refs' line in valgrind's output: " + report[-500:])
    return int(match.group(1).replace(",", ""))


def count(command: list[str]) -> int:
    """Instructions executed by `command` (and nothing it starts: one process)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    done = subprocess.run([valgrind, "--tool=cachegrind", "--cache-sim=no",
                           "--cachegrind-out-file=/dev/null", *command],
                          capture_output=True, text=True, cwd=REPO, env=ENV, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return instructions_in(done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--work", type=Path, default=Path("/tmp/smreport-instructions"))
    args = parser.parse_args()
    content = generate(args.work / "content", args.notes)
    python = os.path.realpath(sys.executable)  # valgrind must see Python, not a shim
    subprocess.run([python, "-m", "compileall", "-q", str(REPO / "smreport")], check=True,
                   env=ENV, stdout=subprocess.DEVNULL)
    for out in ("site", "floor"):
        shutil.rmtree(args.work / out, ignore_errors=True)
    build = count([python, "-m", "smreport", "build", "--content", str(content), "--out",
                   str(args.work / "site"), "--today", "2026-11-26", "--no-cache",
                   "--jobs", "1"])
    floor = count([python, str(HERE / "floor.py"), str(content), str(args.work / "floor")])
    print(f"{args.notes} notes, one process, instructions executed (valgrind cachegrind)")
    print(f"smreport build --jobs 1 --no-cache: {build / 1e6:,.0f} M")
    print(f"floor:                              {floor / 1e6:,.0f} M")
    print(f"ratio:                              {build / floor:.3f}")


if __name__ == "__main__":
    main()
