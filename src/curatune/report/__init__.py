"""``report.html``: one self-contained page per run folder (see :mod:`curatune.report.build`)."""
