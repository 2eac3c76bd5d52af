"""curatune split: clusters never cross splits, sizes and label shares hit their targets, leakage is found exactly.

The data plants, over three labels, groups of exact duplicates (case and spacing changed)
and of near duplicates (100-word texts, one word changed per variant: Jaccard of word
3-grams about 0.94 to the base and 0.88 between variants, far above the 0.7 threshold),
among singletons of random words that share no 3-gram with anything (Jaccard 0).
"""

from __future__ import annotations

import itertools

import numpy as np
import orjson
import pytest
import xxhash
from typer.testing import CliRunner

from curatune.cli import app
from curatune.curation.record import Record
from curatune.embed import Embedder
from curatune.split import leakage_report, split_records
from curatune.split.assign import apportion, assign_clusters, targets

WORDS = 100
# label -> (singletons, exact groups of 3, near groups of 3)
PLAN = {"A": (180, 5, 5), "B": (90, 3, 3), "C": (30, 2, 2)}
N = sum(s + 3 * e + 3 * n for s, e, n in PLAN.values())  # 360
SIZES = {"A": 210, "B": 108, "C": 42}
# By hand, largest remainder: 360 x (0.8, 0.1, 0.1) = 288, 36, 36. Val's 36 over the strata
# 210, 108, 42 of 360 -> 21.0, 10.8, 4.2 -> 21, 10, 4 and the one left to the largest remainder
# (B, .8); test the same; train what is left of each stratum.
BY_HAND = {"train": {"A": 168, "B": 86, "C": 34}, "val": {"A": 21, "B": 11, "C": 4}, "test": {"A": 21, "B": 11, "C": 4}}


class Planted:
    """A labelled dataset with known duplicate groups."""

    def __init__(self, seed: int = 7):
        rng = np.random.default_rng(seed)
        self._rng = rng
        self._next_word = 0
        self.records: list[Record] = []
        self.groups: list[tuple[str, list[str]]] = []  # (kind, ids)
        for label, (singles, exact, near) in PLAN.items():
            for _ in range(exact):
                base = self._text()
                variants = [base, base.upper(), "  " + base.replace(" ", "   ")]
                self.groups.append(("exact", [self._add(t, label) for t in variants]))
            for _ in range(near):
                base = self._text().split()
                texts = [base, [*base[:30], self._word(), *base[31:]], [*base[:70], self._word(), *base[71:]]]
                self.groups.append(("near", [self._add(" ".join(t), label) for t in texts]))
            for _ in range(singles):
                self._add(self._text(), label)
        # Interleave so that the groups are not at the start (the order must not matter).
        order = rng.permutation(len(self.records))
        self.records = [self.records[i] for i in order]

    def _word(self) -> str:
        self._next_word += 1
        return f"w{self._next_word}"

    def _text(self) -> str:
        # Fresh words for every text: no 3-gram is shared between two planted texts by chance.
        return " ".join(self._word() for _ in range(WORDS))

    def _add(self, text: str, label: str) -> str:
        rid = f"r{len(self.records)}"
        self.records.append(Record(rid, text=text, label=label, meta={"format": "labelled", "category": label.lower()}))
        return rid


@pytest.fixture(scope="module")
def planted() -> Planted:
    return Planted()


def split_of_ids(result) -> dict[str, str]:
    return {r.id: result.names[s] for r, s in zip(result.records, result.split_of.tolist())}


def test_planted_data_is_what_the_docstring_says(planted):
    assert len(planted.records) == N == 360


def test_no_cluster_crosses_splits_and_sizes_hit_the_targets(planted):
    result = split_records(planted.records, val=0.1, test=0.1, stratify="label", seed=0)
    where = split_of_ids(result)
    for _, ids in planted.groups:
        assert len({where[i] for i in ids}) == 1, ids
    rep = result.report
    assert rep["clusters"]["with_duplicates"] == len(planted.groups) == 20
    assert rep["clusters"]["records_in_them"] == 60
    assert rep["leakage"]["pairs"] == 0
    # Exact, not within a tolerance: every planted cluster is placed (largest first) while train and
    # the stratum's val/test shortfalls are still larger than it, and singletons fill what is left.
    # The general bound (assign.py) is checked on adversarial cluster sizes below.
    assert rep["targets"] == {"train": 288, "val": 36, "test": 36}
    assert rep["sizes"] == rep["targets"]
    # An independent check of the written-out splits finds nothing either.
    assert leakage_report(result.by_split()).total == 0


