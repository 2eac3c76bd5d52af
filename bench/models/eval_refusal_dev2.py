"""filter.refusal on bench/models/refusal_dev2.jsonl (written for issue 15 continued before tuning): recall by where the
refusal sits, false positives on look-alikes, each miss with the gate's answer and the model's best sentence
probability, and the drops on real Alpaca and Dolly records. The same report as eval_refusal_dev3.py, on dev2.

    .venv/bin/python bench/models/eval_refusal_dev2.py          # the step's threshold
    .venv/bin/python bench/models/eval_refusal_dev2.py 0.8      # another model_threshold
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import eval_refusal_dev3  # noqa: E402  (a sibling script, not a package)

if __name__ == "__main__":
    threshold = ["--threshold", sys.argv[1]] if len(sys.argv) > 1 else []
    sys.argv = [sys.argv[0], "--dev", str(Path(__file__).with_name("refusal_dev2.jsonl")), *threshold]
    raise SystemExit(eval_refusal_dev3.main())
