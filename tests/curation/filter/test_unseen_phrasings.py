"""Verdicts a correct check must give on phrasings absent from its own lists (issue 15).

Written before the checks of issue 15 were built or tuned, by someone who did not read their word
lists; the phrasings here are not shared with the held-out benchmark (bench/heldout/), so a check
tuned on one is still tested by the other. Steps that do not exist yet are named as issue 15
proposes (``filter.placeholder_input``). The module was expected to fail until the checks landed; what they
still miss is listed in ``STILL_MISSED``, one example at a time.
"""

from __future__ import annotations

import pytest

from curatune.config.recipe import default_steps
from curatune.curation.formats import FORMATS
from curatune.curation.pipeline import Pipeline, PipelineStep
from curatune.curation.pipeline.sink import Sink
from curatune.curation.record import Record
from curatune.curation.registry import build_step

# The checks of issue 15 are built (without reading this file's examples); these examples are still missed. Each
# is xfail on its own, strictly, so that a check that starts to pass them says so. Keys: (test, parameter index).
_REFUSAL = "missed: neither the phrase list nor the refusal sentence model (at its threshold, behind its word gate) reads it as a refusal"
_REFERENCE = "missed: the deictic reading of filter.missing_input finds no reference to absent material here"
STILL_MISSED = {
    ("test_refusal_phrasings_absent_from_lists_are_caught", 2): _REFUSAL,
    ("test_refusal_phrasings_absent_from_lists_are_caught", 5): _REFUSAL,
    ("test_refusal_phrasings_absent_from_lists_are_caught", 7): _REFUSAL,
    ("test_references_to_material_that_is_not_there_are_caught", 0): _REFERENCE,
    ("test_references_to_material_that_is_not_there_are_caught", 2): _REFERENCE,
    ("test_references_to_material_that_is_not_there_are_caught", 3): _REFERENCE,
    ("test_placeholder_answers_are_caught", 5): "missed: a bracketed word that is not in placeholder_words.txt",
    ("test_real_threats_and_hate_are_still_caught", 0): "missed: no lexicon term or statement pattern of filter.harmful matches",
    ("test_real_threats_and_hate_are_still_caught", 1): "missed: no lexicon term or statement pattern of filter.harmful matches",
}


@pytest.fixture(autouse=True)
def _still_missed(request):
    callspec = getattr(request.node, "callspec", None)
    index = next(iter(callspec.indices.values())) if callspec else None
    reason = STILL_MISSED.get((request.node.originalname, index))
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def alpaca(instruction: str, output: str, inp: str = "") -> Record:
    return FORMATS["alpaca"].parse({"instruction": instruction, "input": inp, "output": output}, "u:1")


def action(step: str, rec: Record, **params) -> str:
    s = build_step(step, params)
    s.setup()
    return s.keep(rec).action


def answer(rec: Record) -> str:
    return rec.messages[-1]["content"]


# ---- refusals and canned non-answers ---------------------------------------------------------


@pytest.mark.parametrize(
    "out",
    [
        "Regrettably that falls outside what I'm permitted to do.",
        "I'd love to help, but producing that isn't something my design allows.",
        "Hmm, no can do — that one's off limits for me.",
        "Being a chatbot, I lack the means to place phone calls on your behalf.",
        "Please understand that I, as a digital assistant, have no way of viewing the photo you mention.",
        "Apologies! Generating audio files is beyond what this assistant supports.",
        "i am only a computer programme so i wont be able to do this for you",
        "That's a request I have to turn down.",
    ],
)
def test_refusal_phrasings_absent_from_lists_are_caught(out):
    rec = alpaca("Compose a short jingle for a bakery.", out)
    assert action("filter.refusal", rec) in ("drop", "flag")


@pytest.mark.parametrize(
    ("instruction", "out"),
    [
        (
            "Write a condolence note to a colleague.",
            "I am so sorry for your loss. Your father was a kind man, and we are all thinking of you.",
        ),
        (
            "Draft an apology to a customer for a late delivery.",
            "We apologise for the delay to your order. It left our warehouse today and a refund of the shipping fee is on its way.",
        ),
        (
            "Explain what a large language model cannot do.",
            "A language model cannot see the world directly; it only predicts text from the text it was trained on.",
        ),
        (
            "Write a line for a character who refuses an invitation.",
            '"Unfortunately I can\'t make it on Saturday," said Lena, "but save me a slice of cake."',
        ),
    ],
)
def test_answers_about_apologies_or_ai_limits_are_not_refusals(instruction, out):
    assert action("filter.refusal", alpaca(instruction, out)) == "keep"


