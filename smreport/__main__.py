"""`python -m smreport` runs the command line."""

from .cli import run

run()
