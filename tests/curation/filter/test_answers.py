"""Exact verdicts of the answer checks on hand-written positives and tricky negatives."""

from __future__ import annotations

import pytest

from curatune.curation.formats import FORMATS
from curatune.curation.record import Record
from curatune.curation.registry import build_step


def alpaca(instruction: str, output: str, inp: str = "") -> Record:
    return FORMATS["alpaca"].parse({"instruction": instruction, "input": inp, "output": output}, "t:1")


def chat(*turns: tuple[str, str]) -> Record:
    return Record("c:1", messages=[{"role": r, "content": c} for r, c in turns])


def verdict(step: str, rec: Record, **params) -> tuple[str, str | None]:
    v = build_step(step, params).keep(rec)
    return v.action, v.reason


LONG_HELPFUL = (
    "Language models predict the next token from the previous ones. They are trained on large corpora "
    "and then fine-tuned to follow instructions. Some people ask whether an assistant should say "
    "'as an AI language model' before answering; most style guides advise against it, because it adds "
    "nothing. Instead, answer the question directly, cite sources when you can, and say what you do not know."
)


# ---- filter.empty_answer ---------------------------------------------------------------


@pytest.mark.parametrize(
    "rec",
    [
        alpaca("Name a colour.", ""),
        alpaca("Name a colour.", "   \n\t "),
        chat(("user", "Hi"), ("assistant", "Hello!"), ("user", "Name a colour."), ("assistant", " ")),
        chat(("system", "Be brief."), ("user", "Hi"), ("assistant", "")),
        Record("p:1", messages=[{"role": "user", "content": "Hi"}], chosen="", rejected="Hello"),
        alpaca("Summarise.", "\u00a0\n", "Some text."),
        chat(("user", "a"), ("assistant", "\n\n")),
        alpaca("Write a poem.", "\r\n"),
    ],
)
def test_empty_answer_drops(rec):
    assert verdict("filter.empty_answer", rec) == ("drop", "empty_answer")


@pytest.mark.parametrize(
    "rec",
    [
        alpaca("What is the capital of France?", "Paris"),
        alpaca("Is 7 prime?", "Yes"),
        alpaca("Compute 2+2.", "4"),
        alpaca("Give a punctuation mark.", "."),
        chat(("user", "Hi"), ("assistant", "Hello!")),
        Record("t:1", text=""),  # plain text: the check does not apply
        Record("l:1", text="", label="pos"),
        Record("p:1", messages=[{"role": "user", "content": "Hi"}], chosen="Hello", rejected=""),
    ],
)
def test_empty_answer_keeps(rec):
    assert verdict("filter.empty_answer", rec) == ("keep", None)


def test_empty_answer_detail_names_the_turn():
    v = build_step("filter.empty_answer").keep(chat(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "")))
    assert v.detail == "messages[3].content is empty"


# ---- filter.placeholder_answer ---------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "<noinput>",
        "<nooutput>",
        "<No Output>",
        "N/A",
        "n/a.",
        "NA",
        "None",
        "null",
        "-",
        "...",
        "TODO",
        "No output",
        "  <no output>  ",
        "(none)",
    ],
)
def test_placeholder_answer_drops(answer):
    assert verdict("filter.placeholder_answer", alpaca("Design a logo for a bakery.", answer)) == ("drop", "placeholder_answer")


@pytest.mark.parametrize(
    "answer",
    [
        "Paris",
        "No",
        "42",
        "😈",  # emoji are an answer, not punctuation
        "💃🏻🌃🕺🏼",
        "None of the above options is correct.",
        "Not applicable to mammals, but true for birds.",
        "TODO lists help you plan the day.",
        "",  # empty is filter.empty_answer's
    ],
)
def test_placeholder_answer_keeps(answer):
    assert verdict("filter.placeholder_answer", alpaca("Answer the question.", answer)) == ("keep", None)


def test_placeholder_answer_in_a_later_turn():
    rec = chat(("user", "Hi"), ("assistant", "Hello, how can I help?"), ("user", "Draw a cat."), ("assistant", "<nooutput>"))
    v = build_step("filter.placeholder_answer").keep(rec)
    assert (v.action, v.reason, v.detail) == ("drop", "placeholder_answer", "messages[3].content is only '<nooutput>'")