# ---- truncated answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "out",
    [
        "Photosynthesis turns light into chemical energy. Chlorophyll in the leaves absorbs red and blue light, and the plant uses that "
        "energy to split",
        "To reset the router, unplug it for thirty seconds, plug it back in, and wait until the status light turns green. If it still "
        "fails, hold the reset button for",
        "The Treaty of Westphalia ended the Thirty Years' War in 1648 and is often said to mark the start of the modern state system, "
        "because it recognised the",
    ],
)
def test_answers_cut_mid_sentence_are_caught(out):
    rec = alpaca("Explain it in a few sentences.", out)
    assert action("filter.truncated_answer", rec) in ("drop", "flag")


@pytest.mark.parametrize(
    ("instruction", "out"),
    [
        ("Name three primary colours.", "Red, yellow and blue"),
        ("List the planets closest to the Sun.", "Mercury\nVenus\nEarth\nMars"),
        ("Give a one-word synonym for happy.", "Cheerful"),
        (
            "Explain why ice floats.",
            "Ice is less dense than liquid water because its molecules lock into an open hexagonal lattice, so it floats.",
        ),
    ],
)
def test_complete_answers_are_not_truncated(instruction, out):
    assert action("filter.truncated_answer", alpaca(instruction, out)) == "keep"


# ---- placeholder inputs (the step proposed in issue 15) -------------------------------------


@pytest.mark.parametrize(
    "inp", ["<Input not provided>", "n.a.", "(no input given)", "No additional context.", "EMPTY", "--none--", "[blank]", "Input: (none)"]
)
def test_placeholder_inputs_are_caught(inp):
    rec = alpaca("Suggest a name for a new coffee shop.", "Bean There, Done That", inp=inp)
    assert action("filter.placeholder_input", rec) in ("drop", "flag")


@pytest.mark.parametrize(
    ("instruction", "inp"),
    [
        ("Who sang this song?", "Nothing Compares 2 U"),
        ("Classify this word as a noun or a pronoun.", "Nobody"),
        ("Is this number positive or negative?", "-5"),
        ("Define the term.", "Empty nest syndrome"),
    ],
)
def test_real_inputs_that_look_like_placeholders_are_kept(instruction, inp):
    assert action("filter.placeholder_input", alpaca(instruction, "An answer that fits.", inp=inp)) == "keep"


# ---- answers that echo the input or the instruction -----------------------------------------


@pytest.mark.parametrize(
    ("instruction", "inp", "out"),
    [
        ("Change this sentence to the future tense.", "She walks to school.", "She walks to school."),
        ("Turn the statement into a question.", "The museum opens at nine", "The museum opens at nine."),
        ("Make this sentence more formal.", "gonna grab some food, brb", "gonna grab some food, brb"),
        ("Give me a synonym for the word 'rapid'.", "", "Give me a synonym for the word 'rapid'."),
    ],
)
def test_echoed_answers_are_caught(instruction, inp, out):
    assert action("filter.repeats_question", alpaca(instruction, out, inp=inp)) in ("drop", "flag")


@pytest.mark.parametrize(
    ("instruction", "inp", "out"),
    [
        ("Correct the spelling mistake.", "I will recieve it tomorrow.", "I will receive it tomorrow."),
        ("Add the missing comma.", "After dinner we watched a film", "After dinner, we watched a film."),
        ("Repeat after me: the quick brown fox.", "", "The quick brown fox."),
    ],
)
def test_answers_that_correctly_change_little_are_kept(instruction, inp, out):
    assert action("filter.repeats_question", alpaca(instruction, out, inp=inp)) == "keep"


# ---- instructions that point at missing material -------------------------------------------


@pytest.mark.parametrize(
    "instruction",
    [
        "Proofread the essay I pasted.",
        "Describe what is happening in the diagram.",
        "Which option is correct?",
        "Using the figures provided, estimate next year's growth.",
        "Convert the attached spreadsheet to CSV.",
        "Give a title to the poem above.",
        "Is the claim in the previous paragraph accurate?",
    ],
)
def test_references_to_material_that_is_not_there_are_caught(instruction):
    assert action("filter.missing_input", alpaca(instruction, "Some answer.")) in ("drop", "flag")


@pytest.mark.parametrize(
    "instruction",
    [
        "Translate 'good night' into German.",
        "Summarize the plot of Hamlet.",
        "Which planet has the most moons: Jupiter or Saturn?",
        "Describe this season's fashion trends in general terms.",
    ],
)
def test_self_contained_instructions_are_kept(instruction):
    assert action("filter.missing_input", alpaca(instruction, "Some answer.")) == "keep"


