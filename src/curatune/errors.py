"""Errors that stop a run, and the exit codes the CLI maps them to.

A malformed *record* never raises: it becomes a ledger entry. Only problems
that make the whole run impossible raise, and every message names the file or
key at fault and the fix.

Exit codes (documented in the README):
  0  success (also: an unchanged run that was skipped)
  1  unexpected internal error (a bug: please report it with the traceback)
  2  bad usage or an impossible recipe (unknown key, bad value, missing step)
  3  an input file that cannot be read (missing, unreadable, unknown type)
  4  the run finished but its own consistency check failed (input != kept + dropped)
  5  ``split --check`` found duplicates across the splits (leakage), so that a CI job can gate on it
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INCONSISTENT = 4
EXIT_LEAKAGE = 5


class CuratuneError(Exception):
    """Base class: an error with a message meant for the user."""

    exit_code = EXIT_INTERNAL


class RecipeError(CuratuneError):
    """The recipe (or CLI options) cannot be run. Holds every problem found."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''}{where}:\n{lines}")


class InputError(CuratuneError):
    """An input file or folder that cannot be read at all."""

    exit_code = EXIT_INPUT


class ConsistencyError(CuratuneError):
    """A run's own bookkeeping does not add up; never expected, always a bug."""

    exit_code = EXIT_INCONSISTENT
