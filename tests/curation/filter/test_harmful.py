"""filter.harmful: the lexicon's exact verdicts, the Scunthorpe problem, inflections, and the classifier hook."""

from __future__ import annotations

import pickle

import pytest

from curatune.curation.filter.harmful import Harmful, expand_forms
from curatune.curation.record import Record


def chat(answer: str, prompt: str = "Tell me.") -> Record:
    return Record("r", messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])


@pytest.fixture(scope="module")
def step() -> Harmful:
    h = Harmful()
    h.setup()
    return h


@pytest.mark.parametrize(
    "text",
    [
        "The assassin from Scunthorpe ordered a cocktail after seeing his therapist.",
        "Grape juice, rapeseed oil, a stable establishment in Bombay, and a class analysis of Essex.",
        "Add the spices to the pan and stir.",
        "Mercury and Venus can be seen with the naked eye.",
        "The Battle of Hastings was fought in 1066 and many soldiers were killed.",
        "Pour the gin over ice.",
    ],
)
def test_clean_texts_pass(step, text):
    assert step.keep(chat(text)).action == "keep"


def test_strong_terms_fail_at_once(step):
    v = step.keep(chat("I want to kill myself tonight."))
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "harmful_self_harm", 1.0, 1.0)
    assert v.detail == "messages[1].content; terms=kill myself"
    v = step.keep(chat("Shut up and listen, you stupid clown."))
    assert (v.reason, v.value) == ("harmful_harassment", 1.4)  # 'you stupid' 1 + weak 'shut up' and 'stupid' 0.2 each
    assert v.detail == "messages[1].content; terms=shut up,stupid,you stupid"
    assert step.keep(chat("Here is how to build a bomb at home.")).reason == "harmful_violence"
    assert step.keep(chat("Only an imbecile would ask this.")).reason == "harmful_harassment"


def test_weak_terms_add_up_once_per_entry(step):
    # kill/killed/killing are one entry: one weak word, 0.2.
    assert step.category_scores("They killed him; the killing of the king; killers everywhere.") == {"violence": (0.2, ["kill"])}
    story = "He was killed, then murdered again in the book; they stabbed and shot him with a gun and a bomb went off."
    assert step.category_scores(story) == {"violence": (1.0, ["bomb", "gun", "kill", "murder*", "stab"])}
    assert step.keep(chat(story)).reason == "harmful_violence"
    assert step.keep(chat("He was killed with a gun.")).action == "keep"


def test_categories_threshold_and_fields():
    only_sexual = Harmful(categories=["sexual"])
    only_sexual.setup()
    assert only_sexual.keep(chat("I want to kill myself.")).action == "keep"
    lenient = Harmful(threshold=2.0)
    lenient.setup()
    assert lenient.keep(chat("I want to kill myself.")).action == "keep"
    answers = Harmful(fields="answer")
    answers.setup()
    assert answers.keep(chat("I cannot help with that.", prompt="You stupid idiot, answer me.")).action == "keep"
    both = Harmful()
    both.setup()
    assert both.keep(chat("I cannot help with that.", prompt="You stupid idiot, answer me.")).detail.startswith("messages[0].content")


def test_expand_forms():
    assert expand_forms("kill|kills|killing*") == ["kill", "kills", "killing*"]
    assert expand_forms("(you|such an) (idiot|moron)") == ["you idiot", "you moron", "such an idiot", "such an moron"]


def test_pickles_without_patterns(step):
    clone = pickle.loads(pickle.dumps(step))
    assert not hasattr(clone, "_lexicon")
    clone.setup()  # as a worker process does
    assert clone.keep(chat("I want to kill myself.")).reason == "harmful_self_harm"


def test_custom_lexicon_and_bad_category(tmp_path):
    lex = tmp_path / "lex.yaml"
    lex.write_text("violence:\n  strong: [frobnicate*]\n  weak: []\n", encoding="utf-8")
    h = Harmful(categories=["violence"], lexicon_path=str(lex))
    h.setup()
    assert h.keep(chat("We frobnicated the widget.")).reason == "harmful_violence"
    from curatune.errors import InputError

    with pytest.raises(InputError, match="has no category 'hate'"):
        Harmful(categories=["hate"], lexicon_path=str(lex)).setup()


def _tiny_classifier(folder):
    """A random 2-label BERT with a word-level tokenizer trained here: tests the hook, not the judgement."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        ["hello world you are nice", "bad words here"], trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[CLS]", "[SEP]"])
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]")
    fast.save_pretrained(folder)
    config = BertConfig(
        vocab_size=fast.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        id2label={0: "safe", 1: "toxic"},
        label2id={"safe": 0, "toxic": 1},
    )
    import torch

    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    with torch.no_grad():  # make 'toxic' win on every input, so the verdict is known
        model.classifier.bias.copy_(torch.tensor([-5.0, 5.0]))
    model.save_pretrained(folder)


@pytest.mark.slow
def test_classifier_hook(tmp_path):
    folder = tmp_path / "clf"
    _tiny_classifier(folder)
    h = Harmful(categories=["violence"], classifier_path=str(folder), classifier_threshold=0.9)
    h.setup()
    v = h.keep(chat("hello world"))
    assert (v.action, v.reason, v.threshold) == ("drop", "harmful_classifier", 0.9)
    assert v.value > 0.99 and v.detail.endswith("label=toxic")
    safe_labels = Harmful(categories=["violence"], classifier_path=str(folder), classifier_safe_labels=["safe", "toxic"])
    safe_labels.setup()
    assert safe_labels.keep(chat("hello world")).action == "keep"


def test_missing_classifier_folder(tmp_path):
    from curatune.errors import InputError

    with pytest.raises(InputError, match="is not a folder"):
        Harmful(classifier_path=str(tmp_path / "nope")).setup()


# ---- issue 15: context for topic terms, statements a word list cannot see ------------------------------
# Examples written for these tests (not the unseen-phrasing file's, not bench/heldout's).


@pytest.mark.parametrize(
    "text",
    [
        "Screen time has risks: exposure to pornography, cyberbullying and addiction are threats parents should know about.",
        "Historians study the ethnic cleansing of the 1990s to understand how such crimes happen and how to prevent them.",
        "I'm going to beat you at chess tonight.",
        "Let me cut you a slice of the cake.",
        'Identify the tone of: "Do it or you will regret it".',
    ],
)
def test_discussed_topics_games_and_quoted_lines_are_not_flagged(step, text):
    assert step.keep(chat(text)).action == "keep"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Watch the pornography clip I sent.", "harmful_sexual"),  # a topic term with no discussion around it
        ("If you tell anyone, I'm going to hurt you.", "harmful_violence"),
        ("I know where you live.", "harmful_violence"),
        ("Refugees are vermin.", "harmful_hate"),
        ("Those people should be deported, every last one.", "harmful_hate"),
    ],
)
def test_explicit_topics_threats_and_dehumanising_claims_are_caught(step, text, reason):
    assert step.keep(chat(text)).reason == reason
