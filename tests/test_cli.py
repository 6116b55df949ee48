"""The command line, run for real: entry points, options, exit codes and the problem formats."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest

from smreport.cli import main
from tests.conftest import GOAL, REPO, ProjectFactory, run_build_py, run_cli, tree, write_files

PROBLEM_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): "
                          r"(?P<severity>error|warning) (?P<code>[a-z][a-z0-9-]*): "
                          r"(?P<message>.+)$")

# A goal with an unknown owner (line 3) and a misspelt key (line 8).
BROKEN_GOAL = """\
---
title: Broken goal
owner: nobody
start: 2026-01-01
due: 2026-07-01
kpis:
  - { id: leads, name: Leads, baseline: 100, target: 200 }
titel: typo
approved: { by: petrov, date: 2026-01-10 }
---
Why.
"""


def console_script() -> Path:
    script = Path(sys.executable).parent / "smreport"
    assert script.is_file(), "the `smreport` console script is not installed (pip install -e .)"
    return script


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(console_script()), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def problems_in(text: str) -> list[dict[str, str]]:
    return [match.groupdict() for line in text.splitlines()
            if (match := PROBLEM_LINE.match(line))]


# --- check --------------------------------------------------------------------


def test_check_a_valid_project_exits_0(make_project: ProjectFactory) -> None:
    root = make_project()
    result = run_cli("check", "--content", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems_in(result.stdout + result.stderr) == []


def test_check_with_warnings_only_exits_0(make_project: ProjectFactory) -> None:
    root = make_project({"goals/double-leads.md": BROKEN_GOAL.replace("nobody", "smirnova")})
    result = run_cli("check", "--content", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(p["severity"], p["code"], p["line"]) for p in problems_in(result.stdout)] == [
        ("warning", "unknown-key", "8")]


def test_check_text_format_with_paths_relative_to_the_current_folder(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project({"goals/double-leads.md": BROKEN_GOAL})
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    result = run_cli("check", "--content", str(root), cwd=elsewhere)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines == [
        "../../content/goals/double-leads.md:3:8: error unknown-person: "
        "'nobody' is not a person defined in project.yml",
        "../../content/goals/double-leads.md:8:1: warning unknown-key: "
        "unknown key 'titel'; did you mean 'title'?",
    ]
    # From the content root's parent, with a relative --content, paths start there.
    result = run_cli("check", "--content", "content", cwd=root.parent)
    assert [f"{p['path']}:{p['line']}" for p in problems_in(result.stdout)] == [
        "content/goals/double-leads.md:3", "content/goals/double-leads.md:8"]


def test_check_json_format(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project({"goals/double-leads.md": BROKEN_GOAL})
    result = run_cli("check", "--content", str(root), "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert isinstance(problems, list) and len(problems) == 2
    for problem in problems:
        assert set(problem) == {"path", "line", "column", "severity", "code", "message"}
        assert isinstance(problem["line"], int) and isinstance(problem["column"], int)
        assert problem["severity"] in ("error", "warning")
    assert [(p["path"], p["line"], p["column"], p["severity"], p["code"]) for p in problems] == [
        ("content/goals/double-leads.md", 3, 8, "error", "unknown-person"),
        ("content/goals/double-leads.md", 8, 1, "warning", "unknown-key"),
    ]


def test_check_json_of_a_valid_project_is_an_empty_list(make_project: ProjectFactory) -> None:
    result = run_cli("check", "--content", str(make_project()), "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


def test_a_missing_content_folder_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    for args in (("check",), ("build", "--out", str(tmp_path / "site"))):
        result = run_cli(*args, "--content", str(tmp_path / "nowhere"), cwd=tmp_path)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "nowhere" in result.stdout + result.stderr
    assert not (tmp_path / "site").exists()


# --- exit status 2: a wrong command line --------------------------------------


@pytest.mark.parametrize("args", [
    (),
    ("publish",),
    ("check", "--bogus"),
    ("check", "--format", "xml"),
    ("build", "--format", "json"),
    ("check", "--today", "2026-02-30"),
    ("check", "--today", "20261126"),
    ("check", "--today", "2026-W48-4"),
    ("check", "--today", "26.11.2026"),
    ("check", "--today", "tomorrow"),
    ("build", "--today", "2026-11"),
    ("build", "--today", ""),
    ("build", "--today"),
    ("check", "--jobs", "-1"),
    ("check", "--jobs", "two"),
    ("build", "--jobs", "65"),
    ("build", "--jobs", "1.5"),
    ("build", "--watch", "--serve", "--port", "99999"),
    ("build", "--watch", "--serve", "--port", "-1"),
    ("build", "--port", "http"),
    ("build", "--templates", "no-such-folder"),
    ("build", "--templates", "a-file"),
])
def test_a_wrong_command_line_exits_2(args: tuple[str, ...], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # In-process for speed; test_a_wrong_command_line_exits_2_in_a_real_process covers the
    # real entry point.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written


def test_a_wrong_command_line_exits_2_in_a_real_process(tmp_path: Path) -> None:
    for args in (("check", "--today", "20261126"), ("build", "--bogus")):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "usage:" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_templates_folder_is_refused_not_ignored(tmp_path: Path) -> None:
    # Jinja2 skips a template folder that does not exist: the override would silently vanish.
    result = run_build_py("--templates", "themes/mine", cwd=tmp_path)
    assert result.returncode == 2
    assert "argument --templates: 'themes/mine' does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_py_rejects_a_bad_date_with_2(tmp_path: Path) -> None:
    result = run_build_py("--today", "2026-13-01", cwd=tmp_path)
    assert result.returncode == 2
    assert "YYYY-MM-DD" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_and_version_exit_0() -> None:
    assert run_cli("--help").returncode == 0
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("smreport ")
    assert "--today" in run_build_py("--help").stdout
    assert run_build_py("--version").stdout == version.stdout


# --- build: the three entry points ----------------------------------------------


def test_the_three_entry_points_build_the_same_site(make_project: ProjectFactory,
                                                   tmp_path: Path) -> None:
    root = make_project()
    sites = {name: tmp_path / f"site-{name}" for name in ("module", "script", "build-py")}
    common = ("--content", str(root), "--today", "2026-03-10")
    results = {
        "module": run_cli("build", *common, "--out", str(sites["module"]), cwd=tmp_path),
        "script": run_script("build", *common, "--out", str(sites["script"]), cwd=tmp_path),
        "build-py": run_build_py(*common, "--out", str(sites["build-py"]), cwd=tmp_path),
    }
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stdout + result.stderr)
    digests = {name: tree(site) for name, site in sites.items()}
    assert "agenda.json" in digests["module"] and "index.html" in digests["module"]
    assert digests["module"] == digests["script"] == digests["build-py"]


def test_the_three_entry_points_fail_the_same_way(make_project: ProjectFactory,
                                                 tmp_path: Path) -> None:
    root = make_project({"goals/double-leads.md": BROKEN_GOAL})
    out = tmp_path / "site"
    results = [run_cli("build", "--content", str(root), "--out", str(out), cwd=tmp_path),
               run_script("build", "--content", str(root), "--out", str(out), cwd=tmp_path),
               run_build_py("--content", str(root), "--out", str(out), cwd=tmp_path)]
    for result in results:
        assert result.returncode == 1
        assert problems_in(result.stderr) == problems_in(results[0].stderr)
        assert "Traceback" not in result.stderr
    assert [(p["path"], p["line"], p["code"]) for p in problems_in(results[0].stderr)] == [
        ("content/goals/double-leads.md", "3", "unknown-person"),
        ("content/goals/double-leads.md", "8", "unknown-key")]
    assert not out.exists()
    # check agrees with build on what is wrong.
    check = run_script("check", "--content", str(root), cwd=tmp_path)
    assert check.returncode == 1
    assert problems_in(check.stdout) == problems_in(results[0].stderr)


@pytest.mark.parametrize(("given", "run"), [
    ([], ["build"]),
    (["--watch", "--out", "check"], ["build", "--watch", "--out", "check"]),
    (["build", "--out", "x"], ["build", "--out", "x"]),
    (["check", "--format", "json"], ["check", "--format", "json"]),
    (["new", "goal", "More leads"], ["new", "goal", "More leads"]),
    (["rules"], ["rules"]),
    (["--version"], ["--version"]),
    (["--help"], ["build", "--help"]),
])
def test_build_py_builds_unless_given_a_command(given: list[str], run: list[str]) -> None:
    from smreport.cli import build_script_args

    assert build_script_args(given) == run


def test_build_py_runs_check_as_smreport_does(make_project: ProjectFactory,
                                            tmp_path: Path) -> None:
    root = make_project({"goals/double-leads.md": BROKEN_GOAL})
    via_script = run_build_py("check", "--content", str(root), cwd=tmp_path)
    via_module = run_cli("check", "--content", str(root), cwd=tmp_path)
    assert via_script.returncode == via_module.returncode == 1
    assert via_script.stdout == via_module.stdout
    assert [p["code"] for p in problems_in(via_script.stdout)] == ["unknown-person",
                                                                    "unknown-key"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["content"]  # nothing written


def test_defaults_are_content_and_site_in_the_current_folder(tmp_path: Path) -> None:
    from tests.conftest import GOAL, PROJECT_YML
    write_files(tmp_path / "content", {"project.yml": PROJECT_YML, "goals/double-leads.md": GOAL})
    result = run_cli("build", "--today", "2026-03-10", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    agenda = json.loads((tmp_path / "site" / "agenda.json").read_text(encoding="utf-8"))
    assert agenda["today"] == "2026-03-10"
    assert run_cli("check", cwd=tmp_path).returncode == 0


def test_build_py_runs_from_any_folder(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, str(REPO / "build.py"), "--content", str(root),
                             "--out", "out", "--today", "2026-03-10"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (elsewhere / "out" / "index.html").is_file()


def test_today_decides_the_agenda(make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()  # double-leads is due 2026-07-01
    for today, codes in (("2026-07-01", []), ("2026-07-02", ["close-goal"])):
        out = tmp_path / f"site-{today}"
        assert run_cli("build", "--content", str(root), "--out", str(out),
                       "--today", today).returncode == 0
        agenda = json.loads((out / "agenda.json").read_text(encoding="utf-8"))
        assert agenda["today"] == today
        assert [i["code"] for i in agenda["items"] if i["subject"]] == codes


def test_without_today_the_date_is_today_in_the_projects_time_zone(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    root = make_project()  # timezone: Europe/Moscow
    zone = zoneinfo.ZoneInfo("Europe/Moscow")
    before = dt.datetime.now(zone).date()
    assert run_cli("build", "--content", str(root), "--out", str(tmp_path / "site")
                   ).returncode == 0
    after = dt.datetime.now(zone).date()
    agenda = json.loads((tmp_path / "site" / "agenda.json").read_text(encoding="utf-8"))
    assert agenda["today"] in {before.isoformat(), after.isoformat()}


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_today_outside_the_supported_years_is_a_command_line_error(day: str,
                                                                     tmp_path: Path) -> None:
    run = run_cli("build", "--out", str(tmp_path / "site"), "--today", day)
    assert run.returncode == 2
    assert "outside 1900-2999" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("entry", ["python -m smreport", "build.py"])
def test_the_command_keeps_the_garbage_collector_off_for_its_whole_process(
        entry: str, tmp_path: Path) -> None:
    """`smreport`, `python -m smreport` and build.py run `cli.run`: the process ends after
    one build or check, so no collection walks what it made only to exit, and it ends with
    `os._exit`, without the interpreter's teardown (no atexit handler runs)."""
    common = ["--content", "content", "--today", "2026-11-26"]
    if entry == "build.py":
        argv = ["build.py", "--out", str(tmp_path / "site"), *common]
        start = "runpy.run_path('build.py', run_name='__main__')"
    else:
        argv = ["smreport", "check", *common]
        start = "runpy.run_module('smreport', run_name='__main__')"
    script = ("import atexit, gc, os, runpy, sys\n"
              "atexit.register(lambda: print('teardown ran'))\n"
              "real_exit = os._exit\n"
              "def ending(status):\n"
              "    print('collector', 'on' if gc.isenabled() else 'off', 'status', status)\n"
              "    sys.stdout.flush()\n"
              "    real_exit(status)\n"
              "os._exit = ending\n"
              f"sys.argv = {argv!r}\n{start}\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "collector off status 0"
    assert "teardown ran" not in done.stdout


def test_the_command_delivers_all_its_output_and_status_before_it_ends(
        make_project: ProjectFactory) -> None:
    """Ending with `os._exit` skips Python's own flush at exit: `cli.run` flushes first, so
    output far larger than a pipe's buffer arrives whole, on both streams, with the status."""
    goals = {f"goals/g{n:03}.md": BROKEN_GOAL for n in range(150)}
    root = make_project(goals)
    buffered = {name: value for name, value in os.environ.items()
                if name != "PYTHONUNBUFFERED"}  # as a user's shell runs it
    done = subprocess.run([sys.executable, "-m", "smreport", "check", "--content", str(root),
                           "--today", "2026-11-26"], capture_output=True, text=True,
                          env=buffered, timeout=120)
    assert done.returncode == 1
    found = problems_in(done.stdout)
    assert len(done.stdout) > 16_384  # several pipe buffers' worth
    assert {p["path"].rpartition("/")[2] for p in found} == \
        {f"g{n:03}.md" for n in range(150)}
    assert len(found) == 300  # the unknown owner and the misspelt key of each goal
    assert done.stderr == "150 errors, 150 warnings\n"


# --- the Markdown backend -------------------------------------------------------------

WITHOUT_CMARKGFM = ("import sys; sys.modules['cmarkgfm'] = None  # as if not installed\n"
                    "from smreport.cli import run; run(sys.argv[1:])")


def run_with_env(args: list[str], env: dict[str, str], without_cmarkgfm: bool = False
                 ) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", WITHOUT_CMARKGFM] if without_cmarkgfm \
        else [sys.executable, "-m", "smreport"]
    return subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env}, check=False)


