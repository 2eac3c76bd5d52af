"""filter.language and filter.answer_language on clear English, French, German and Spanish texts (bundled model, offline)."""

from __future__ import annotations

from curatune.curation.filter._langid import bundled_model_path, detect
from curatune.curation.filter.language import AnswerLanguage, Language, translation_cue
from curatune.curation.record import Record

EN = "The weather was lovely this morning, so we walked along the river and had breakfast in a small cafe near the bridge."
FR = "Il faisait très beau ce matin, alors nous avons marché le long de la rivière et pris le petit déjeuner dans un café."
DE = "Heute Morgen war das Wetter herrlich, also sind wir am Fluss entlang spaziert und haben in einem kleinen Café gefrühstückt."
ES = "Esta mañana hacía muy buen tiempo, así que caminamos junto al río y desayunamos en un pequeño café cerca del puente."
EN_Q = "Can you describe what you did this morning and where you had your breakfast with your friends?"


def chat(q: str, a: str) -> Record:
    return Record("r", messages=[{"role": "user", "content": q}, {"role": "assistant", "content": a}])


def test_bundled_model_only():
    assert bundled_model_path().name == "lid.176.ftz"
    assert [detect(t)[0][0] for t in (EN, FR, DE, ES)] == ["en", "fr", "de", "es"]
    assert detect("") == []


def test_language_keeps_allowed_and_drops_others():
    f = Language()
    assert f.keep(chat(EN_Q, EN)).action == "keep"
    for text, code in ((FR, "fr"), (DE, "de"), (ES, "es")):
        v = f.keep(chat(EN_Q, text))
        assert (v.action, v.reason, v.threshold) == ("drop", "language_not_allowed", 0.8)
        assert v.value >= 0.8
        assert v.detail == f"messages[1].content; lang={code}; allowed=en"
    v = Language(languages=["en", "fr"]).keep(chat(EN_Q, FR))
    assert v.action == "keep"
    assert Language(languages=[]).keep(chat(FR, DE)).action == "keep"


def test_short_texts_code_and_translations_are_not_judged():
    f = Language()
    assert f.keep(chat("Capital of France?", "Paris.")).action == "keep"
    assert f.keep(chat("Who was deaf?", "Ludwig van Beethoven")).action == "keep"
    assert f.keep(chat("Write code", "```python\nprint('bonjour le monde, comment allez-vous aujourd hui')\n```")).action == "keep"
    assert f.keep(chat("Translate into French: " + EN, FR)).action == "keep"
    assert f.keep(chat("Answer in Spanish please: " + EN_Q, ES)).action == "keep"
    assert f.keep(chat("Translate this sentence: " + DE, EN)).action == "keep"
    assert Language(exempt_translation=False).keep(chat("Translate into French: " + EN, FR)).reason == "language_not_allowed"


def test_prompt_language_is_judged_too():
    v = Language().keep(chat(DE + " Was meinst du dazu?", EN))
    assert (v.action, v.reason) == ("drop", "language_not_allowed")
    assert v.detail.startswith("messages[0].content; lang=de")
    assert Language(fields="answer").keep(chat(DE, EN)).action == "keep"


def test_answer_language_mismatch():
    f = AnswerLanguage()
    v = f.keep(chat(EN_Q, FR))
    assert (v.action, v.reason, v.threshold, v.detail) == ("drop", "answer_language_mismatch", 0.8, "prompt=en; answer=fr")
    assert f.keep(chat(EN_Q, EN)).action == "keep"
    assert f.keep(chat(FR, FR)).action == "keep"
    assert f.keep(chat("Translate to German: " + EN, DE)).action == "keep"
    # An English instruction over a Spanish passage may be answered in Spanish.
    assert f.keep(chat("Summarise the passage below in one sentence.\n\n" + ES, ES)).action == "keep"
    assert f.keep(chat(EN_Q, "Oui.")).action == "keep"


def test_translation_cue():
    assert translation_cue("Translate this to Japanese")
    assert translation_cue("Answer in French.")
    assert not translation_cue("What is the capital of France?")


def test_other_kinds():
    f = Language()
    assert f.keep(Record("t", text=FR)).reason == "language_not_allowed"
    assert f.keep(Record("t", text=EN, label="pos")).action == "keep"
    assert f.keep(Record("p", messages=[{"role": "user", "content": EN_Q}], chosen=ES, rejected=EN)).reason == "language_not_allowed"
