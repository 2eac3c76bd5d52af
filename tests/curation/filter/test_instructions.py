"""Exact verdicts of the instruction checks: merged instructions and missing inputs."""

from __future__ import annotations

import pytest

from curatune.curation.filter._instruct_text import instruction_and_input, without_inline_input
from curatune.curation.formats import FORMATS
from curatune.curation.record import Record
from curatune.curation.registry import build_step


def alpaca(instruction: str, output: str = "An answer.", inp: str = "") -> Record:
    return FORMATS["alpaca"].parse({"instruction": instruction, "input": inp, "output": output}, "t:1")


def chat(user: str, answer: str = "An answer.") -> Record:
    return Record("c:1", messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


def verdict(step: str, rec: Record, **params) -> tuple[str, str | None]:
    v = build_step(step, params).keep(rec)
    return v.action, v.reason


# ---- the shared split --------------------------------------------------------------------


def test_instruction_and_input_uses_the_alpaca_split():
    rec = alpaca("Summarise the text.\n\nKeep it short.", inp="Para one.\n\nPara two.")
    assert instruction_and_input(rec) == ("Summarise the text.\n\nKeep it short.", "Para one.\n\nPara two.")
    assert instruction_and_input(alpaca("Name a colour.")) == ("Name a colour.", "")
    # no alpaca mark: the first paragraph is the instruction
    assert instruction_and_input(chat("Summarise this:\n\nThe text.")) == ("Summarise this:", "The text.")
    assert without_inline_input('Rewrite this sentence: "The cat sat."') == "Rewrite this sentence"


# ---- filter.merged_instructions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        (
            alpaca("Write a haiku about autumn.\n\n### Instruction:\nTranslate 'hello' into French.\n\n### Response:\nBonjour"),
            "embedded_header",
        ),
        (alpaca("Give three tips for sleep.\nInput: none\nResponse: Sleep early."), "embedded_header"),
        (alpaca("Classify the animal.", inp="Instruction: Name a mammal.\nInput: <noinput>"), "embedded_header"),
        (chat("### Instruction\nSummarise the news."), "embedded_header"),
        (alpaca("1. Write a poem about the sea.\n2. Translate 'good morning' into Spanish.\n3. Name three planets."), "multiple_tasks"),
        (alpaca("Please do the following:\n- Summarize the history of Rome.\n- Explain photosynthesis."), "multiple_tasks"),
        (chat("1) Describe a cat.\n2) List five fruits."), "multiple_tasks"),
        (alpaca("Name a colour.", output="Blue.\n\nInstruction: Name a fruit.\nOutput: Apple."), "header_in_answer"),
        (alpaca("Name a colour.", output="Red.\n\n### Instruction:\nName a fruit.\n\n### Response:\nApple."), "header_in_answer"),
    ],
)
def test_merged_instructions_drops(rec, reason):
    assert verdict("filter.merged_instructions", rec) == ("drop", reason)


@pytest.mark.parametrize(
    "rec",
    [
        alpaca("Rank the following modes of transport by their impact.\n1. Air\n2. Train\n3. Road"),
        alpaca("Classify the following article into the categories:\n1) social issues\n2) health\n3) business", inp="Companies cut hours."),
        alpaca("Given the text, answer the questions:\n1. Who performed at halftime?\n2. Which team won?", inp="Super Bowl LV was..."),
        alpaca("Tell me which continent these cities are in:\n- Seattle\n- Lagos\n- Osaka"),
        alpaca("Create an input for this instruction", inp="Instruction: Find the sum of the first ten natural numbers"),
        alpaca("Suggest two inputs for the following instruction", inp="Instruction: Generate two titles for a paper"),
        alpaca("Write a Python function that reads input and prints output.", output="def main():\n    data = input()\n    print(data)"),
        alpaca("Create a hotel reservation system in pseudocode.", output="FUNCTION reserve\nINPUT: dates\nOUTPUT: booking id"),
        alpaca("Explain the steps of making tea.", output="1. Boil water.\n2. Add tea.\n3. Wait."),
        alpaca("Write a function that sums a list.\nInput: [1, 2, 3]\nOutput: 6"),  # examples, not a template
        alpaca("Document the GET /users endpoint.", output="### Request\nGET /users\n\n### Response\n200 OK with a JSON list."),
    ],
)
def test_merged_instructions_keeps(rec):
    assert verdict("filter.merged_instructions", rec) == ("keep", None)


def test_merged_instructions_detail():
    v = build_step("filter.merged_instructions").keep(alpaca("1. Write a poem.\n2. Translate it into French."))
    assert (v.value, v.threshold) == (2, 2)
    assert v.detail == "2 tasks in one instruction: Write a poem.; Translate it into French."


# ---- filter.missing_input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        (alpaca("Summarize the following article."), "missing_referenced_input"),
        (alpaca("Rewrite the given sentence in the passive voice."), "missing_referenced_input"),
        (alpaca("Translate this paragraph into German."), "missing_referenced_input"),
        (alpaca("Fix the bugs in the code below."), "missing_referenced_input"),
        (alpaca("Editing a manuscript requires which of the following?"), "missing_referenced_input"),
        (alpaca("Summarize the following text.", inp="<noinput>"), "missing_referenced_input"),
        (alpaca("Describe the attached image in detail."), "attachment_reference"),
        (alpaca("What is the reaction shown in this picture?"), "attachment_reference"),
        (alpaca("Summarize the contract (see attachment)."), "attachment_reference"),
        (alpaca("Summarize the article.", inp="https://www.example.com/news/2020/article.html"), "url_only_input"),
        (alpaca("Evaluate the web page for accessibility.", inp="www.example.org"), "url_only_input"),
    ],
)
def test_missing_input_drops(rec, reason):
    assert verdict("filter.missing_input", rec) == ("drop", reason)


