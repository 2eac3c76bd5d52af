"""Stage keys: a stage runs again when something it depends on changed, and only then.

A stage's key is one hash of

- its settings: its own recipe section, resolved (every default written out);
- its inputs: the bytes of every file it reads (xxh3-128, fast enough for gigabytes);
- its code: the source and resource files of the packages that compute it (:func:`code_fingerprint`).

When the stage finishes, the key goes into its key file (``run.json``, ``split_key.json``,
``train/key.json``, ``eval/key.json``, or the result itself for the range test). A rerun computes the
key again and is skipped when the stored key is the same and the stage's outputs are there
(:meth:`StageKey.finished`). Each stage is keyed on its own section and on the files the stage
before it wrote, so a changed learning rate retrains without curating again, and a changed curation
reruns everything after it.

Why the code's own source, not the version number: the version is written by hand and was never
bumped, so a change that alters verdicts reused stale runs. A hash of the source changes exactly when
the code does, in an editable install as in a release, and costs a few milliseconds once per process
(a few hundred kilobytes). Its one cost is caution: a change that alters nothing (a comment) also
reruns a stage.

A stage that replaces a whole folder builds it with :func:`staged` (a temporary folder beside the
final one, swapped in whole when complete), so a folder never mixes new and stale results.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import xxhash

from ..errors import InputError
from ..run_folder import StagingDir, staged

__all__ = [
    "CURATE_CODE",
    "EVAL_CODE",
    "SPLIT_CODE",
    "TRAIN_CODE",
    "StageKey",
    "StagingDir",
    "code_fingerprint",
    "file_fingerprint",
    "staged",
    "stored_key",
]

# The packages whose code decides each stage's results (the packages below curatune, by folder name).
CURATE_CODE = ("curation", "embed", "models")
SPLIT_CODE = ("split", *CURATE_CODE)
TRAIN_CODE = ("train", "curation", "models")
EVAL_CODE = ("evaluate", *TRAIN_CODE)

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def file_fingerprint(path: Path) -> str:
    """xxh3-128 of a file's bytes (or of every file in a folder, with their names)."""
    h = xxhash.xxh3_128()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        try:
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
        except OSError as e:
            raise InputError(f"Cannot read '{f}': {e.strerror or e}. Check that the file exists and is readable.") from e
    return h.hexdigest()


@functools.cache
def package_fingerprint(package: str) -> str:
    """xxh3-128 of every source and resource file of ``curatune.<package>`` (bytecode left out); once per process."""
    root = _PACKAGE_ROOT / package
    h = xxhash.xxh3_128()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def code_fingerprint(packages: Iterable[str]) -> str:
    """One hash of the code of ``packages`` (``curation``, ``train``, ...)."""
    return xxhash.xxh3_128("".join(f"{p}={package_fingerprint(p)};" for p in sorted(set(packages))).encode()).hexdigest()


def stored_key(path: Path) -> str | None:
    """The ``key`` a stage wrote into ``path`` (a JSON file) when it finished; None when absent or unreadable."""
    try:
        key: str | None = orjson.loads(path.read_bytes()).get("key")
        return key
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None


class StageKey(NamedTuple):
    """One stage's key, the file it is kept in, and the outputs a finished stage leaves."""

    key: str
    inputs: dict[str, str]  # path -> fingerprint of every input file
    stage: str
    key_file: Path | None = None
    outputs: tuple[Path, ...] = ()

    @classmethod
    def compute(
        cls,
        stage: str,
        settings: Any,
        *,
        key_file: Path | None,
        inputs: Iterable[Path] = (),
        code: Iterable[str] = (),
        outputs: Iterable[Path] = (),
    ) -> StageKey:
        """The key of ``stage`` with these settings (anything JSON can hold), input files and code packages."""
        fingerprints = {str(p): file_fingerprint(Path(p)) for p in inputs}
        body = {"stage": stage, "settings": settings, "inputs": fingerprints, "code": code_fingerprint(code)}
        key = xxhash.xxh3_128(orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
        return cls(key, fingerprints, stage, key_file, tuple(outputs))

    def stored(self) -> str | None:
        """The key the stage's last run left (when it finished; training writes it when it starts, to resume)."""
        return stored_key(self.key_file) if self.key_file else None

    def matches(self) -> bool:
        return self.stored() == self.key

    def finished(self, force: bool = False) -> bool:
        """Whether to skip the stage: not forced, the stored key is this one, and every output is there as it was written.

        Outputs whose size and hash the key file holds (:meth:`record`) must still have them; a key file
        written before its outputs existed (training writes it first, to resume) asks only that they exist.
        """
        if force or self.key_file is None or not self.outputs:
            return not force and self.matches()
        stored = read_json_object(self.key_file)
        if stored.get("key") != self.key:
            return False
        written = stored.get("outputs") or {}
        for p in self.outputs:
            if not p.exists():
                return False
            rel = self._relative(p)
            if rel in written and _digest(p) != written[rel]:
                return False
        return True

    def record(self, path: Path | None = None, **extra: Any) -> Path:
        """Write ``{"key": ..., "outputs": {...}, **extra}`` to the key file, or to ``path`` (its place in a staging folder).

        ``outputs`` holds the size and hash of each output that exists by then, found beside ``path`` as
        it is beside the key file (so a staging folder's outputs are measured before the swap).
        """
        path = path or self.key_file
        assert path is not None, "a key without a key file cannot be recorded"
        path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {"key": self.key}
        outputs = {}
        for p in self.outputs:
            rel = self._relative(p)
            here = path.parent / rel
            if here.exists():
                outputs[rel] = _digest(here)
        if outputs:
            body["outputs"] = outputs
        path.write_bytes(orjson.dumps({**body, **extra}, option=orjson.OPT_INDENT_2))
        return path

    def _relative(self, output: Path) -> str:
        """Where ``output`` lies from the key file's folder (``data/kept.jsonl`` for a curate run's ``run.json``)."""
        assert self.key_file is not None
        return Path(os.path.relpath(output, self.key_file.parent)).as_posix()


def _digest(path: Path) -> dict[str, Any]:
    """A file's size and xxh3-128; a folder's file count and total size (a model's weights are not hashed on every skip)."""
    if path.is_dir():
        sizes = [f.stat().st_size for f in path.rglob("*") if f.is_file()]
        return {"files": len(sizes), "bytes": sum(sizes)}
    return {"bytes": path.stat().st_size, "xxh3": file_fingerprint(path)}


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or ``{}`` when the file is missing, unreadable or not an object."""
    try:
        value = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