def test_label_shares_are_stratified(planted):
    result = split_records(planted.records, stratify="label", seed=0)
    got = {n: {k: v["count"] for k, v in d.items()} for n, d in result.report["distribution"]["splits"].items()}
    assert got == BY_HAND  # exact, for the same reason as the sizes
    assert result.report["distribution"]["splits"]["val"]["B"]["share"] == round(11 / 36, 4)
    assert result.report["clusters"]["mixed_strata"] == 0


def test_targets_by_hand():
    assert {label: s + 3 * e + 3 * n for label, (s, e, n) in PLAN.items()} == SIZES
    assert targets(SIZES, {"train": 0.8, "val": 0.1, "test": 0.1}) == BY_HAND


def test_stratify_by_a_meta_field_and_unknown_key(planted):
    result = split_records(planted.records, stratify="category", seed=1)
    assert set(result.report["distribution"]["splits"]["val"]) == {"a", "b", "c"}
    from curatune.errors import RecipeError

    with pytest.raises(RecipeError, match="no record has a value for 'topic'.*label"):
        split_records(planted.records, stratify="topic")


def test_same_seed_same_split_other_seed_other_split(planted):
    a = split_records(planted.records, stratify="label", seed=3)
    b = split_records(list(planted.records), stratify="label", seed=3)
    c = split_records(planted.records, stratify="label", seed=4)
    assert np.array_equal(a.split_of, b.split_of)
    assert not np.array_equal(a.split_of, c.split_of)
    assert a.report["sizes"] == c.report["sizes"]


def test_majority_label_decides_a_mixed_cluster():
    text = " ".join(f"m{i}" for i in range(50))
    recs = [Record("x1", text=text, label="B"), Record("x2", text=text.upper(), label="A"), Record("x3", text=text, label="A")]
    recs += [Record(f"s{i}", text=" ".join(f"s{i}w{j}" for j in range(50)), label="A" if i % 2 else "B") for i in range(40)]
    result = split_records(recs, stratify="label", seed=0)
    assert result.report["clusters"]["mixed_strata"] == 1
    assert len({result.split_of[0], result.split_of[1], result.split_of[2]}) == 1


@pytest.mark.parametrize("seed", range(30))
def test_assignment_error_stays_within_the_bound(seed):
    # Adversarial: clusters of 1 to 6 records, few singletons. Bound (assign.py): a split ends at
    # most k-1 over its target and at most (splits-1)(k-1) under it, k the largest cluster.
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=40)
    goal = targets({"all": int(sizes.sum())}, {"train": 0.6, "val": 0.2, "test": 0.2})
    split = assign_clusters(sizes, ["all"] * len(sizes), goal, seed)
    got = np.bincount(split, weights=sizes, minlength=3)
    want = np.array([goal[n]["all"] for n in goal])
    assert got.sum() == want.sum()
    assert np.all(got - want <= 5) and np.all(want - got <= 2 * 5)


def test_apportion_respects_caps_and_total():
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert apportion(3, [5, 1], caps=[1, 5]) == [1, 2]
    assert apportion(0, [1, 2]) == [0, 0]


def test_zero_test_fraction_makes_two_splits(planted):
    result = split_records(planted.records, val=0.2, test=0.0, seed=0)
    assert result.names == ["train", "val"]
    assert result.report["sizes"] == {"train": 288, "val": 72}


def test_bad_fractions_are_one_usage_error():
    from curatune.errors import RecipeError

    with pytest.raises(RecipeError) as e:
        split_records([], val=1.5, test=-0.1)
    assert len(e.value.problems) == 2 and e.value.exit_code == 2


# ---- leakage of a deliberately leaky split -------------------------------------------------------


def leaky(planted: Planted) -> tuple[dict[str, list[Record]], set]:
    """Records dealt round-robin to train/val/test (so groups straddle splits), and the cross-split pairs planted."""
    names = ["train", "val", "test"]
    where = {r.id: names[i % 3] for i, r in enumerate(planted.records)}
    splits = {n: [r for r in planted.records if where[r.id] == n] for n in names}
    expected = set()
    for kind, ids in planted.groups:
        for x, y in itertools.combinations(ids, 2):
            if where[x] != where[y]:
                (a, b) = (x, y) if names.index(where[x]) < names.index(where[y]) else (y, x)
                expected.add((kind, where[a], a, where[b], b))
    return splits, expected


