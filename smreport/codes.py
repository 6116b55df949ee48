"""Every validation code `smreport check` can report, its meaning, and its CI annotation.

This table is the one place the codes are documented: `smreport rules` prints
it, the README embeds that output, and a test keeps it in step with the codes
the source actually emits. Codes are never reused for another meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Severity


@dataclass(frozen=True)
class Code:
    """One validation code: what `check` prints and what it means."""

    code: str
    severity: Severity
    meaning: str


CODES: tuple[Code, ...] = (
    # -- files and folders -------------------------------------------------------
    Code("no-content", "error", "The content folder cannot be read."),
    Code("missing-project", "error", "The content root has no project.yml."),
    Code("unknown-file", "warning", "A file or folder the content root does not use; ignored."),
    Code("symlink-outside", "error", "A symbolic link leads outside the content root."),
    Code("active-asset", "error", "An asset a browser would run as a page with scripts "
                                  "(.html, .js, .xml, an SVG with scripts or links); not "
                                  "published."),
    Code("asset-clash", "error", "An asset has the name of a file of the site's theme "
                                 "(assets/smreport.css), which it would replace."),
    Code("name-clash", "error", "Two file names differ only by case or Unicode normalisation."),
    Code("unreadable", "error", "A file exists but cannot be read."),
    Code("bad-file-name", "error", "A file name is not valid UTF-8 or holds control characters."),
    Code("too-large", "error", "A note is larger than rules.max_note_bytes."),
    Code("encoding", "error", "A file is not UTF-8 text (UTF-16, invalid bytes or NUL bytes)."),
    Code("line-endings", "error", "A lone carriage return ends a line; use LF or CRLF."),
    Code("merge-conflict", "error", "A file holds an unresolved git merge conflict "
                                    "(<<<<<<< ... ======= ... >>>>>>> lines)."),
    Code("front-matter", "error", "The front matter is missing, unclosed, empty or not a mapping."),
    # -- YAML ------------------------------------------------------------------------
    Code("yaml-syntax", "error", "The YAML cannot be parsed."),
    Code("yaml-alias", "error", "YAML anchors and aliases (&name, *name) are not allowed."),
    Code("yaml-tag", "error", "YAML tags (!!int, !custom) are not allowed; only !!str is."),
    Code("yaml-key", "error", "A key is not plain text (a number, a boolean, a list)."),
    Code("yaml-value", "error", "A YAML value cannot be read (an impossible date, say)."),
    Code("yaml-too-deep", "error", "Values are nested too deeply."),
    Code("yaml-too-large", "error", "The front matter holds too many values."),
    Code("duplicate-key", "error", "A key is given twice in one mapping."),
    # -- fields ------------------------------------------------------------------------
    Code("missing-field", "error", "A required field is absent or empty."),
    Code("unknown-key", "warning", "A key the note type does not know; the nearest is suggested."),
    Code("empty-field", "warning", "An optional mapping (approved:, decision:) is left empty and "
                                   "counts as absent."),
    Code("wrong-type", "error", "A field holds the wrong kind of value (a list for a text, say)."),
    Code("quote-value", "error", "YAML reads a value otherwise than written: a boolean or "
                                 "number where text is meant (quote it), or a number in "
                                 "octal, base 60, hex or with _ (write a plain decimal)."),
    Code("bad-id", "error", "An id or file name is not lowercase letters, digits and hyphens."),
    Code("bad-date", "error", "A date is not YYYY-MM-DD, or a month not YYYY-MM."),
    Code("bad-value", "error", "A value is not one of the allowed ones, or out of range."),
    Code("bad-url", "error", "An address is not an http:// or https:// URL."),
    Code("type-mismatch", "error", "A note's type: field disagrees with its folder."),
    Code("empty-body", "error", "A change or review has no text after its front matter."),
    # -- project.yml -------------------------------------------------------------------
    Code("unknown-unit", "error", "A person's unit is not defined under units."),
    Code("no-executive", "error", "No person in project.yml is an executive."),
    # -- notes -------------------------------------------------------------------------
    Code("due-before-start", "error", "A goal's due date (or one a change would set) is not "
                                      "after its start."),
    Code("duplicate-kpi", "error", "Two KPIs of one list share an id."),
    Code("target-equals-baseline", "error", "A KPI's target equals its baseline."),
    Code("decision-before-date", "error", "A decision is dated before the note it decides."),
    Code("decide-by-before-date", "error", "A dispute's decide_by is before the day it was "
                                           "raised."),
    Code("review-before-month", "error", "A review is dated before the month it reviews began."),
    Code("no-likes", "error", "A review has neither likes nor dislikes."),
    Code("parties", "error", "A dispute names fewer than two different people."),
    # -- references between files ------------------------------------------------------
    Code("unknown-person", "error", "A person id is not defined in project.yml."),
    Code("not-executive", "error", "Someone who is not an executive approves or decides what "
                                   "only an executive may."),
    Code("unknown-goal", "error", "A change names a goal that does not exist."),
    Code("unknown-kpi", "error", "A reading names a KPI the goal never had."),
    Code("broken-link", "warning", "A link in a note's text points to a file that does not "
                                   "exist."),
    # -- git (rules.verify_approvals) ---------------------------------------------------
    Code("no-git", "warning", "verify_approvals is on but the content is not in a usable git "
                              "repository."),
    Code("approval-not-verified", "warning", "An approval or decision was not committed by "
                                             "the approver's e-mail, so it does not count yet."),
)

BY_CODE: dict[str, Code] = {code.code: code for code in CODES}


def meaning(code: str) -> str:
    """The one-line meaning of a validation code ('' for an unknown code)."""
    found = BY_CODE.get(code)
    return found.meaning if found else ""


# --- GitHub Actions annotations -------------------------------------------------------
# The workflow command syntax: ::error file=F,line=L,col=C,title=T::MESSAGE, where the
# message escapes % CR LF and property values also escape : and , (as @actions/core does).


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(path: str, line: int, column: int, severity: Severity, code: str,
                      message: str) -> str:
    """One problem as a GitHub Actions workflow command, shown on the file's line in a PR."""
    command = "error" if severity == "error" else "warning"
    properties = ",".join(f"{name}={_escape_property(value)}" for name, value in (
        ("file", path), ("line", str(line)), ("col", str(column)), ("title", code)))
    return f"::{command} {properties}::{_escape_data(message)}"
