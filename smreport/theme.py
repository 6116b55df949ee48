"""Where the packaged theme (the default templates and their stylesheet) lives."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def default_template_dir() -> Path:
    """The packaged theme: `smreport/templates` when installed, `templates/` in a checkout."""
    installed = PACKAGE_DIR / "templates"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "templates"


def static_files_of(template_dirs: Iterable[Path]) -> dict[str, Path]:
    """The files the theme copies as they are into the site, by their path there
    (`assets/smreport.css`): every file under a template folder's `static/`, a user's
    folder overriding the default theme file by file, like templates."""
    chosen: dict[str, Path] = {}
    for folder in template_dirs:
        static = Path(folder) / "static"
        for path in sorted(static.rglob("*")) if static.is_dir() else ():
            name = path.relative_to(static).as_posix()
            if path.is_file() and f"assets/{name}" not in chosen and not name.startswith("."):
                chosen[f"assets/{name}"] = path
    return chosen