# ---- placeholder answers --------------------------------------------------------------------


@pytest.mark.parametrize("out", ["<<ANSWER>>", "[fill in]", "tba", "N.A.", "<to do>", "(pending)", "__", "[response goes here]"])
def test_placeholder_answers_are_caught(out):
    assert action("filter.placeholder_answer", alpaca("Describe a rainbow.", out)) in ("drop", "flag")


@pytest.mark.parametrize(
    ("instruction", "out"),
    [
        ("Is the Pacific the smallest ocean? Answer yes or no.", "No."),
        ("Which of these are mammals: trout, eel, salmon?", "None of them are mammals."),
        ("What is 7 minus 7?", "0"),
    ],
)
def test_short_real_answers_are_kept(instruction, out):
    assert action("filter.placeholder_answer", alpaca(instruction, out)) == "keep"


# ---- PII: reserved values and tasks about the value ----------------------------------------

PII_TYPES = ["email", "phone", "credit_card", "ip_address"]


@pytest.mark.parametrize(
    "text",
    [
        "Send the logs to ops@example.net.",
        "Our fictional hotline is 555-0188.",
        "Try the card 6011 1111 1111 1117 in the sandbox.",
        "The staging box sits at 198.51.100.200.",
        "Point the client at 203.0.113.9 for the demo.",
        "Write to billing@example.org or sales@example.com.",
    ],
)
def test_reserved_documentation_values_are_not_redacted(text):
    step = build_step("clean.pii", {"types": PII_TYPES})
    step.setup()
    assert step.apply(alpaca("Show a configuration example.", text)) is None


@pytest.mark.parametrize("text", ["Reach Olga at olga.petrova@yandex.ru.", "My cell is (773) 294-5120.", "email me: t.okonkwo88@gmail.com"])
def test_personal_values_are_still_redacted(text):
    step = build_step("clean.pii", {"types": PII_TYPES})
    step.setup()
    edit = step.apply(alpaca("Write a short note.", text))
    assert edit is not None and "<" in answer(edit.record)


class _Sink(Sink):  # subclassing the protocol gives kept_encoder() (None), which the pipeline asks for
    def __init__(self):
        self.kept, self.dropped = [], []

    def keep(self, rec):
        self.kept.append(rec)

    def drop(self, item, event):
        self.dropped.append((item, event))

    def event(self, event):
        pass


@pytest.mark.parametrize(
    ("instruction", "inp", "out"),
    [
        ("Make up a plausible email address for a new employee called Marcus Lee.", "", "marcus.lee@fastmail.com"),
        ("Show how a San Diego landline number is usually written.", "", "(619) 847-2035"),
        ("Pull out the contact address mentioned here.", "Questions go to dana.whitfield@outlook.com.", "dana.whitfield@outlook.com"),
    ],
)
def test_a_task_about_the_value_is_never_kept_as_a_placeholder(instruction, inp, out):
    """The default recipe's PII steps (whatever issue 15 adds to them) either keep the record as it is or
    drop or flag it with a reason; a kept record whose whole answer became a placeholder is a damaged record."""
    steps = [PipelineStep(build_step(sc.step, sc.params), sc.on_fail) for sc in default_steps() if "pii" in sc.step]
    for s in steps:
        s.step.setup()
    sink = _Sink()
    Pipeline(steps).run([alpaca(instruction, out, inp=inp)], sink)
    for rec in sink.kept:
        assert answer(rec) == out or rec.meta.get("flags"), answer(rec)


# ---- harmful-content false positives --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The recipe calls for a shot of bourbon and a pinch of nutmeg.",
        "We need to kill the zombie processes on the build server before the deploy.",
        "Invasive species are among the biggest threats to island birds.",
        "Overusing the word 'very' weakens your writing.",
        "Shoot me an email when you are free next week.",
        "Execute the migration script after the backup finishes.",
        "Her stand-up set absolutely slayed the audience.",
        "Breastfeeding rooms should be private and have a comfortable chair.",
        "The detective novel opens with a body found in the library.",
    ],
)
def test_benign_texts_with_loaded_words_are_not_flagged(text):
    assert action("filter.harmful", alpaca("Write one sentence.", text)) == "keep"


@pytest.mark.parametrize(
    "text",
    [
        "I know where your kids go to school and I will make them suffer.",
        "People of that race are vermin and should be wiped out.",
    ],
)
def test_real_threats_and_hate_are_still_caught(text):
    assert action("filter.harmful", alpaca("Reply to the message.", text)) in ("drop", "flag")
