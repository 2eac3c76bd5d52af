"""``curatune.testing.check_step`` passes a step that keeps the contract and names what a broken one breaks.

The steps here are registered in a copy of the registry, so no other test sees them.
"""

from __future__ import annotations

import pytest

from curatune.curation import registry
from curatune.curation.record import Record
from curatune.curation.step import KEEP, Drop, Filter, Mapper
from curatune.testing import check_step, sample_records


@pytest.fixture
def register(monkeypatch):
    registry.load_all()  # before the copy: a later load_all would register curatune's steps in the copy only
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return lambda name, cls: registry.register(name)(cls)


class NoTodo(Filter):
    """Drop records whose answer is a TODO placeholder (the example of the README and of curatune.testing)."""

    reasons = ("todo_answer",)

    def __init__(self, marker: str = "TODO"):
        self.marker = marker

    def keep(self, rec):
        return Drop("todo_answer") if rec.response_text.strip() == self.marker else KEEP


class Undeclared(NoTodo):
    """Drops with a reason it never declared."""

    def keep(self, rec):
        return Drop("sneaky") if rec.response_text.strip() == self.marker else KEEP


class Chatty(NoTodo):
    """Prints instead of reporting to the pipeline."""

    def keep(self, rec):
        print("looking at", rec.id)
        return KEEP


class Forgetful(NoTodo):
    """Stores its parameter changed, so the recipe written back is not the recipe read."""

    def __init__(self, marker: str = "TODO"):
        self.marker = marker + "!"


class Moody(NoTodo):
    """Drops everything on every other run: not the same output for the same input."""

    runs = 0

    def setup(self):
        type(self).runs += 1

    def keep(self, rec):
        return Drop("todo_answer") if type(self).runs % 2 else KEEP


class NeedsAFile(Mapper):
    """Upper-cases the answer; needs a parameter without a default."""

    reasons = ("shouted",)

    def __init__(self, path: str):
        self.path = path

    def apply(self, rec):
        return None


class Untyped(NoTodo):
    """A parameter without a type."""

    def __init__(self, marker="TODO"):
        self.marker = marker


def test_a_step_that_keeps_the_contract_passes_and_drops_exactly_its_record(register):
    register("filter.no_todo", NoTodo)
    check_step(NoTodo)
    check_step(NoTodo(marker="TODO"))
    todo = [r.id for r in sample_records() if r.messages and r.response_text.strip() == "TODO"]
    assert todo == ["alpaca:13"] and NoTodo().keep(sample_records()[13]) == Drop("todo_answer")


@pytest.mark.parametrize(
    ("name", "cls", "message"),
    [
        ("filter.undeclared", Undeclared, "filter.undeclared returned undeclared reasons ['sneaky']"),
        ("filter.chatty", Chatty, "filter.chatty printed to stdout"),
        ("filter.forgetful", Forgetful, "filter.forgetful: parameters changed on the way through YAML: {'marker': 'TODO!'} became"),
        ("filter.moody", Moody, "filter.moody: two runs on the same records kept different records"),
        ("filter.untyped", Untyped, "parameter 'marker' of filter.untyped has no type"),
        ("clean.needs_a_file", NeedsAFile, "parameter 'path' of clean.needs_a_file needs a default"),
    ],
)
def test_a_broken_step_fails_with_a_message_that_names_it_and_the_fault(register, name, cls, message):
    register(name, cls)
    with pytest.raises(AssertionError) as err:
        check_step(cls)
    assert message in str(err.value)


def test_an_instance_supplies_the_parameters_a_class_lacks(register):
    register("clean.needs_a_file", NeedsAFile)
    check_step(NeedsAFile(path="words.txt"))


def test_an_unregistered_step_is_told_to_register(register):
    class Loose(NoTodo):
        """Never registered."""

    with pytest.raises(AssertionError, match=r"Loose is not registered: decorate the class with @register"):
        check_step(Loose)


def test_own_records_are_checked_too(register):
    register("filter.no_todo", NoTodo)
    check_step(NoTodo, records=[Record("mine:1", text="TODO", meta={"source": "mine", "line": 1})])
    with pytest.raises(TypeError, match="a step class or a step instance"):
        check_step("filter.no_todo")