# ---- filter.refusal --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("As an AI language model, I cannot provide legal advice.", "refusal"),
        ("As an AI language model, I cannot have opinions on politics.", "ai_disclaimer"),
        ("As an AI language model, I do not have a favourite food, but many people love pizza.", "ai_disclaimer"),
        ("I'm sorry, but I cannot help with that request.", "refusal"),
        ("I’m sorry, but I can’t provide that information.", "refusal"),  # curly apostrophes
        ("I cannot fulfill this request because it asks for personal data.", "refusal"),
        ("As a large language model trained by a company, I have no body.", "ai_disclaimer"),
        ("I don't have personal opinions. " + LONG_HELPFUL, "ai_disclaimer"),
        ("Sorry, the task requires a visual output which cannot be generated by the model.", "refusal"),
        ("No output because this instruction requires creating a visual output.", "refusal"),
        ("That is a great question. Unfortunately, I cannot provide medical advice.", "refusal"),  # short answer
    ],
)
def test_refusal_drops(answer, reason):
    assert verdict("filter.refusal", alpaca("Tell me something.", answer)) == ("drop", reason)


@pytest.mark.parametrize(
    "answer",
    [
        LONG_HELPFUL,  # mentions the phrase far from the start, in a long helpful answer
        "I'm sorry to hear that. Is there anything I can do to help?",  # empathy, not refusal
        "I can't believe I found the world's first ever Micophant.",
        "Unable to comprehend the intricate details of the problem, he sought assistance.",
        "GPT-3 is a large language model developed by OpenAI.",
        "No, alpacas and llamas are different species.",
        "Paris",
        "The AI model cannot see images, so the engineers added a vision encoder. " * 3,
    ],
)
def test_refusal_keeps(answer):
    assert verdict("filter.refusal", alpaca("Tell me something.", answer)) == ("keep", None)


def test_refusal_reads_the_chosen_answer_only():
    rec = Record(
        "p:1",
        messages=[{"role": "user", "content": "Hi"}],
        chosen="Hello! How can I help?",
        rejected="As an AI language model, I cannot greet.",
    )
    assert verdict("filter.refusal", rec) == ("keep", None)
    v = build_step("filter.refusal").keep(alpaca("Q", "As an AI language model, I cannot answer."))
    assert v.detail == "messages[1].content: 'as an ai language model' at the start"


# ---- filter.repeats_question -----------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        (alpaca("What is the capital of France?", "What is the capital of France?"), "same_as_question"),
        (alpaca("What is the capital of France?", "what is the capital of france"), "same_as_question"),
        (alpaca("Describe the water cycle.", "Describe the water cycle"), "same_as_question"),
        (alpaca("Summarize the article.", "Summarize the article.\n\nThe article text.", "The article text."), "same_as_question"),
        (
            alpaca("Create a 10-second animation of a village scene at night.", "A 10-second animation of a village scene at night."),
            "copies_question",
        ),
        (
            alpaca("Design a game where the player has to guess a secret number.", "A game where the player has to guess a secret number."),
            "copies_question",
        ),
        (
            chat(
                ("user", "Hi"),
                ("assistant", "Hello!"),
                ("user", "Explain how a rainbow forms in the sky."),
                ("assistant", "Explain how a rainbow forms in the sky."),
            ),
            "same_as_question",
        ),
        (
            alpaca("Write a short story about a brave knight and a dragon.", "a short story about a brave knight and a dragon"),
            "copies_question",
        ),
    ],
)
def test_repeats_question_drops(rec, reason):
    assert verdict("filter.repeats_question", rec) == ("drop", reason)


