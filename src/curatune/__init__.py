"""curatune: audit, curate, select, split and fine-tune, with every decision recorded."""

__version__ = "0.1.0"
