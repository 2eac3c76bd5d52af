"""Find input files (one file, a glob, a folder) and open them, decompressing on the fly."""

from __future__ import annotations

import glob
import gzip
import io
import os
from pathlib import Path
from typing import cast

from ...errors import InputError

FILE_TYPES = ("jsonl", "json", "csv", "tsv", "parquet", "hf")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_SUFFIX_TYPES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def is_hf_folder(path: Path) -> bool:
    """A folder written by ``datasets``' ``save_to_disk`` (Dataset or DatasetDict)."""
    return path.is_dir() and any((path / name).exists() for name in ("state.json", "dataset_dict.json"))


def split_suffixes(path: Path) -> tuple[str | None, str | None]:
    """``(file type, compression)`` from a name such as ``data.jsonl.zst``."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    file_type = _SUFFIX_TYPES.get(suffixes[-1]) if suffixes else None
    return file_type, compression


def expand_inputs(spec: str | Path | list) -> list[Path]:
    """Every data file named by a path, a glob or a folder (or a list of them), sorted.

    A path that exists is taken as it is, even when its name holds glob characters (``data[1].jsonl``).
    """
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    out: list[Path] = []
    for s in specs:
        p = Path(s).expanduser()
        if any(ch in str(s) for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
            files = [m for m in matches if is_hf_folder(m) or (m.is_file() and split_suffixes(m)[0])]
            if not files:
                raise InputError(f"The pattern '{s}' matches no data file. Check the path, or list the folder with: ls {p.parent}")
            out.extend(files)
        elif p.is_dir():
            files = folder_inputs(p)
            if not files:
                raise InputError(
                    f"The folder '{p}' holds no data file (looked for *.jsonl, *.json, *.csv, *.tsv, *.parquet, "
                    "optionally .gz/.zst, and datasets folders made by save_to_disk)."
                )
            out.extend(files)
        elif p.is_file():
            out.append(p)
        else:
            near = sorted(x.name for x in p.parent.glob("*"))[:10] if p.parent.is_dir() else []
            hint = f" The folder '{p.parent}' holds: {', '.join(near)}." if near else ""
            raise InputError(f"Input '{s}' does not exist.{hint} To make a sample dataset: curatune generate --out {s}")
    # A file named twice (a list and a glob that overlap) is read once: twice would repeat its ids.
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def folder_inputs(folder: Path) -> list[Path]:
    """The data files of a folder and its subfolders, and its ``datasets`` folders (at any depth), hidden ones left out.

    A ``datasets`` folder is one input: its own files (``state.json``, ``dataset_info.json``, the Arrow
    shards) are not data files of their own.
    """
    if is_hf_folder(folder):
        return [folder]
    files, datasets = [], []
    seen = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        here = Path(root)
        if os.path.realpath(here) in seen:  # a link back up the tree
            dirs.clear()
            continue
        seen.add(os.path.realpath(here))
        dirs.sort()
        for d in list(dirs):
            if d.startswith(".") or is_hf_folder(here / d):
                dirs.remove(d)
                if not d.startswith("."):
                    datasets.append(here / d)
        files += [here / n for n in names if not n.startswith(".") and split_suffixes(here / n)[0] and (here / n).is_file()]
    return sorted(files) + sorted(datasets)


def file_type_of(path: Path, forced: str | None = None) -> str:
    if forced and forced != "auto":
        if forced not in FILE_TYPES:
            raise InputError(f"Unknown file type '{forced}'. Use one of: {', '.join(FILE_TYPES)}.")
        return forced
    if is_hf_folder(path):
        return "hf"
    file_type, _ = split_suffixes(path)
    if file_type is None:
        raise InputError(
            f"Cannot tell the file type of '{path}' from its name. Name it *.jsonl, *.json, *.csv, *.tsv or "
            "*.parquet (optionally .gz or .zst), or pass --file-type."
        )
    return file_type


def _sniff_compression(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return None


def open_binary(path: Path) -> io.BufferedReader | gzip.GzipFile:
    """Open a file for reading bytes, decompressing gzip or zstd (by name or magic bytes)."""
    try:
        compression = split_suffixes(path)[1] or _sniff_compression(path)
        if compression == "gzip":
            return gzip.open(path, "rb")
        if compression == "zstd":
            return io.BufferedReader(_ZstdReader(open(path, "rb")), buffer_size=1 << 20)
        # A BufferedReader (typeshed types open() with a buffering size other than -1 or 1 as BinaryIO).
        return cast(io.BufferedReader, open(path, "rb", buffering=1 << 20))
    except OSError as e:
        raise InputError(f"Cannot open '{path}': {e.strerror or e}. Check that the file exists and is readable.") from e


class _ZstdReader(io.RawIOBase):
    """Decompress a zstd stream of one or more frames, raising on a truncated one.

    Not ``zstandard``'s ``stream_reader``: it ends quietly at a truncated frame (the rest of the
    data is lost without a word) and, by default, after the first of several frames.
    """

    def __init__(self, raw: io.BufferedIOBase):
        import zstandard

        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._d: zstandard.ZstdDecompressionObj | None = None  # the decompressor of the frame in progress
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        chunk = self._raw.read(1 << 18)
        if not chunk:
            if self._d is not None:
                raise OSError("the zstd data ends inside a frame: the file is truncated or damaged")
            return False
        out = []
        while chunk:
            if self._d is None:
                self._d = self._dctx.decompressobj()
            out.append(self._d.decompress(chunk))
            if self._d.eof:
                chunk, self._d = self._d.unused_data, None
            else:
                chunk = b""
        self._buf = memoryview(b"".join(out))
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            if not self._fill():
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_binary_write(path: Path) -> io.BufferedIOBase:
    """Open a file for writing bytes, compressing by its name (.gz, .zst)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compression = split_suffixes(path)[1]
    if compression == "gzip":
        return gzip.open(path, "wb", compresslevel=6)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).stream_writer(open(path, "wb"), closefd=True)  # type: ignore[return-value]
    return cast(io.BufferedWriter, open(path, "wb", buffering=1 << 20))  # (as in open_binary)