@pytest.mark.parametrize(
    "rec",
    [
        # full-sentence answers that restate the question around the answer
        alpaca("What was the capital of France in the 1900s?", "Paris was the capital of France in the 1900s."),
        alpaca(
            "Calculate the perimeter of an equilateral triangle with side lengths of 5",
            "The perimeter of an equilateral triangle with side lengths of 5 is 15.",
        ),
        # classification answers picked from the options in the question
        alpaca(
            "Classify the following sentence as before, during or after World War II.",
            "After World War II.",
            "Abstract art flourished in the 1950s.",
        ),
        alpaca(
            "From the given movie review, determine if the review is positive or negative.", "The review is positive.", "A stunning film."
        ),
        # rewrite / correction tasks whose answer copies the input
        alpaca("Correct the grammar in the sentence.", "She goes to school every day.", "She go to school every day."),
        alpaca(
            "Rewrite this sentence in the passive voice: The dog chased the cat around the garden.",
            "The cat was chased around the garden by the dog.",
        ),
        alpaca(
            "Proofread the following text.", "The quick brown fox jumps over the lazy dog.", "The quick brown fox jumps over the lazy dog."
        ),
        alpaca("Extract the names from the paragraph.", "Alice, Bob", "Alice met Bob at the station."),
        alpaca("What is the capital of France?", "Paris"),
    ],
)
def test_repeats_question_keeps(rec):
    assert verdict("filter.repeats_question", rec) == ("keep", None)


# ---- filter.truncated_answer -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Here is the function:\n```python\ndef add(a, b):\n    return a + b\n", "unclosed_code_fence"),
        ("```\nx = 1\n```\nAnd the second part:\n```js\nlet y = 2;", "unclosed_code_fence"),
        (
            "The three primary colours are red, blue and yellow. Mixing them gives the secondary colours (for example, orange from red and",
            "unbalanced_brackets",
        ),
        ("Rome was founded in 753 BC. It grew from a small town into an empire that ruled the Mediterranean and", "no_final_punctuation"),
        ("Both countries have worked together in many organisations such as the United Nations, NATO, and the", "no_final_punctuation"),
        ("The word aurora is derived from the name of the Roman goddess of the dawn,", "no_final_punctuation"),
        (
            "Photosynthesis turns light into chemical energy. Plants use it to make glucose from carbon dioxide and water, releasing "
            "oxygen",
            "no_final_punctuation",
        ),
        (
            "To bake bread, mix flour, water, yeast and salt. Knead the dough for ten minutes. Let it rise for an hour, then shape the "
            "loaf and bake it at",
            "no_final_punctuation",
        ),
        ("Here are the steps to follow for a good night of sleep:", "no_final_punctuation"),
    ],
)
def test_truncated_answer_drops(answer, reason):
    assert verdict("filter.truncated_answer", alpaca("Explain.", answer)) == ("drop", reason)


@pytest.mark.parametrize(
    "answer",
    [
        "Paris",
        "Golden Gate Bridge",
        "The Lord of the Rings",
        "3,478",
        "The total cost of the order is 72 + 8 = 80",
        "def add(a, b):\n    return a + b",  # unfenced code
        "Here you go:\n```python\nprint('hi')\n```",  # ends with a code block
        "The syntax for creating an array in JavaScript is `var arrayName = [];`",
        "Ingredients:\n- flour\n- water\n- yeast\n- salt",
        "1. Preheat the oven\n2. Mix the batter\n3. Bake for 30 minutes",
        "Golden sun shines bright\nSeagulls soaring in the sky\nPeaceful waves rolling in",  # a haiku
        "Stay safe and stay home. Keep up social distancing! #StaySafe #SocialDistancing",
        "Thank you for your time. We look forward to hearing from you.\n\nSincerely,\nCompany A",
        '"Optimism is the faith that leads to achievement. Nothing can be done without hope." - Helen Keller',
        "Rugrats, Clarissa Explains it All, Hey Dude, The Wild Thornberries, Rocko's Modern Life",
        "Read more about it at https://en.wikipedia.org/wiki/Three-body_problem",
        "A smiley at the end is fine :) really it is. I promise it is 🙂",
    ],
)
def test_truncated_answer_keeps(answer):
    assert verdict("filter.truncated_answer", alpaca("Explain.", answer)) == ("keep", None)


