"""Load a tokenizer from a folder, a GGUF file, a hub id (offline cache only), or the packaged default.

Converting a GGUF tokenizer takes about 15 s, so the converted tokenizer is
cached under ``$CURATUNE_CACHE`` (default ``~/.cache/curatune``) keyed by the
GGUF file's path, size and modification time.

``load_counting_tokenizer`` is for steps that only count tokens: importing
transformers' tokenizer classes pulls in torch and costs about 5 s in every
worker process, so when a folder holds ``tokenizer.json`` it loads the Rust
tokenizer directly and renders the chat template with transformers' own
template renderer (which imports without torch).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError
from .packaged import smollm2_gguf

DEFAULT = "default"


def cache_dir() -> Path:
    return Path(os.environ.get("CURATUNE_CACHE", Path.home() / ".cache" / "curatune"))


def gguf_cache_key(gguf: Path) -> str:
    """Cache key of a GGUF file: its path, size and modification time (a replaced file gets a fresh key)."""
    st = gguf.stat()
    return hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def save_atomically(target: Path, save: Callable[[Path], object]) -> None:
    """``save(folder)`` into a temporary folder renamed to ``target``: readers never see half a conversion."""
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    save(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process converted it first
        shutil.rmtree(tmp, ignore_errors=True)


def _gguf_cache_folder(gguf: Path) -> Path:
    """The folder the converted tokenizer of a GGUF file is cached in, converting it first if needed."""
    cached = cache_dir() / "tokenizers" / gguf_cache_key(gguf)
    if not (cached / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        save_atomically(cached, tok.save_pretrained)
    return cached


def _from_gguf(gguf: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_gguf_cache_folder(gguf))


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
            raise InputError(
                f"Cannot load a tokenizer from the folder '{path}' ({e}). It needs tokenizer.json or tokenizer_config.json."
            ) from e
    try:
        return AutoTokenizer.from_pretrained(spec)
    except Exception as e:
        raise InputError(
            f"Cannot load tokenizer {spec!r}: it is not a local folder or .gguf file, and curatune does not download at run "
            "time. Download it once (huggingface-cli download ID) and pass its folder, or use the default (packaged SmolLM2)."
        ) from e


_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class CountingTokenizer:
    """The part of a Hugging Face fast tokenizer that counting needs, without importing transformers' tokenizers.

    ``backend_tokenizer`` is the Rust tokenizer, ``chat_template`` the template,
    ``apply_chat_template`` renders it as ``PreTrainedTokenizerBase.apply_chat_template``
    does (same renderer, same special-token variables) and ``__call__`` encodes.
    """

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self.folder = folder
        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        template = config.get("chat_template")
        if template is None and (folder / "chat_template.jinja").is_file():
            template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
        self.chat_template: str | None = template if isinstance(template, str) else None
        self.special_tokens_map = {k: _token_text(config[k]) for k in _SPECIAL_KEYS if config.get(k) is not None}

    @functools.cached_property
    def template_key(self) -> str:
        """Identifies what rendering depends on: the tokenizer file (path, size, time), the template, the special tokens."""
        st = (self.folder / "tokenizer.json").stat()
        stamp = json.dumps(
            [str(self.folder.resolve()), st.st_size, st.st_mtime_ns, self.chat_template, self.special_tokens_map], sort_keys=True
        )
        return hashlib.sha256(stamp.encode()).hexdigest()[:24]

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.backend_tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}

    def apply_chat_template(self, messages: list[dict[str, Any]], tokenize: bool = True, add_generation_prompt: bool = False):
        from transformers.utils.chat_template_utils import render_jinja_template

        if self.chat_template is None:
            raise ValueError(f"The tokenizer in {self.folder} has no chat template.")
        messages = [{k: v for k, v in m.items() if v is not None} for m in messages]
        # transformers annotates the result as str; it returns (rendered conversations, generation indices).
        rendered, _ = render_jinja_template(  # type: ignore[str-unpack]
            conversations=[messages],
            chat_template=self.chat_template,
            add_generation_prompt=add_generation_prompt,
            **self.special_tokens_map,  # type: ignore[arg-type]  # the template's variables (bos_token, ...), all through **kwargs
        )
        return self(rendered[0], add_special_tokens=False) if tokenize else rendered[0]


def _token_text(value: Any) -> str:
    return value["content"] if isinstance(value, dict) else str(value)


@functools.lru_cache(maxsize=4)
def load_counting_tokenizer(spec: str = DEFAULT):
    """A tokenizer for counting tokens: a :class:`CountingTokenizer` where the files allow, else ``load_tokenizer``."""
    folder: Path | None = None
    if spec in (DEFAULT, "", None):
        folder = _gguf_cache_folder(smollm2_gguf())
    else:
        path = Path(spec).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            folder = _gguf_cache_folder(path)
        elif path.is_dir() and (path / "tokenizer.json").is_file() and (path / "tokenizer_config.json").is_file():
            folder = path
    if folder is not None and (folder / "tokenizer.json").is_file():
        return CountingTokenizer(folder)
    return load_tokenizer(spec)