@pytest.mark.parametrize(
    "rec",
    [
        alpaca("Summarize the following article.", inp="The city council voted on Tuesday to expand the park."),
        alpaca("Compose a limerick using the following words: star, deep, Earth, night."),
        alpaca('Summarize the following sentence in one word: "Coding is an important skill to have"'),
        alpaca("Is the following sentence true or false? Humans can breathe underwater."),
        alpaca("Which of the following items looks different? Banana, orange, plum."),
        alpaca("Explain the importance of the following term - Natural Language Processing"),
        alpaca("Construct a for loop for the following expression 10 + 2n"),
        alpaca("Write an algorithm that checks if a given sentence has sentence fragments."),  # a parameter, not an input
        alpaca("Explain what a figure of speech is."),
        alpaca("Write a function that extracts the domain from a URL.", inp="https://www.example.com/path"),
        chat("Summarize this text:\n\nThe city council voted on Tuesday to expand the park."),
        alpaca("Name three primary colours."),
    ],
)
def test_missing_input_keeps(rec):
    assert verdict("filter.missing_input", rec) == ("keep", None)


def test_missing_input_detail_and_non_chat():
    v = build_step("filter.missing_input").keep(alpaca("Summarize the following article."))
    assert v.detail == "the instruction refers to 'the following' but the record has no input"
    assert verdict("filter.missing_input", Record("t:1", text="Summarize the following article.")) == ("keep", None)


# ---- issue 15: placeholder inputs and references to material the record lacks --------------------------
# Examples written for these tests (not the unseen-phrasing file's, not bench/heldout's).


@pytest.mark.parametrize(
    "inp",
    ["<none>", "No input needed", "noinputgiven", "N/A.", "n.a.", "--", "{{ context }}", "[TEXT]", "$input", "(empty)",
     "Not applicable", "There is no input for this task.", "Input:", "  <No Input>  ", "Nothing provided.",
     "N\\A", "No input - the task is self-contained", "The question does not need any input.", "There's no input here."],
)  # fmt: skip
def test_placeholder_inputs_are_flagged(inp):
    v = build_step("filter.placeholder_input").keep(alpaca("Suggest a name for a bakery.", "Crumb & Co.", inp))
    assert (v.action, v.reason) == ("drop", "placeholder_input") and v.value == inp.strip()


@pytest.mark.parametrize(
    ("instruction", "inp"),
    [
        ("Translate the word into German.", "Nothing"),  # the input is the object of a word task
        ("What does the symbol mean?", "-"),
        ("Give a synonym for this word.", "empty"),
        ("Expand the abbreviation N/A.", "N/A"),  # the instruction quotes it
        ("Summarize the text.", "The council met on Monday to vote on the new park."),
        ("Name the river.", "Anna"),  # a name, not "an" + "na"
        ("Pick an option.", "(a)"),
        ("Sort the numbers.", "<noinput> 8"),  # a number is content
        ("Classify the reply as positive or negative.", "No."),  # "no" alone answers something
    ],
)
def test_real_inputs_are_not_placeholders(instruction, inp):
    assert verdict("filter.placeholder_input", alpaca(instruction, inp=inp)) == ("keep", None)


@pytest.mark.parametrize(
    "instruction",
    [
        "Proofread this cover letter and point out any typos.",
        "Who painted this portrait?",
        "Rate these three smartphones from best to worst.",
        "Based on the chart, which quarter had the highest sales?",
        "According to the passage, why did the settlers leave?",
        "Find the mistake in the calculation.",
        "Name the author of the quote below.",
        "Translate the provided dialogue into Italian.",
        "Put these events in chronological order.",
        "Give this melody a name.",
    ],
)
def test_deictic_references_without_material_are_caught(instruction):
    assert verdict("filter.missing_input", alpaca(instruction)) == ("drop", "missing_referenced_input")


@pytest.mark.parametrize(
    "instruction",
    [
        "Write a short poem about rain. Then give this poem a title.",  # an antecedent
        "Imagine a bakery that sells only bread. What would be a good slogan for this bakery?",
        "What are the biggest tech trends this year?",
        "What is the story of Romeo and Juliet?",
        "Describe the data science lifecycle.",
        "Compose the lyrics for a lullaby.",
        "Draft the email a manager would send to announce a team offsite.",
        "Write a function that checks whether the given string is a palindrome.",  # a parameter
        "In this exercise, list three synonyms for happy.",
        "Tell me if these teams made the playoffs: Orlando Magic, Detroit Pistons, Boston Celtics, Phoenix Suns",
        'Write a story that begins with "this house was haunted" and ends happily.',
        "How can a drought affect food supplies, and what effect does this change have?",
        "Is it possible to travel faster than light? Explain this idea.",
    ],
)
def test_self_contained_references_are_kept(instruction):
    assert verdict("filter.missing_input", alpaca(instruction)) == ("keep", None)


def test_a_placeholder_input_counts_as_no_input_for_missing_material():
    v = verdict("filter.missing_input", alpaca("Identify the theme of this painting.", inp="No input required"))
    assert v == ("drop", "missing_referenced_input")
