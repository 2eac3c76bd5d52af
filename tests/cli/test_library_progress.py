"""Long phases inside the library (label errors, decontamination) report through the ``curatune`` logger;
the command line must show those lines, or a 15-minute phase looks like a hang (issue 15)."""

import logging

from curatune.cli.render import show_library_progress
from curatune.curation.filter.label_errors import Progress


def test_library_progress_reaches_stderr(capsys):
    show_library_progress()
    show_library_progress()  # idempotent: one handler, one line per message
    progress = Progress(every=0.0)
    progress.phase("5-fold logistic regression on 12 TF-IDF features")
    err = capsys.readouterr().err
    assert err.count("5-fold logistic regression on 12 TF-IDF features") == 1
    assert "filter.label_errors" in err


def test_debug_lines_stay_quiet(capsys):
    show_library_progress()
    logging.getLogger("curatune").debug("a detail nobody asked for")
    assert "a detail nobody asked for" not in capsys.readouterr().err