def test_leakage_report_lists_exactly_the_planted_cross_split_pairs(planted):
    splits, expected = leaky(planted)
    report = leakage_report(splits)
    got = {(p["kind"], p["split_a"], p["id_a"], p["split_b"], p["id_b"]) for p in report.pairs}
    assert len(expected) > 20 and got == expected
    assert report.total == len(report.pairs) == len(expected)
    for (a, b), counts in report.counts.items():
        for kind in ("exact", "near"):
            assert counts[kind] == sum(1 for e in expected if e[0] == kind and {e[1], e[3]} == {a, b})
        assert counts["semantic"] == 0
    assert all(p["similarity"] == 1.0 for p in report.pairs if p["kind"] == "exact")
    assert all(0.8 <= p["similarity"] < 1.0 for p in report.pairs if p["kind"] == "near")
    assert not report.truncated


def test_leakage_listing_is_capped_but_counts_are_not(planted):
    splits, expected = leaky(planted)
    report = leakage_report(splits, max_pairs=5)
    assert len(report.pairs) == 5 and report.total == len(expected) and report.truncated


def test_oversize_buckets_are_merged_when_splitting_and_verified_when_checking(planted, monkeypatch):
    # With MAX_BUCKET = 2 every planted near group (a bucket of 3) takes the oversize paths.
    from curatune.split import clusters

    monkeypatch.setattr(clusters, "MAX_BUCKET", 2)
    result = split_records(planted.records, stratify="label", seed=0)
    assert result.report["clusters"]["pairs"]["merged_unverified"] > 0
    where = split_of_ids(result)
    assert all(len({where[i] for i in ids}) == 1 for _, ids in planted.groups)
    splits, expected = leaky(planted)
    got = {(p["kind"], p["split_a"], p["id_a"], p["split_b"], p["id_b"]) for p in leakage_report(splits).pairs}
    assert got == expected


# ---- semantic near duplicates through a fake embedder ------------------------------------------


def fake_embedder(same_meaning: list[tuple[str, str]]) -> Embedder:
    """Each text gets a random 256-d direction from its hash; the texts of a pair share one.

    Unrelated directions in 256-d have cosine about N(0, 1/16): never near 0.9.
    """
    partner = {b: a for a, b in same_meaning}

    def encode(texts: list[str]) -> np.ndarray:
        rows = []
        for t in texts:
            key = partner.get(t, t)
            rows.append(np.random.default_rng(xxhash.xxh64_intdigest(key.encode())).standard_normal(256))
        return np.array(rows)

    return Embedder(encode, "fake", cache=False)


def test_semantic_duplicates_stay_together_and_are_reported(planted):
    recs = list(planted.records)
    singles = [r for r in recs if r.label == "A"][:6]
    # Three "paraphrases": new texts sharing no word with a singleton, but its meaning.
    pairs = []
    for k, r in enumerate(singles[:3]):
        para = Record(f"para{k}", text=" ".join(f"p{k}x{j}" for j in range(WORDS)), label="A")
        recs.append(para)
        pairs.append((r.text, para.text))
    emb = fake_embedder(pairs)
    plain = split_records(recs, stratify="label", seed=0)
    semantic = split_records(recs, stratify="label", seed=0, semantic_threshold=0.9, embed_model=emb)
    assert plain.report["clusters"]["pairs"]["semantic"] == 0
    assert semantic.report["clusters"]["pairs"]["semantic"] == 3
    where = split_of_ids(semantic)
    for k, r in enumerate(singles[:3]):
        assert where[r.id] == where[f"para{k}"]
    # Leakage: put each paraphrase in another split than its original.
    by_id = {r.id: r for r in recs}
    splits = {"train": [by_id[r.id] for r in singles[:3]], "test": [by_id[f"para{k}"] for k in range(3)]}
    report = leakage_report(splits, semantic_threshold=0.9, embed_model=emb)
    assert {(p["kind"], p["id_a"], p["id_b"]) for p in report.pairs} == {("semantic", singles[k].id, f"para{k}") for k in range(3)}
    assert all(p["similarity"] >= 0.99 for p in report.pairs)


# ---- the command line ------------------------------------------------------------------------------

runner = CliRunner()


def flat(result) -> str:
    return " ".join(result.output.split())


