#!/usr/bin/env python3
"""Build the briefing site: the same as `smreport build` (run `python build.py --help`).

`python build.py check`, `new`, `init` and `rules` run those commands, as `smreport` does."""

import sys

from smreport.cli import build_script_args, run

if __name__ == "__main__":
    run(build_script_args(sys.argv[1:]))
