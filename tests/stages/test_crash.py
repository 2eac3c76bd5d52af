"""A curate run killed (SIGKILL) at every phase, the swap included: the old run or the new one is whole, nothing leaks.

Each case runs ``curate`` in a child process that kills itself at one point (a function of the
code wrapped by the child, nothing in curatune knows about it), then checks the run folder as the
kill left it, then reruns the curation here and checks that it finishes and leaves nothing beside
the run folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from curatune import staging
from curatune.config.recipe import parse_recipe
from curatune.curation.ledger import read_ledger
from curatune.run_folder import RunFolder
from curatune.stages import keys
from curatune.stages.curate import curate

N = 300

# The child: curate with min_chars=NEW, killed at POINT. Patches are the child's own; SIGKILL leaves no chance to clean up.
_CHILD = r"""
import os, signal, sys
from pathlib import Path
point, raw = sys.argv[1], sys.argv[2]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

import orjson
from curatune import staging
from curatune.config.recipe import parse_recipe
from curatune.curation.read import records
from curatune.curation.write import run_sink
from curatune.stages import curate as curate_stage, keys

def after(owner, name, when=lambda *a, **k: True):
    real = getattr(owner, name)
    def wrapped(*a, **k):
        out = real(*a, **k)
        if when(*a, **k):
            die()
        return out
    setattr(owner, name, wrapped)

if point == "reading":
    real_iter = records.RecordReader.__iter__
    def iterate(self):
        for i, item in enumerate(real_iter(self)):
            if i == 150:
                die()
            yield item
    records.RecordReader.__iter__ = iterate
elif point == "written":
    after(run_sink.RunSink, "close")
elif point == "recorded":
    after(keys.StageKey, "record")
elif point == "before-swap":
    staging.swap_in = lambda new, final: die()
elif point == "exchanged":
    after(staging, "exchange")
elif point == "removing-old":
    real_remove = staging._remove
    def remove(path):
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        if not files:  # not the old run (the staging folder's own first clean-up)
            return real_remove(path)
        files[0].unlink()  # part of the old folder is gone
        die()
    staging._remove = remove
elif point == "between-renames":
    staging.exchange = lambda a, b: False  # a system without renameat2: two renames
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if ".old-" in str(dst):
            die()
    os.rename = rename
elif point != "none":
    raise SystemExit(f"unknown point {point}")
curate_stage.curate(parse_recipe(orjson.loads(raw)), force=True)
"""

POINTS = ["reading", "written", "recorded", "before-swap", "exchanged", "removing-old", "between-renames"]


def recipe(tmp_path: Path, min_chars: int) -> dict:
    data = tmp_path / "d.jsonl"
    if not data.exists():
        rows = [{"instruction": f"question {i}", "output": "a" * (i % 40)} for i in range(N)]
        data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    steps = [{"step": "filter.min_length", "min_chars": min_chars}]
    return {"name": "r", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}, "curate": {"steps": steps, "workers": 1}}


def kill_at(point: str, raw: dict) -> int:
    src = str(Path(staging.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", _CHILD, point, orjson.dumps(raw).decode()], env=env, timeout=120).returncode


def whole_run(run: RunFolder) -> str:
    """The key of a whole curate run folder: every output as run.json measured it, and input == kept + dropped in the ledger."""
    done = orjson.loads(run.done.read_bytes())
    for rel, digest in done["outputs"].items():
        assert keys._digest(run.root / rel) == digest, f"{rel} is not as the run wrote it"
    stats = orjson.loads(run.stats.read_bytes())
    kept = run.kept.read_bytes().count(b"\n")
    dropped = run.dropped.read_bytes().count(b"\n")
    finals = [r for r in read_ledger(run.ledger) if r["action"] in ("keep", "drop")]
    assert stats["input"] == N == kept + dropped == len(finals) and stats["kept"] == kept
    return str(done["key"])


def can_exchange(folder: Path) -> bool:
    a, b = folder / "xa", folder / "xb"
    a.mkdir()
    b.mkdir()
    try:
        return staging.exchange(a, b)
    finally:
        a.rmdir()
        b.rmdir()


def beside(run: RunFolder) -> list[str]:
    return sorted(p.name for p in run.root.parent.iterdir() if p.name != run.root.name)


# Points a first run (no old folder to swap out) never reaches (it would finish, and its new run be in place).
NEEDS_AN_OLD_RUN = ("exchanged", "removing-old", "between-renames")


CASES = [(p, True) for p in POINTS] + [(p, False) for p in POINTS if p not in NEEDS_AN_OLD_RUN]


@pytest.mark.parametrize(("point", "first"), CASES, ids=[f"{p}-{'over-an-old-run' if f else 'first-run'}" for p, f in CASES])
def test_a_run_killed_at_any_point_leaves_the_old_or_the_new_run_whole(tmp_path, point, first):
    if point == "exchanged" and not can_exchange(tmp_path):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here: the swap is the two renames (tested as between-renames)")
    old_raw, new_raw = recipe(tmp_path, 10), recipe(tmp_path, 20)
    run = RunFolder(tmp_path / "runs" / "r")
    old_key = whole_run(RunFolder(curate(parse_recipe(old_raw)).run_dir)) if first else None
    assert kill_at(point, new_raw) == -signal.SIGKILL
    new_in_place = point in ("exchanged", "removing-old")  # killed after the swap, while the old run was being deleted

    if point == "between-renames" and first:  # the one moment without a run folder: the next writer puts the old one back
        assert not run.root.exists()
        staging.recover(run.root)
    if run.root.exists():
        assert (whole_run(run) == old_key) != new_in_place
    else:
        assert not first and not new_in_place  # a first run killed before its swap leaves no run folder

    again = curate(parse_recipe(new_raw))  # a rerun, as a user would start it
    assert whole_run(run) != old_key
    assert again.skipped == new_in_place  # the new run was whole already: nothing to redo
    assert beside(run) == []  # no .partial-*, .old-* or lock file left
