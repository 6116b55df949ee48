"""`smreport rules`: made from the rules' docstrings and the codes table; the README has it."""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from smreport.agenda import RULES
from smreport.codes import CODES
from smreport.rulesdoc import README_END, README_START, readme_section, rules_text

from .conftest import REPO, run_cli

PACKAGE = REPO / "smreport"
KEBAB = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# Calls that report a problem, and which positional argument holds the code (and severity).
# Report.error/warning(position, code, message); Report.add(position, severity, code, ...);
# Problem(path, line, column, severity, code, message); FileError/YamlError(position, code,
# ...); yamltree's fail(node, code, ...); fields' wrong(node, key, expected, code);
# validate's _reference_problem(note, reference, code, message, severity="error").
CODE_ARGUMENT = {"error": (1, None), "warning": (1, None), "add": (2, 1), "Problem": (4, 3),
                 "FileError": (1, None), "YamlError": (1, None), "fail": (1, None),
                 "wrong": (3, None), "_reference_problem": (2, 4)}


def emitted_codes() -> dict[str, set[str]]:
    """Every literal validation code the package passes to a reporting call, with severities."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "agenda" or path.name == "codes.py":
            continue  # agenda codes are the rules' own; codes.py is the table itself
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else \
                getattr(function, "id", "")
            if name not in CODE_ARGUMENT:
                continue
            code_index, severity_index = CODE_ARGUMENT[name]
            args = node.args
            if len(args) <= code_index or not isinstance(args[code_index], ast.Constant):
                continue
            code = args[code_index].value
            if not isinstance(code, str) or not KEBAB.fullmatch(code):
                continue
            severity = "warning" if name == "warning" else "error"
            if severity_index is not None and len(args) > severity_index \
                    and isinstance(args[severity_index], ast.Constant):
                severity = str(args[severity_index].value)
            found[code].add(severity)
    # fields.wrong's default code.
    found["wrong-type"].add("error")
    return found


def test_the_codes_table_lists_exactly_the_codes_the_source_emits() -> None:
    emitted = emitted_codes()
    assert len(emitted) > 30  # the scan itself works
    table = {code.code for code in CODES}
    assert sorted(set(emitted) - table) == [], "codes emitted but missing from smreport/codes.py"
    assert sorted(table - set(emitted)) == [], "codes in smreport/codes.py that nothing emits"


def test_each_codes_severity_matches_the_source() -> None:
    emitted = emitted_codes()
    for code in CODES:
        assert emitted[code.code] == {code.severity}, code.code


def test_codes_are_unique_kebab_case_with_one_line_meanings() -> None:
    names = [code.code for code in CODES]
    assert len(names) == len(set(names))
    for code in CODES:
        assert KEBAB.fullmatch(code.code), code.code
        assert code.meaning.strip() and "\n" not in code.meaning, code.code
        assert code.meaning.endswith("."), code.code


def test_rules_lists_every_rule_with_its_case_and_first_docstring_line() -> None:
    text = rules_text()
    modules = sorted(p for p in (PACKAGE / "agenda").glob("*.py")
                     if p.stem not in ("__init__", "base"))
    assert len(modules) == len(RULES)
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        docstring = ast.get_docstring(tree)
        assert docstring, f"{module.name} has no docstring"
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     for t in n.targets if isinstance(t, ast.Name)
                     and isinstance(n.value, ast.Constant)}
        first_line = docstring.strip().splitlines()[0]
        row = f"| `{constants['CODE']}` | {constants['CASE']} | {first_line} |"
        assert row in text.splitlines(), row
    for code in CODES:
        assert f"| `{code.code}` | {code.severity} | {code.meaning} |" in text.splitlines()


def test_the_command_prints_the_text() -> None:
    result = run_cli("rules")
    assert result.returncode == 0, result.stderr
    assert result.stdout == rules_text()
    assert "`approve-goal` | 1 |" in result.stdout
    assert "`missing-field` | error |" in result.stdout


def test_the_readme_table_is_the_commands_output() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.count(README_START) == 1 and readme.count(README_END) == 1
    section = readme_section(readme)
    assert section is not None
    printed = run_cli("rules").stdout
    assert section == printed, ("README.md's rules table differs from `smreport rules`; "
                                "paste the command's output between the markers")


def test_readme_section_needs_both_markers() -> None:
    assert readme_section("no markers here") is None
    assert readme_section(f"{README_END} then {README_START}") is None
    assert readme_section(f"x\n{README_START}\nbody\n{README_END}\n") == "body\n"


def test_a_pipe_in_a_docstring_does_not_break_the_table() -> None:
    from smreport.agenda.base import Rule
    from smreport.rulesdoc import rules_table

    rule = Rule("x-rule", 1, lambda context: [], "Fires when a | b.\n\nMore.")
    assert rules_table([rule])[-1] == "| `x-rule` | 1 | Fires when a \\| b. |"
