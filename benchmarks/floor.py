"""The Python floor: only the per-note minimum, on the same notes smreport builds.

    python benchmarks/floor.py CONTENT_DIR OUT_DIR [--jobs N]

For each note: read the file, split it with python-frontmatter, render the
body with markdown-it-py, fill a small Jinja2 template, write the page.
Nothing else: no validation, no agenda, no cross-note pages.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import shutil
import time
from pathlib import Path

import frontmatter
import jinja2
from markdown_it import MarkdownIt

TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html><head><meta charset=utf-8><title>{{ title }}</title></head>"
    "<body><h1>{{ title }}</h1>{{ body|safe }}</body></html>")
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def one_note(job: tuple[Path, Path]) -> None:
    source, out = job
    post = frontmatter.loads(source.read_text(encoding="utf-8"))
    html = TEMPLATE.render(title=str(post.get("title", source.stem)),
                           body=MARKDOWN.render(post.content))
    target = out / source.parent.name / source.stem / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def run(content: Path, out: Path, jobs: int = 1) -> float:
    """Process every note; returns the wall time in seconds."""
    if out.exists():
        shutil.rmtree(out)
    sources = sorted(content.glob("*/*.md"))
    started = time.perf_counter()
    work = [(source, out) for source in sources]
    if jobs > 1:
        with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
            list(pool.map(one_note, work, chunksize=64))
    else:
        for job in work:
            one_note(job)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("content", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    print(f"{run(args.content, args.out, args.jobs):.2f}")


if __name__ == "__main__":
    main()
