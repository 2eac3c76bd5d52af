"""curatune: audit, curate, select, split and fine-tune, with every decision recorded."""

from importlib.metadata import PackageNotFoundError, version

try:
    # pyproject.toml is the one place the version is written; the installed metadata carries it here.
    __version__ = version("curatune")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
