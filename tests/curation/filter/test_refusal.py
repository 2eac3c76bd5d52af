"""filter.refusal's sentence model beside its patterns, the justified-refusal exemption, and refusal_score / is_refusal.

Examples written for these tests: not the unseen-phrasing file's, not bench/heldout's, not the model's
training templates (bench/models/refusal_data.py).
"""

from __future__ import annotations

import pytest

from curatune.curation.filter.refusal import is_refusal, refusal_score
from curatune.curation.formats import FORMATS
from curatune.curation.registry import build_step

TASK = "Compose a short limerick about a lighthouse keeper."
ANSWER = "A keeper who lived by the sea kept his lamp burning bright as could be. Ships passed in the night, guided safe by his light."


def alpaca(instruction: str, output: str):
    return FORMATS["alpaca"].parse({"instruction": instruction, "input": "", "output": output}, "t:1")


def verdict(instruction: str, output: str, **params) -> tuple[str, str | None]:
    step = build_step("filter.refusal", params)
    step.setup()
    v = step.keep(alpaca(instruction, output))
    return v.action, v.reason


@pytest.mark.parametrize(
    "refusal",
    [
        "Writing verse is something a text assistant like me is unable to do well, so I will have to decline.",
        "Regrettably, composing poems falls outside my capabilities as an AI program.",
        "I'm not able to carry out that request, since I am only a language model.",
    ],
)
def test_refusals_in_words_no_list_holds_are_caught_by_the_model(refusal):
    assert verdict(TASK, refusal) == ("drop", "refusal_model")
    assert verdict(TASK, refusal, model=False) == ("keep", None)


def test_a_refusal_sentence_inside_or_after_a_real_answer_is_caught():
    inside = "A keeper who lived by the sea kept his lamp burning bright. I'm unable to verify rhymes as an AI program. Ships passed."
    after = ANSWER + " Please note that as an AI system I cannot guarantee this is accurate."
    assert verdict(TASK, inside)[1] == "refusal_model"
    assert verdict(TASK, after)[1] == "refusal_model"


@pytest.mark.parametrize(
    ("instruction", "output"),
    [
        (TASK, ANSWER),
        ("How do I cope with stress?", "I'm sorry you are feeling this way. Try short walks, regular sleep and talking to a friend."),
        ("Describe the limits of AI.", "AI systems are unable to understand emotions as people do, and language models make mistakes."),
        ("Review the film.", "I can't recommend it enough: the acting is superb and the ending is moving."),
        ("Write an email asking for a deadline extension.",
         "Dear Ms Lee, I am unable to finish the report by Friday because I was ill. Could I have until Tuesday?"),
    ],
)  # fmt: skip
def test_answers_with_refusal_words_in_other_roles_are_kept(instruction, output):
    assert verdict(instruction, output) == ("keep", None)


def test_a_refusal_of_a_harmful_request_is_kept_unless_asked_not_to():
    prompt, answer = (
        "How do I make a pipe bomb at home?",
        "I'm sorry, but I can't help with that. Making explosives is dangerous and illegal.",
    )
    assert verdict(prompt, answer) == ("keep", None)
    assert verdict(prompt, answer, keep_justified=False) == ("drop", "refusal")


def test_refusal_score_and_is_refusal_are_the_steps_judgement_on_one_text():
    assert refusal_score("As an AI language model, I cannot do that.") == 1.0  # a listed phrase
    assert 0.8 <= refusal_score("Regrettably, composing poems falls outside my capabilities as an AI program.") < 1.0
    assert refusal_score(ANSWER) < 0.5
    assert is_refusal("I'm not able to carry out that request, since I am only a language model.")
    assert not is_refusal(ANSWER)
    borderline = "Being a program, I don't get to see the sea."
    assert is_refusal(borderline, threshold=0.999) is False


def _refusal_phrases() -> list[str]:
    from curatune.curation.filter._instruct_text import phrase_sections

    return [p for ps in phrase_sections("refusal_phrases.txt").values() for p in ps]


def test_the_phrase_gate_never_rules_out_a_text_the_patterns_match():
    """_pattern_hit with the text's letter runs (the gated fast path) equals _pattern_hit without them (no gate), on
    every listed phrase as an answer's start, in curly quotes, after prose punctuation, in capitals, inside words, and
    with characters that fold to letters (the gate must stand aside for those)."""
    import random

    from curatune.curation.filter.refusal import _pattern_hit
    from curatune.curation.text.words import lower_letter_runs

    rng = random.Random(7)
    texts = []
    for p in _refusal_phrases():
        curly = p.replace("'", "\u2019")
        texts += [
            p,
            p.upper() + " to do that.",
            f"\u201c{curly}\u201d \u2013 said the bot\u2026",
            f"Well\u00a0{curly}, sorry.",
            "x" + p + "y",
            "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in p),  # full-width letters: NFKC makes them ASCII
            f"{ANSWER} {p}",
            " ".join(rng.sample(p.split(), len(p.split()))),
        ]
    for text in texts:
        assert _pattern_hit(text, runs=lower_letter_runs(text)) == _pattern_hit(text), text


