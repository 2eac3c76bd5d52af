"""Find input files (one file, a glob, a folder) and open them, decompressing on the fly."""

from __future__ import annotations

import glob
import gzip
import io
from pathlib import Path

from ...errors import InputError

FILE_TYPES = ("jsonl", "json", "csv", "tsv", "parquet", "hf")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_SUFFIX_TYPES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


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
    """Every data file named by a path, a glob or a folder (or a list of them), sorted."""
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    out: list[Path] = []
    for s in specs:
        p = Path(s).expanduser()
        if any(ch in str(s) for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
            files = [m for m in matches if is_hf_folder(m) or (m.is_file() and split_suffixes(m)[0])]
            if not files:
                raise InputError(f"The pattern '{s}' matches no data file. Check the path, or list the folder with: ls {p.parent}")
            out.extend(files)
        elif p.is_dir():
            if is_hf_folder(p):
                out.append(p)
                continue
            files = sorted(f for f in p.rglob("*") if f.is_file() and split_suffixes(f)[0] and not f.name.startswith("."))
            files += sorted(d for d in p.iterdir() if is_hf_folder(d))
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
    return out


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


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing gzip or zstd (by name or magic bytes)."""
    try:
        compression = split_suffixes(path)[1] or _sniff_compression(path)
        if compression == "gzip":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        if compression == "zstd":
            import zstandard

            raw = open(path, "rb")
            return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True), buffer_size=1 << 20)
        return open(path, "rb", buffering=1 << 20)
    except OSError as e:
        raise InputError(f"Cannot open '{path}': {e.strerror or e}. Check that the file exists and is readable.") from e


def open_binary_write(path: Path) -> io.BufferedIOBase:
    """Open a file for writing bytes, compressing by its name (.gz, .zst)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    compression = split_suffixes(path)[1]
    if compression == "gzip":
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).stream_writer(open(path, "wb"), closefd=True)  # type: ignore[return-value]
    return open(path, "wb", buffering=1 << 20)
