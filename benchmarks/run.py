"""Measure smreport against the Python floor, as ratios in one run.

    python benchmarks/run.py [--notes 5000] [--edits 20] [--work /tmp/smreport-bench]

Prints: the floor (1 and 2 processes), cold full build, warm full build
(nothing changed), `check` alone, a one-note edit under --watch (median and
95th percentile from the file write to the edited page updated, and to the
whole site updated; the round with the lowest median of `--repeat` rounds of `--edits`
edits), a one-note edit then a `build` without --watch into the site it built
before (`--rebuilds` a round: median and slowest), peak memory, and side by side
(when installed) a cold build with the cmark-gfm backend and Hugo on the same notes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

# A user's installation has bytecode caches; this sandbox sets PYTHONDONTWRITEBYTECODE,
# which would make every measured process compile smreport from source first.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path = REPO) -> tuple[dict[str, float], str]:
    """Run a whole command as a user would; its wall time from start to exit, its CPU
    time and peak memory (`os.wait4`: the process's, with its waited-for workers' time;
    the process's or any worker's peak, whichever is higher) and its output. Every tool
    is measured so, the floor and Hugo included."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=cwd,
                                   env=ENV)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}):\n{text}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024}, text


def measure(*args: str) -> dict[str, float]:
    """`smreport ARGS`, the installed command's own entry point (`python -m smreport`)."""
    return timed([sys.executable, "-m", "smreport", *args])[0]


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fastest of some runs (the machine's other load only ever adds time), with the
    highest peak memory seen in any of them."""
    fastest = dict(min(runs, key=lambda r: r["wall"]))
    fastest["peak_mib"] = max(r["peak_mib"] for r in runs)
    return fastest


def floor(content: Path, out: Path, jobs: int) -> dict[str, float]:
    return timed([sys.executable, str(HERE / "floor.py"), str(content), str(out),
                  "--jobs", str(jobs)])[0]


def watch_edits(content: Path, out: Path, edits: int) -> list[tuple[float, float]]:
    """Per edit, seconds from writing a note to (its page holding the new text, the whole
    site updated: the watcher's "Rebuilt" line)."""
    env = {**ENV, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "build.py"), "--watch", "--content", str(content),
         "--out", str(out), "--today", "2026-11-26"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Watching"):
            break
    rebuilt: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()

    def read_lines() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(("Rebuilt", "Problems")):
                rebuilt.put((time.perf_counter(), line.strip()))
    threading.Thread(target=read_lines, daemon=True).start()
    note = edited_goal(content)
    page = out / "goals" / note.stem / "index.html"
    original = note.read_text(encoding="utf-8")
    timings = []
    try:
        for number in range(edits):
            marker = f"Edited title number {number}"
            text = retitled(original, marker)
            started = time.perf_counter()
            note.write_text(text, encoding="utf-8")
            deadline = started + 30
            page_seen = deadline
            while time.perf_counter() < deadline:
                try:
                    if marker in page.read_text(encoding="utf-8"):
                        page_seen = time.perf_counter()
                        break
                except OSError:
                    pass
                time.sleep(0.002)
            site_done, _line = rebuilt.get(timeout=30)
            timings.append((page_seen - started, site_done - started))
            time.sleep(0.3)
            if not rebuilt.empty():  # a second rebuild for one save would show here
                raise SystemExit(f"one save gave more than one rebuild: {rebuilt.get()[1]}")
    finally:
        note.write_text(original, encoding="utf-8")
        process.terminate()
        process.wait(timeout=30)
    return timings


def rebuild_edits(content: Path, work: Path, edits: int) -> list[float]:
    """Seconds for `smreport build` after a one-note edit, into the site it built before,
    with its cache (the shards, the spare and its page keys): a build after builds, as a
    team member runs it. The content is reached through a link of its own, so this
    series has a cache of its own that the cold builds' deleting leaves alone. The
    first three builds (a first round's only) bring the cache up: the third is the
    first to find a spare with page keys."""
    root = work / "rebuild"
    root.mkdir(exist_ok=True)
    link, out = root / "content", root / "site"
    if not link.is_symlink():
        link.symlink_to(content, target_is_directory=True)
    warm_up = 0 if (root / ".smreport-cache").is_dir() else 3
    note = edited_goal(content)
    page = out / "goals" / note.stem / "index.html"
    original = note.read_text(encoding="utf-8")
    times = []
    try:
        for number in range(warm_up + edits):
            marker = f"Rebuilt title number {number}"
            note.write_text(retitled(original, marker), encoding="utf-8")
            figures = measure("build", "--content", str(link), "--out", str(out), "--today",
                              "2026-11-26")
            if marker not in page.read_text(encoding="utf-8"):
                raise SystemExit(f"the rebuild after edit {number} missed {note.name}")
            if number >= warm_up:
                times.append(figures["wall"])
    finally:
        note.write_text(original, encoding="utf-8")
    return times


def retitled(note: str, title: str) -> str:
    """A goal's text with `title` for its title (the old one kept as a comment)."""
    return note.replace("title: ", f'title: "{title}"\n# was: ', 1)


def edited_goal(content: Path) -> Path:
    """The goal the --watch edits retitle: the middle one, or the next whose title no change
    sets (an approved change's `set: title` is what its page would show instead)."""
    retitled = set()
    for change in (content / "changes").glob("*.md"):
        text = change.read_text(encoding="utf-8")
        goal = re.search(r"^goal: (\S+)$", text, re.MULTILINE)
        if goal and re.search(r"^set:\n(?:  .*\n)*?  title:", text, re.MULTILINE):
            retitled.add(goal.group(1))
    goals = sorted((content / "goals").glob("*.md"))
    middle = len(goals) // 2
    return next(g for g in goals[middle:] + goals[:middle] if g.stem not in retitled)


# What the stripped Hugo leaves out. Hugo's defaults add an RSS feed of each section and of
# the home page (every note's text in each: Hugo's rssLimit is unlimited), a sitemap and
# empty tag and category pages; that is the Hugo whose peak memory the reference
# table shows (1,019 MiB; the stripped one peaks near 540 MiB on these notes).
HUGO_EXTRAS = '["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]'


def hugo_build(hugo: str, content: Path, work: Path, destination: Path,
               stripped: bool = True) -> dict[str, float]:
    """Hugo building the same notes with one minimal template, cold: `stripped` of its
    feeds, sitemap and taxonomies (HUGO_EXTRAS), else with Hugo's default outputs."""
    site = work / ("hugo" if stripped else "hugo-default")
    shutil.rmtree(site, ignore_errors=True)
    (site / "layouts" / "_default").mkdir(parents=True)
    (site / "hugo.toml").write_text(
        f'baseURL = "http://example.org/"\ncontentDir = "{content}"\n'
        + (f"disableKinds = {HUGO_EXTRAS}\n" if stripped else ""), encoding="utf-8")
    page = "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>{{ .Content }}\n"
    for name in ("single.html", "list.html"):
        (site / "layouts" / "_default" / name).write_text(page, encoding="utf-8")
    command = [hugo, "--source", str(site), "--destination", str(destination), "--quiet"]
    return timed(command)[0]


def floor_warning(one_process: float, two_processes: float) -> str | None:
    """Why the ratios of a run cannot be trusted, if they cannot: two processes are never
    more than twice as fast as one on the same cores, so a floor that gained more met a
    slower machine in all its single-process runs (a busy core) than in the rest."""
    if two_processes >= 0.5 * one_process:
        return None
    return (f"the floor gained {one_process / two_processes:.2f} × from a second process: "
            "its single-process runs met a slower machine than the rest, and every ratio "
            "below is too favourable. Run again.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--rebuilds", type=int, default=5,
                        help="one-note edits built without --watch, a round (default 5)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/smreport-bench"))
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each measurement; the fastest counts (default 3)")
    args = parser.parse_args()
    content = generate(args.work / "content", args.notes)
    cache = args.work / ".smreport-cache"
    runs: Path = args.work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    made = iter(range(1, 1_000_000))

    def fresh(name: str) -> Path:
        """A new folder name for one run's output. Nothing is deleted while measuring: on
        this machine's journal-less ext4, creating files soon after deleting thousands
        walks the freed inodes (ext4's recently_deleted), which adds seconds to whichever
        tool happens to run next."""
        return runs / f"{name}-{next(made)}"

    def build_args(out: Path, *extra: str) -> list[str]:
        return ["build", "--content", str(content), "--out", str(out), "--today", "2026-11-26",
                *extra]
    measure("check", "--content", str(content))  # once, to write smreport's bytecode
    out = fresh("site")

    def cold_build() -> dict[str, float]:
        nonlocal out
        shutil.rmtree(cache, ignore_errors=True)  # the stamp and the shards
        out = fresh("site")
        return measure(*build_args(out))
    hugo_path = shutil.which("hugo")  # optional: apt-get install hugo
    kinds: dict[str, Callable[[], dict[str, float]]] = {
        "floor-1": lambda: floor(content, fresh("floor-1"), 1),
        "floor-2": lambda: floor(content, fresh("floor-2"), 2),
        "cold": cold_build,
        "warm": lambda: measure(*build_args(out)),  # the cold build's site, just built
        "single": lambda: measure(*build_args(fresh("single"), "--no-cache", "--jobs", "1")),
        # `check` as in CI, from nothing (after a build, see the rebuilds, it reads shards).
        "check": lambda: measure("check", "--content", str(content), "--today", "2026-11-26",
                                 "--no-cache"),
    }
    if importlib.util.find_spec("cmarkgfm") is not None:
        kinds["cmark"] = lambda: measure(*build_args(fresh("site-cm"), "--no-cache",
                                                     "--markdown", "cmark-gfm"))
    if hugo_path:
        kinds["hugo"] = lambda: hugo_build(hugo_path, content, args.work, fresh("hugo-site"))
        kinds["hugo-default"] = lambda: hugo_build(hugo_path, content, args.work,
                                                   fresh("hugo-default"), stripped=False)
    # Round after round of every kind, not one kind's runs in a row: this machine's speed
    # drifts within minutes, and the floor must meet the same drift as what it measures.
    # The --watch edits too: a round of edits per round, and the round with the lowest
    # median counts, as the fastest run does for the other figures.
    runs_of: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    runs_of["check-shards"] = []
    watch_rounds: list[list[tuple[float, float]]] = []
    rebuilds: list[float] = []
    shutil.rmtree(args.work / "rebuild", ignore_errors=True)  # its cache starts cold
    for _round in range(args.repeat):
        for kind, run in kinds.items():
            runs_of[kind].append(run())
        if args.edits:
            watch_rounds.append(watch_edits(content, fresh("watch"), args.edits))
        if args.rebuilds:
            rebuilds.extend(rebuild_edits(content, args.work, args.rebuilds))
            # `check` after those builds, reading their shards (the cache of the series).
            runs_of["check-shards"].append(measure(
                "check", "--content", str(args.work / "rebuild" / "content"), "--today",
                "2026-11-26"))
        # Every ratio divides by the single-process floor: it runs again at the round's end,
        # so its fastest run has twice the chances of meeting the machine's faster moments
        # (which can only make the ratios less favourable to smreport).
        runs_of["floor-1"].append(kinds["floor-1"]())
    fastest = {kind: best(runs) for kind, runs in runs_of.items() if runs}
    floor_1, floor_2, cold, warm, single, check = (
        fastest[k] for k in ("floor-1", "floor-2", "cold", "warm", "single", "check"))
    fast, hugo, hugo_default = (fastest.get(k) for k in ("cmark", "hugo", "hugo-default"))
    medians = [statistics.median(edit[1] for edit in edits) for edits in watch_rounds]
    edits = watch_rounds[medians.index(min(medians))] if watch_rounds else []
    shutil.rmtree(runs, ignore_errors=True)
    rows = [
        ("floor, 1 process", floor_1, False),
        ("floor, 2 processes", floor_2, False),
        ("cold full build (2 workers)", cold, True),
        ("warm full build (nothing changed)", warm, True),
        ("cold full build, --jobs 1 --no-cache", single, True),
        ("check alone", check, True),
    ]
    if "check-shards" in fastest:
        rows.append(("check after builds, reading their shards", fastest["check-shards"], True))
    if fast is not None:
        rows.append(("cold full build, --markdown cmark-gfm --no-cache", fast, True))
    if hugo is not None:
        rows.append(("Hugo, one minimal template, same notes", hugo, True))
    if hugo_default is not None:
        rows.append(("Hugo, the same, with its default feeds, sitemap and taxonomies",
                     hugo_default, True))
    print(f"{args.notes} notes on {os.cpu_count()} cores; each figure the fastest of "
          f"{args.repeat} runs (the single-process floor: of {2 * args.repeat})\n")
    warning = floor_warning(floor_1["wall"], floor_2["wall"])
    if warning:
        print(f"**Warning**: {warning}\n")
    # CPU: of the fastest run, all its processes together; it tells how much work a tool
    # did, whatever the second core gave at that moment.
    print("| measurement | seconds | × floor | CPU s | CPU × floor | peak MiB |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, figures, show_peak in rows:
        peak_text = f"{figures['peak_mib']:.0f}" if show_peak else ""
        print(f"| {name} | {figures['wall']:.2f} | {figures['wall'] / floor_1['wall']:.2f} | "
              f"{figures['cpu']:.2f} | {figures['cpu'] / floor_1['cpu']:.2f} | {peak_text} |")
    for index, what in enumerate(("the edited note's page", "the whole site")):
        if not edits:
            break
        ordered = sorted(edit[index] for edit in edits)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"| one-note edit under --watch to {what}, median | "
              f"{statistics.median(ordered) * 1000:.0f} ms | | | | |\n"
              f"| one-note edit under --watch to {what}, 95th percentile | "
              f"{p95 * 1000:.0f} ms | | | | |")
    if rebuilds:
        print(f"| one-note edit, then build without --watch, median of {len(rebuilds)} | "
              f"{statistics.median(rebuilds):.2f} | "
              f"{statistics.median(rebuilds) / floor_1['wall']:.2f} | | | |\n"
              f"| one-note edit, then build without --watch, slowest | {max(rebuilds):.2f} | "
              f"{max(rebuilds) / floor_1['wall']:.2f} | | | |")
    if len(medians) > 1:
        print("\n--watch, median to the whole site in each round: "
              + ", ".join(f"{median * 1000:.0f} ms" for median in medians))


if __name__ == "__main__":
    main()
