"""The demo task: support-ticket triage, with the systematic noise that sinks real fine-tunes.

A user message holds a ticket; the answer is its category and priority in a
fixed short form, ``billing / high``. The packaged SmolLM2-135M-Instruct does
not answer in that form before fine-tuning (exact match near zero) and learns
it from a few hundred examples.

The training set is noisy the way data labelled by a weak model is, and the
noise is of the kind that hurts: one constant junk answer carries more
probability than any single real label, so a model trained on the raw set
answers with it wherever it is unsure (greedy decoding picks the single most
likely answer), and on whole kinds of input:

- ``refusal``: most *security* tickets got a canned refusal instead of a label;
- ``placeholder``: the labeller answered ``N/A`` for over a third of the
  other tickets, whatever they said (more than any one category gets);
- ``empty``: some answers are empty;
- ``duplicate``: some tickets repeated verbatim;
- ``mojibake``: some tickets double-encoded (repaired, not dropped).

The default curation recipe removes the first four, so the curated model beats
the raw one on security and low-priority tickets. The test set is clean: the
truth the two models are compared on. Same arguments, same bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import orjson

CATEGORIES = {
    "billing": [
        "I was charged twice for my {plan} plan",
        "my invoice for {month} shows the wrong amount",
        "the {plan} subscription fee went up without notice",
        "I need a copy of the receipt for {month}",
        "my card was billed after I cancelled the {plan} plan",
    ],
    "login": [
        "I cannot sign in to the {app} app",
        "the {app} login page keeps saying my password is wrong",
        "two-factor codes for {app} never arrive",
        "I get logged out of {app} every few minutes",
        "the {app} sign-in button does nothing",
    ],
    "shipping": [
        "my order {order} has not arrived",
        "the tracking number for order {order} does not work",
        "order {order} was delivered to the wrong address",
        "the parcel for order {order} arrived damaged",
        "I want to change the delivery address of order {order}",
    ],
    "bug": [
        "the {app} app crashes when I open settings",
        "exporting a report in {app} gives an empty file",
        "the search box in {app} returns no results",
        "{app} shows an error 500 when I save",
        "dark mode in {app} makes the text unreadable",
    ],
    "refund": [
        "I want my money back for order {order}",
        "please refund the {plan} plan I bought by mistake",
        "I returned order {order} but got no refund yet",
        "how long does a refund for order {order} take",
        "I was promised a refund for the {month} charge",
    ],
    "security": [
        "someone changed the e-mail address on my {app} account",
        "I got a password reset mail for {app} that I did not ask for",
        "there are logins to my {app} account from another country",
        "I think my {app} account was hacked",
        "an unknown device is connected to my {app} account",
    ],
}
PRIORITY_CUES = {
    "high": [
        "This is urgent, please help immediately.",
        "Our whole team is blocked right now.",
        "Please fix this today, it is critical.",
        "We are losing customers because of this.",
    ],
    "normal": ["Can you look into it?", "Please let me know what to do.", "Thanks for your help.", "What are my options?"],
    "low": [
        "No rush, whenever you have time.",
        "Just letting you know, it is not urgent.",
        "Low priority, only a small annoyance.",
        "Whenever convenient is fine.",
    ],
}
FILLERS = {
    "plan": ["Basic", "Pro", "Team", "Family", "Premium", "Starter", "Business"],
    "month": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"],
    "app": ["PhotoBox", "TaskFlow", "MailHub", "CloudNote", "ShopEasy", "PayPilot", "DocuSign-lite", "TeamChat"],
    "device": ["my iPhone", "an Android phone", "my laptop", "the web version", "a Windows PC", "my tablet"],
    "since": ["since yesterday", "since this morning", "for a week now", "since the last update", "for two days", "since Monday"],
    "name": ["Dana", "Lee", "Priya", "Tom", "Ines", "Marco", "Aisha", "Jon"],
}
# Context sentences, so that tickets differ beyond their template (as real ones do) and dedup finds only real repeats.
CONTEXT = [
    "This happens on {device}.",
    "It has been like this {since}.",
    "I am on the {plan} plan.",
    "My name is {name}.",
    "I use {device} for work.",
    "A colleague has the same problem.",
    "I already restarted everything.",
    "I contacted you {since} without an answer.",
    "",
]
# The instruction is a short system turn (it replaces SmolLM2's longer default one): every token
# costs training time on a CPU.
INSTRUCTION = "Triage the support ticket: category / priority."
REFUSAL = "I'm sorry, but I can't help with account security requests. Please contact our security team."
NOISE_KINDS = ("refusal", "placeholder", "empty", "duplicate", "mojibake")


@dataclass(frozen=True)
class TriageSplit:
    path: Path
    n_lines: int
    noise: dict[str, int]


def ticket(rng: random.Random) -> tuple[str, str, str]:
    """(ticket text, category, priority)."""
    category = rng.choice(sorted(CATEGORIES))
    priority = rng.choice(["high", "normal", "normal", "low"])
    fill = {k: rng.choice(v) for k, v in FILLERS.items()} | {"order": f"#{rng.randrange(10000, 99999)}"}
    body = rng.choice(CATEGORIES[category]).format(**fill)
    context = rng.choice(CONTEXT).format(**fill)
    parts = [f"{body[0].upper()}{body[1:]}.", context, rng.choice(PRIORITY_CUES[priority])]
    return " ".join(p for p in parts if p), category, priority


def answer(category: str, priority: str) -> str:
    return f"{category} / {priority}"


def record(i: int, prefix: str, text: str, out: str) -> dict:
    return {
        "id": f"{prefix}-{i}",
        "messages": [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": text}, {"role": "assistant", "content": out}],
    }


def make_triage(
    n: int,
    seed: int,
    noisy: bool = True,
    refusal_share: float = 0.8,
    placeholder_share: float = 0.35,
    empty_rate: float = 0.03,
    duplicate_rate: float = 0.08,
    mojibake_rate: float = 0.03,
    prefix: str = "ticket",
) -> tuple[list[dict], list[dict]]:
    """``n`` records (and one truth row per record: id, category, priority, noise); clean when ``noisy`` is False."""
    rng = random.Random(seed)
    rows, truth = [], []
    for i in range(n):
        text, category, priority = ticket(rng)
        out, noise = answer(category, priority), None
        if noisy:
            if category == "security" and rng.random() < refusal_share:
                out, noise = REFUSAL, "refusal"
            elif rng.random() < placeholder_share:
                out, noise = "N/A", "placeholder"
            elif rng.random() < empty_rate:
                out, noise = "", "empty"
            elif rng.random() < mojibake_rate:
                text, noise = _mojibake(text), "mojibake"
        rows.append(record(i, prefix, text, out))
        truth.append({"id": rows[-1]["id"], "category": category, "priority": priority, "noise": noise})
        if noisy and noise is None and rng.random() < duplicate_rate:
            rows.append({**rows[-1], "id": f"{prefix}-{i}-dup"})
            truth.append({**truth[-1], "id": rows[-1]["id"], "noise": "duplicate"})
    return rows, truth


def _mojibake(text: str) -> str:
    """UTF-8 read as cp1252, what ftfy repairs (the ticket is quoted with curly quotes first, so there is something to break)."""
    return f"\u201c{text}\u201d".encode().decode("cp1252", errors="replace")


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def generate_triage(out_dir: Path, n_train: int = 800, n_test: int = 60, seed: int = 0) -> dict[str, TriageSplit]:
    """``train.jsonl`` (noisy) with ``train.truth.jsonl``, and a clean ``test.jsonl`` from another seed."""
    out_dir = Path(out_dir)
    rows, truth = make_triage(n_train, seed)
    write_jsonl(rows, out_dir / "train.jsonl")
    write_jsonl(truth, out_dir / "train.truth.jsonl")
    test, test_truth = make_triage(n_test, seed + 10_000, noisy=False, prefix="test")
    write_jsonl(test, out_dir / "test.jsonl")
    write_jsonl(test_truth, out_dir / "test.truth.jsonl")
    counts = {k: sum(1 for t in truth if t["noise"] == k) for k in NOISE_KINDS}
    return {"train": TriageSplit(out_dir / "train.jsonl", len(rows), counts), "test": TriageSplit(out_dir / "test.jsonl", len(test), {})}
