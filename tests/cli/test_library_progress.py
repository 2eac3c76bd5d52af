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


def test_progress_descriptions_are_text_not_markup(monkeypatch):
    """A description like "[curated] training" is shown with its brackets (rich would read "[curated]" as a tag)."""
    import io

    from rich.console import Console

    from curatune.cli import render

    screen = Console(file=io.StringIO(), force_terminal=True, width=120, record=True)
    monkeypatch.setattr(render, "console", screen)
    with render.progress_bar("[curated] training", total=2) as advance:
        advance(1)
        with render.progress_bar("[random-0] scoring [bold]", total=1) as advance_inner:
            advance_inner(1)
    shown = screen.export_text()
    assert "[curated] training" in shown
    assert "[random-0] scoring [bold]" in shown
