"""Test settings: no network, one thread per worker, shared fixtures."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip: tests on real data never run where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def hashed_bag_of_words(texts: list[str], dim: int = 256):
    """A cheap stand-in for a sentence embedder: word counts hashed into ``dim`` buckets.

    Texts that share words get similar vectors, as with a real model, so the
    semantic steps behave sensibly, and no model is loaded.
    """
    import re

    import numpy as np
    import xxhash

    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for w in re.findall(r"\w+", text.lower()):
            out[i, xxhash.xxh32_intdigest(w.encode()) % dim] += 1.0
        if not out[i].any():
            out[i, 0] = 1.0
    return out


@pytest.fixture(autouse=True)
def fake_embedder(request, monkeypatch, tmp_path_factory):
    """Every test embeds with ``hashed_bag_of_words`` and an uncached embedder, unless marked ``real_embedder``.

    Loading all-MiniLM-L6-v2 costs seconds per process; tests that need the real
    model are marked ``@pytest.mark.real_embedder`` (and ``slow``).
    """
    if request.node.get_closest_marker("real_embedder"):
        monkeypatch.setenv("CURATUNE_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield None
        return
    from curatune.embed import model as embed_model

    fake = embed_model.Embedder(hashed_bag_of_words, key="hashed-bag-of-words", cache=False)
    monkeypatch.setattr(embed_model, "load_embedder", lambda model="default", *a, **k: fake)
    yield fake


# ---- the end-to-end demo, built once per session ----------------------------------------------------


@pytest.fixture(scope="session")
def demo_lm(tmp_path_factory) -> str:
    """A tiny Llama for the end-to-end tests (the demo and ``curatune run``), built once per session."""
    from tiny_models import build_tiny_lm

    return str(build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02))


@pytest.fixture(scope="session")
def demo(request, tmp_path_factory):
    """``curatune demo --quick`` on the tiny model: generate, curate, split, train and evaluate raw and
    curated, compare, report. The slowest fixture of the suite (about 14 s on two cores), built once per run.

    Under xdist each worker has a session of its own, so the first worker to ask builds the demo in a
    folder the workers share (the run's base temp folder) and leaves the result beside it; the others wait
    on the lock and read that result back instead of building their own.
    """
    import pickle

    from filelock import FileLock

    from curatune.stages.demo import run_demo

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's folder, shared by its workers (each worker's basetemp is below it)
    built = root / "demo.pickle"
    with FileLock(str(root / "demo.lock")):
        if built.is_file():
            return pickle.loads(built.read_bytes())
        lm = request.getfixturevalue("demo_lm")
        result = run_demo(root / "demo", quick=True, model=lm, track=False, echo=lambda s: None)
        built.write_bytes(pickle.dumps(result))
        return result