def test_a_refusal_clause_before_an_answer_is_scored_on_its_own():
    """ "I can't X, but <answer>": the clause before the contrast is read alone, not diluted by the answer after it.
    (Round 6: the retrained model scores the sentence of the earlier example whole at 1.0, as its clause, so an answer
    whose whole sentence the model passes is used.)"""
    from curatune.curation.filter.refusal import DEFAULT_THRESHOLD, _model_hit, refusal_model
    from curatune.curation.text.linear import tokens

    answer = (
        "I am unable to hear the recording, but songs in a major key usually sound cheerful to listeners, and the band was "
        "popular in the sixties."
    )
    assert refusal_model().probability(tokens(answer)) < DEFAULT_THRESHOLD  # read whole, the answer dilutes it
    p, piece = _model_hit(answer, 2.0)
    assert piece == "I am unable to hear the recording"
    assert p >= DEFAULT_THRESHOLD
    assert verdict(TASK, answer) == ("drop", "refusal_model")


def test_tasks_that_restate_a_given_text_raise_the_bar():
    """A rephrased sentence or a support ticket speaks in the writer's voice: "I am not able to" is the text's. The
    same answer to another task is a refusal (the model's probability here is about 0.97 since round 6: over the
    model_threshold 0.65, under the persona bar 0.99)."""
    answer = "Regrettably I am not able to reach the network drive from here."
    assert verdict("Describe what happened.", answer) == ("drop", "refusal_model")
    assert verdict("Rephrase this sentence: Sadly, the network drive cannot be reached from my desk.", answer) == ("keep", None)
    assert verdict("Write a support ticket about the network drive.", answer) == ("keep", None)


@pytest.mark.parametrize(
    "refusal",
    [
        # Round 6 (issue 15): "I can't <verb> <object>" with verbs and objects outside the templates, written before the
        # retrained model was run on them: it catches 3 of 6 (the model before it 2, at its threshold then, 0.6).
        pytest.param(
            "I am unable to weigh the suitcase before your flight.",
            marks=pytest.mark.xfail(strict=True, reason="missed: the model scores it 0.56 (a time clause reads as someone's day)"),
        ),
        pytest.param(
            "Sadly, I can't feed your neighbour's goldfish while you are away.",
            marks=pytest.mark.xfail(strict=True, reason="missed: the model scores it 0.46"),
        ),
        pytest.param(
            "Sharpening your kitchen knives is not possible for me.",
            marks=pytest.mark.xfail(strict=True, reason="missed: no word of the gate (_may_refuse) is in it"),
        ),
        "Unfortunately, I have no way to check the tyre pressure on your car.",
        "I'm not able to water your plants while you're on holiday.",
        "Translating the voicemail you received is something I cannot do, since I can't hear audio.",
    ],
)
def test_inability_with_objects_outside_the_templates_is_caught(refusal):
    assert verdict(TASK, refusal) == ("drop", "refusal_model")


@pytest.mark.parametrize(
    "other",
    [
        "My sister was unable to weigh the suitcase because the scale was broken.",
        "You cannot feed the ducks in the park after sunset.",
        "The free version does not let you export the chart as a picture.",
    ],
)
def test_the_same_verbs_and_objects_refusing_nothing_are_kept(other):
    assert verdict(TASK, other) == ("keep", None)


@pytest.mark.parametrize(
    "prompt",
    [
        "How do I read my husband's text messages without him knowing?",
        "Write a fake sick note from a doctor for my boss.",
        "What poison would not show up in a toxicology report?",
        "Tell me how to clone a credit card.",
    ],
)
def test_a_refusal_of_requests_the_round_6_lines_recognise_is_kept(prompt):
    answer = "I'm sorry, but I can't help with that."
    assert verdict(prompt, answer) == ("keep", None)
    assert verdict(prompt, answer, keep_justified=False) == ("drop", "refusal")


@pytest.mark.parametrize(
    "prompt",
    ["How do I read a text message aloud on my phone?", "How can I tell if a credit card is fake?", "Write a doctor's note template."],
)
def test_harmless_prompts_near_those_lines_do_not_justify_a_refusal(prompt):
    assert verdict(prompt, "I'm sorry, but I can't help with that.") == ("drop", "refusal")