def test_truncated_answer_without_sentence_rule_only_flags_dangling_ends():
    multi = "Rome was founded in 753 BC. It grew from a small town into an empire"
    assert verdict("filter.truncated_answer", alpaca("Explain.", multi)) == ("drop", "no_final_punctuation")
    assert verdict("filter.truncated_answer", alpaca("Explain.", multi), final_punctuation="dangling") == ("keep", None)
    dangling = multi + " that ruled the"
    assert verdict("filter.truncated_answer", alpaca("Explain.", dangling), final_punctuation="dangling") == (
        "drop",
        "no_final_punctuation",
    )


def test_truncated_answer_detail():
    v = build_step("filter.truncated_answer").keep(alpaca("Explain.", "Rome was founded in 753 BC. It grew into an empire that ruled the"))
    assert (v.value, v.detail) == ("the", "messages[1].content ends 'd in 753 BC. It grew into an empire that ruled the' (dangling word)")


def test_answer_checks_pass_plain_text_and_labels():
    for step in (
        "filter.empty_answer",
        "filter.placeholder_answer",
        "filter.refusal",
        "filter.repeats_question",
        "filter.truncated_answer",
    ):
        assert build_step(step).keep(Record("t:1", text="As an AI language model, I cannot")).action == "keep"
        assert build_step(step).keep(Record("l:1", text="N/A", label="neg")).action == "keep"


# ---- planted defects from the generator --------------------------------------------------

# The targets: recall >= 0.98 on empty answers, >= 0.90 on refusals and truncations, and
# (over all steps) at most 1% of clean records dropped. Truncation measures 0.90 over seeds 1-3 and
# all three formats (n=4000 each); one seed of 4000 alpaca rows can dip to 0.88, hence 0.85 here.
RECALL_FLOOR = {
    "filter.empty_answer": ("empty_answer", 0.98),
    "filter.placeholder_answer": ("placeholder_answer", 0.95),
    "filter.refusal": ("refusal", 0.90),
    "filter.truncated_answer": ("truncated_answer", 0.85),
}


def test_recall_and_clean_false_positives_on_generated_data():
    from curatune.generate import make_noisy_rows

    rows, truth = make_noisy_rows(2000, 0.5, seed=7, fmt="alpaca", malformed=False)
    recs = [(FORMATS["alpaca"].parse(r, t["id"]), t["defect"]) for r, t in zip(rows, truth)]
    names = list(RECALL_FLOOR) + ["filter.repeats_question", "filter.merged_instructions", "filter.missing_input"]
    steps = {n: build_step(n) for n in names}
    clean = [r for r, d in recs if d == "clean"]
    wrongly_dropped = [r.id for r in clean if any(s.keep(r).action != "keep" for s in steps.values())]
    assert len(wrongly_dropped) <= 0.01 * len(clean), wrongly_dropped[:10]
    for name, (defect, floor) in RECALL_FLOOR.items():
        planted = [r for r, d in recs if d == defect]
        caught = sum(steps[name].keep(r).action == "drop" for r in planted)
        assert planted and caught / len(planted) >= floor, (name, caught, len(planted))


# ---- real data: a guard on how much clean-looking data the defaults flag -----------------

# Measured on 2026-11-23: alpaca_random_9k (9,229 records) / dolly_3k (2,996). Every flag was read by
# eye; the bounds leave room for phrase-list growth but catch a default that starts flagging clean data.
# Issue 15 (2026-12-05) added: the refusal sentence model (alpaca 9: the 8 listed Self-Instruct refusals and one
# support ticket a user writes), echoed inputs and copied reference texts (alpaca 7, dolly 14: answers that are
# their input again, and Dolly answers that copy the whole context), deictic references (alpaca 49: 26 URL-only
# inputs, 23 references to material the record lacks), placeholder inputs (alpaca 132, each read: all
# placeholders), PII tasks (3 + 1: "Create an example of a valid email address", a phone regex, emergency
# numbers, a pamphlet's contact details), short answers cut on a connector. Every flag was read.
REAL_DATA_MAX = {
    "filter.empty_answer": (4, 0),
    "filter.placeholder_answer": (14, 0),
    "filter.refusal": (10, 2),
    "filter.repeats_question": (9, 16),
    "filter.truncated_answer": (20, 45),
    "filter.merged_instructions": (5, 5),
    "filter.missing_input": (52, 5),
    "filter.conversation": (0, 0),
    "filter.placeholder_input": (135, 0),
    "filter.pii_task": (4, 2),
    "filter.harmful": (1, 1),
}