def test_an_unknown_backend_in_smreport_markdown_is_a_usage_error(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    # argparse checks --markdown's choices, but not a default taken from the environment.
    root = make_project()
    done = run_with_env(["build", "--content", str(root), "--out", str(tmp_path / "site")],
                        {"SMREPORT_MARKDOWN": "commonmark"})
    assert done.returncode == 2, done.stderr
    assert done.stderr == ("smreport build: SMREPORT_MARKDOWN='commonmark': unknown Markdown "
                           "backend 'commonmark'; choose markdown-it or cmark-gfm\n")
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_fast_backend_without_its_extra_is_a_usage_error(
        make_project: ProjectFactory, tmp_path: Path, how: str) -> None:
    root = make_project()
    args = ["build", "--content", str(root), "--out", str(tmp_path / "site")]
    if how == "option":
        done = run_with_env([*args, "--markdown", "cmark-gfm"], {}, without_cmarkgfm=True)
        source = "--markdown"
    else:
        done = run_with_env(args, {"SMREPORT_MARKDOWN": "cmark-gfm"}, without_cmarkgfm=True)
        source = "SMREPORT_MARKDOWN='cmark-gfm'"
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"smreport build: {source}: the cmark-gfm backend needs cmarkgfm: "
                           "pip install 'smreport[fast]'\n")
    assert not (tmp_path / "site").exists()


