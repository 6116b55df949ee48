"""Where the packaged theme (the default templates and their stylesheet) lives."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def default_template_dir() -> Path:
    """The packaged theme: `smreport/templates` when installed, `templates/` in a checkout."""
    installed = PACKAGE_DIR / "templates"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "templates"
