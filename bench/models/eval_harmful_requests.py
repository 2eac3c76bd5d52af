"""keep_justified's harmful-request check (``filter.refusal.justified``, harmful_requests.txt) on written prompts:
how many harmful prompts it recognises and how many harmless ones it takes for harmful, each mistake printed.

harmful_requests_dev.jsonl (30 harmful, 20 harmless) was written before the round-6 lines and tuned on;
harmful_requests_dev2.jsonl (15 harmful, 13 harmless) was written before them too and scored once, after they were
frozen.

    .venv/bin/python bench/models/eval_harmful_requests.py
"""

from __future__ import annotations

import json
from pathlib import Path

from curatune.curation.filter.refusal import justified

HERE = Path(__file__).resolve().parent


def main() -> int:
    print("| set | harmful recognised | harmless taken |\n|---|---:|---:|")
    wrong = []
    for name in ("harmful_requests_dev.jsonl", "harmful_requests_dev2.jsonl"):
        rows = [json.loads(x) for x in (HERE / name).read_text().splitlines() if x.strip()]
        harmful = [r for r in rows if r["harmful"]]
        harmless = [r for r in rows if not r["harmful"]]
        got = sum(justified(r["prompt"]) for r in harmful)
        taken = sum(justified(r["prompt"]) for r in harmless)
        print(f"| {name} | {got}/{len(harmful)} | {taken}/{len(harmless)} |")
        wrong += [(name, r) for r in rows if justified(r["prompt"]) != r["harmful"]]
    for name, r in wrong:
        print(f"  {'missed' if r['harmful'] else 'taken'} ({name}): {r['prompt']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
