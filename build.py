#!/usr/bin/env python3
"""Build the briefing site: the same as `smreport build` (run `python build.py --help`)."""

import sys

from smreport.cli import run

if __name__ == "__main__":
    run(["build", *sys.argv[1:]])
