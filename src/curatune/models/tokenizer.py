"""Load a tokenizer from a folder, a GGUF file, a hub id (offline cache only), or the packaged default.

Converting a GGUF tokenizer takes about 15 s, so the converted tokenizer is
cached under ``$CURATUNE_CACHE`` (default ``~/.cache/curatune``) keyed by the
GGUF file's path, size and modification time.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from ..errors import InputError
from .packaged import smollm2_gguf

DEFAULT = "default"


def cache_dir() -> Path:
    return Path(os.environ.get("CURATUNE_CACHE", Path.home() / ".cache" / "curatune"))


def _from_gguf(gguf: Path):
    from transformers import AutoTokenizer

    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = cache_dir() / "tokenizers" / key
    if (cached / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(cached)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
    tok.save_pretrained(tmp)
    tmp.rename(cached) if not cached.exists() else None
    return tok


@functools.lru_cache(maxsize=4)
def load_tokenizer(spec: str = DEFAULT):
    """A Hugging Face tokenizer for ``spec``: ``default`` (packaged SmolLM2), a folder, a .gguf file, or a hub id."""
    from transformers import AutoTokenizer

    if spec in (DEFAULT, "", None):
        return _from_gguf(smollm2_gguf())
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _from_gguf(path)
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if not (path / "tokenizer_config.json").exists() and not (path / "tokenizer.json").exists() and ggufs:
            return _from_gguf(ggufs[0])
        try:
            return AutoTokenizer.from_pretrained(path)
        except Exception as e:
            raise InputError(f"Cannot load a tokenizer from the folder '{path}' ({e}). It needs tokenizer.json or tokenizer_config.json.") from e
    try:
        return AutoTokenizer.from_pretrained(spec)
    except Exception as e:
        raise InputError(
            f"Cannot load tokenizer {spec!r}: it is not a local folder or .gguf file, and curatune does not download at run "
            "time. Download it once (huggingface-cli download ID) and pass its folder, or use the default (packaged SmolLM2)."
        ) from e