@pytest.mark.slow
def test_flag_counts_on_real_data(shared_data):
    from curatune.curation.read.records import read_records

    for i, name in enumerate(("alpaca_random_9k", "dolly_3k")):
        recs = [r for r in read_records([shared_data / f"{name}.json"]) if isinstance(r, Record)]
        for step, bounds in REAL_DATA_MAX.items():
            st = build_step(step)
            st.setup()
            flagged = sum(st.keep(r).action != "keep" for r in recs)
            assert flagged <= bounds[i], (name, step, flagged)


# ---- issue 15: echoes of the input, placeholder shapes, short answers cut on a connector -------------------
# Examples written for these tests (not the unseen-phrasing file's, not bench/heldout's).


@pytest.mark.parametrize(
    ("instruction", "inp", "out", "reason"),
    [
        ("Make this sentence more formal.", "Gonna be late for the meeting today.", "Gonna be late for the meeting today.", "echoes_input"),
        ("Change the verb to the past tense.", "She walks to the old mill.", "she walks to the old mill", "echoes_input"),
        ("Turn the statement into a question.", "The museum opens at nine.", "Answer: The museum opens at nine.", "echoes_input"),
        (
            "Simplify the wording for a child.",
            "Photosynthesis converts light into energy.",
            "Sure! Photosynthesis converts light into energy.",
            "echoes_input",
        ),
    ],
)
def test_echoed_input_is_caught(instruction, inp, out, reason):
    assert verdict("filter.repeats_question", alpaca(instruction, out, inp)) == ("drop", reason)


def test_an_answer_copying_a_long_reference_text_is_caught():
    ref = " ".join(f"Sentence {i} of the reference text says something about the river and its towns." for i in range(5))
    assert verdict("filter.repeats_question", alpaca("What is the river known for?", ref, ref)) == ("drop", "copies_reference")
    # An edit task on a long text may give the same words back (a punctuation-only fix).
    assert verdict("filter.repeats_question", alpaca("Fix the punctuation of this text.", ref, ref)) == ("keep", None)


@pytest.mark.parametrize(
    ("instruction", "inp", "out"),
    [
        ("Check the sentence for errors and fix them if needed.", "The cat sleeps on the mat.", "The cat sleeps on the mat."),
        ("Capitalize the title properly.", "the old man and the sea", "The Old Man and the Sea"),
        ("Add a period at the end.", "We left at dawn", "We left at dawn."),
        ("Add a transition word to this sentence.", "She started to worry.", "Meanwhile, she started to worry."),
        ("Convert the list to JSON.", "name: Ana, age: 30", '{"name": "Ana", "age": 30}'),
        ("Classify the animal.", "Whale", "Whale"),  # under min_echo_words
    ],
)
def test_answers_that_change_the_input_or_may_keep_it_are_not_echoes(instruction, inp, out):
    assert verdict("filter.repeats_question", alpaca(instruction, out, inp)) == ("keep", None)


@pytest.mark.parametrize("out", ["{response}", "[Write your reply here]", "<output>", "No answer provided.", "Output: n.a.", "~~~"])
def test_template_placeholder_answers_are_caught(out):
    assert verdict("filter.placeholder_answer", alpaca("Name a river.", out)) == ("drop", "placeholder_answer")


@pytest.mark.parametrize("out", ["Nothing", "No.", "Unknown", "😀🎉", "None of them are prime.", "[1, 2, 3]"])
def test_short_answers_that_answer_are_not_placeholders(out):
    assert verdict("filter.placeholder_answer", alpaca("Answer briefly.", out)) == ("keep", None)


@pytest.mark.parametrize(
    ("out", "action"), [("Bonds are issued by the", "drop"), ("Salt, pepper and", "drop"), ("Gone with the Wind", "keep")]
)
def test_short_answers_cut_on_a_connector(out, action):
    assert verdict("filter.truncated_answer", alpaca("Say it.", out))[0] == action
