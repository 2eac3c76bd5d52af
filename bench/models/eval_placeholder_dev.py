"""filter.placeholder_input's judgement (``placeholder_kind``) on bench/models/placeholder_inputs_dev.txt, written for
issue 15 (continued) before testing on it: placeholders caught, real short inputs taken for placeholders.

    .venv/bin/python bench/models/eval_placeholder_dev.py
"""

from __future__ import annotations

from pathlib import Path

from curatune.curation.filter._placeholder import placeholder_kind


def main() -> int:
    rows = [(x[0] == "+", x[2:]) for x in Path(__file__).with_name("placeholder_inputs_dev.txt").read_text().splitlines() if x[:1] in "+-"]
    missed = [t for want, t in rows if want and placeholder_kind(t) is None]
    wrong = [t for want, t in rows if not want and placeholder_kind(t) is not None]
    positives = sum(1 for want, _ in rows if want)
    print(f"placeholders caught: {positives - len(missed)}/{positives}")
    print(f"real inputs taken for placeholders: {len(wrong)}/{len(rows) - positives}")
    for t in missed:
        print(f"  missed: {t!r}")
    for t in wrong:
        print(f"  wrong: {t!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