def test_smreport_markdown_chooses_the_backend_and_the_option_overrides_it(
        make_project: ProjectFactory, tmp_path: Path) -> None:
    pytest.importorskip("cmarkgfm")
    # A link to a refused address: markdown-it-py shows its source, cmark-gfm its text alone.
    root = make_project({"goals/double-leads.md": GOAL.replace("Why this goal.",
                                                                "Why [this](javascript:x) goal.")})
    page = Path("goals", "double-leads", "index.html")
    env = {"SMREPORT_MARKDOWN": "cmark-gfm"}
    common = ["build", "--content", str(root), "--today", "2026-03-01", "--no-cache"]
    by_env = run_with_env([*common, "--out", str(tmp_path / "env")], env)
    assert by_env.returncode == 0, by_env.stderr
    assert "Why <a>this</a> goal." in \
        (tmp_path / "env" / page).read_text(encoding="utf-8")
    by_option = run_with_env([*common, "--out", str(tmp_path / "option"),
                              "--markdown", "markdown-it"], env)
    assert by_option.returncode == 0, by_option.stderr
    assert "Why [this](javascript:x) goal." in \
        (tmp_path / "option" / page).read_text(encoding="utf-8")


@pytest.mark.parametrize("output_format", ["text", "json", "github"])
def test_check_prints_cyrillic_to_a_stream_that_cannot_take_it(
        make_project: ProjectFactory, output_format: str) -> None:
    """A Windows console or pipe (cp1252): escapes, not a traceback; JSON stays the same
    JSON."""
    root = make_project({"goals/double-leads.md": GOAL.replace("owner: smirnova",
                                                               "owner: никто")})
    result = subprocess.run(
        [sys.executable, "-m", "smreport", "check", "--content", str(root), "--format",
         output_format, "--today", "2026-11-26"], capture_output=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "cp1252"})
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    out = result.stdout.decode("cp1252")
    if output_format == "json":
        [problem] = json.loads(out)
        assert "'никто'" in problem["message"]
    else:
        assert "\\u043d\\u0438\\u043a\\u0442\\u043e" in out


def test_a_reader_that_stops_early_gets_no_traceback(make_project: ProjectFactory) -> None:
    """`smreport check --format json | head -1`: the pipe closes while check still writes."""
    files = {f"goals/broken-{n}.md": GOAL.replace("owner: smirnova", "owner: nobody")
             for n in range(300)}  # more output than a pipe holds
    root = make_project(files)
    process = subprocess.Popen(
        [sys.executable, "-m", "smreport", "check", "--content", str(root), "--format",
         "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"[\n"
    process.stdout.close()  # as `head -1` does
    errors = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert b"Traceback" not in errors and b"BrokenPipe" not in errors, errors


def test_an_error_the_command_does_not_expect_is_never_silent(make_project: ProjectFactory,
                                                              tmp_path: Path) -> None:
    """Only a reader gone away (a broken pipe) stops the command without a word: a
    ValueError from a user's template must still be seen."""
    content = make_project()
    write_files(content.parent / "templates", {"team.html": (
        '{% extends "base.html" %}{% block main %}{{ "x".index("y") }}{% endblock %}')})
    result = run_cli("build", "--content", str(content), "--out", str(tmp_path / "site"))
    assert result.returncode != 0
    assert "substring not found" in result.stderr
