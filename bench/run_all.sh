#!/usr/bin/env bash
# Run every benchmark one after another (on a quiet machine); logs to bench/out/*.log.
# Takes about 20 minutes on 2 cores. Usage: bash bench/run_all.sh [--quick]
# ONLY="dedup mrpc" bash bench/run_all.sh runs only the named benchmarks.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p bench/out
q="${1:-}"
run() { name=$1; shift; if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi; echo "== $name: $*"; /usr/bin/time -v "$@" > "bench/out/$name.log" 2> "bench/out/$name.err"; echo "   exit $? ($(grep 'Elapsed' bench/out/$name.err | awk '{print $NF}'))"; }
run io            $PY bench/bench_io.py $q
run audit         $PY bench/bench_audit.py $q
run curation      $PY bench/bench_curation.py
run curation_100k $PY bench/bench_curation.py --n 100000 --speed-only --out bench/out/curation_100k.json
run dedup         $PY bench/bench_dedup.py $q
run mrpc          $PY bench/bench_mrpc.py --quick
run vs_datatrove  $PY bench/bench_vs_datatrove.py --quick
run pii           $PY bench/bench_pii.py --quick
run quality       $PY bench/bench_quality_filters.py --quick
run flags_alpaca  $PY bench/bench_flags_alpaca.py