def write_labelled(path, records: list[Record]) -> None:
    path.write_bytes(b"".join(orjson.dumps({"id": r.id, "text": r.text, "label": r.label}) + b"\n" for r in records))


def test_cli_split_then_check(tmp_path, planted):
    data = tmp_path / "data.jsonl"
    write_labelled(data, planted.records)
    out = tmp_path / "out"
    made = runner.invoke(app, ["split", str(data), "--out", str(out), "--stratify", "label", "--seed", "2"])
    assert made.exit_code == 0, made.output
    assert "360 records split (seed 2)" in flat(made) and "Leakage between the splits: 0 duplicate pairs" in flat(made)
    report = orjson.loads((out / "split_report.json").read_bytes())
    assert report["sizes"] == {"train": 288, "val": 36, "test": 36} and report["leakage"]["pairs"] == 0
    rows = [orjson.loads(line) for line in (out / "splits" / "val.jsonl").read_bytes().splitlines()]
    assert len(rows) == 36 and rows[0]["messages"][1]["role"] == "assistant"
    assert sum(1 for _ in (out / "clusters.jsonl").open()) == 20

    checked = runner.invoke(app, ["split", "--check", str(out / "splits"), "--out", str(tmp_path / "chk")])
    assert checked.exit_code == 0, checked.output
    assert "0 cross-split duplicate pairs (train 288, val 36, test 36)" in flat(checked)
    assert orjson.loads((tmp_path / "chk" / "leakage.json").read_bytes())["total_pairs"] == 0


def test_cli_check_finds_the_leaks(tmp_path, planted):
    splits, expected = leaky(planted)
    paths = []
    for name, recs in splits.items():
        write_labelled(tmp_path / f"{name}.jsonl", recs)
        paths.append(str(tmp_path / f"{name}.jsonl"))
    result = runner.invoke(app, ["split", "--check", *paths, "--out", str(tmp_path)])
    assert result.exit_code == 5, result.output  # leaks found: a CI job can gate on it (it was 0)
    assert f"{len(expected)} cross-split duplicate pairs" in flat(result) and "train ~ val" in flat(result)
    assert orjson.loads((tmp_path / "leakage.json").read_bytes())["total_pairs"] == len(expected)


def test_cli_reads_a_curate_run_folder(tmp_path, planted):
    run = tmp_path / "runs" / "r"
    (run / "data").mkdir(parents=True)
    (run / "run.json").write_bytes(b'{"key": "x"}')
    (run / "data" / "kept.jsonl").write_bytes(b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in planted.records[:100]))
    result = runner.invoke(app, ["split", str(run), "--out", str(tmp_path / "out"), "--to", "curatune"])
    assert result.exit_code == 0, result.output
    assert "100 records split" in flat(result)
    first = orjson.loads((tmp_path / "out" / "splits" / "train.jsonl").read_bytes().splitlines()[0])
    assert first["meta"]["category"] in {"a", "b", "c"}  # lossless: meta kept


def test_cli_bad_input_and_options(tmp_path, planted):
    missing = runner.invoke(app, ["split", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 3 and "nope.jsonl" in flat(missing) and "does not exist" in flat(missing)
    data = tmp_path / "d.jsonl"
    write_labelled(data, planted.records[:20])
    bad = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "o"), "--val", "0.6", "--test", "0.5"])
    assert bad.exit_code == 2 and "--val + --test must leave something for train" in flat(bad)
    key = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "o"), "--stratify", "topic"])
    assert key.exit_code == 2 and "Stratify by one of: label" in flat(key)
    thr = runner.invoke(app, ["split", str(data), "--out", str(tmp_path / "o"), "--near-dup-threshold", "1.5", "--semantic-threshold", "0"])
    assert thr.exit_code == 2 and "2 problems" in flat(thr) and "--semantic-threshold is a cosine" in flat(thr)
    no_out = runner.invoke(app, ["split", str(data)])
    assert no_out.exit_code == 2 and "--out" in flat(no_out)
    one = runner.invoke(app, ["split", "--check", str(data)])
    assert one.exit_code == 2 and "at least two splits" in flat(one)
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n{also not\n")
    unreadable = runner.invoke(app, ["split", str(junk), "--out", str(tmp_path / "o")])
    assert unreadable.exit_code == 3 and "No record could be read from" in flat(unreadable) and "junk.jsonl:1" in flat(unreadable)
