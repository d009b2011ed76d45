#!/usr/bin/env bash
# Training throughput of an earlier commit and of this checkout, side by side: the same
# configurations through `ntm_cli.bench.bench_config`, old and new alternated in separate
# processes, ROUNDS times. The old commit gets a `git worktree` and a virtual environment of its
# own under OUT. Old runs on one CPU device (as the `ntm` command did before it made one per
# core), new on NEW_DEVICES (default: one per core, as the `ntm` command makes them).
# Usage: BASE=96c4456 bash experiments/benchmarks/against_commit.sh OUT "copy ntm-lstm 32" \
#            "priority-sort ntm-lstm 4 num_read_heads=5 num_write_heads=5 memory_rows=128" ...
# Each case: task, model, batch size, then model config changes key=value (integers).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:?an output folder}; shift
: "${BASE:?the earlier commit}"
ROUNDS=${ROUNDS:-3}
NEW_DEVICES=${NEW_DEVICES:-$(python3 -c "import os; print(len(os.sched_getaffinity(0)))")}
PYTHON_NEW=${PYTHON_NEW:-$REPO/.venv/bin/python}
mkdir -p "$OUT"
if [ ! -d "$OUT/base" ]; then
  git -C "$REPO" worktree add --detach "$OUT/base" "$BASE" >/dev/null
  python3 -m venv "$OUT/venv" && "$OUT/venv/bin/pip" install -q -e "$OUT/base" >/dev/null
fi
cat > "$OUT/one.py" <<'PY'
import dataclasses, json, sys
import jax
from ntm_cli.bench import bench_config, case_config
task, model, batch, *pairs = sys.argv[1:]
config = case_config(task, model, int(batch), 10)
changes = {k: int(v) for k, v in (p.split("=") for p in pairs)}
config = dataclasses.replace(config, model=dataclasses.replace(config.model, **changes))
r = bench_config(config, repeats=5, calls=3)
print(json.dumps({"case": " ".join(sys.argv[1:]), "devices": len(jax.local_devices()),
                  "seq_per_s": r["train_sequences_per_second"]}))
PY
for round in $(seq "$ROUNDS"); do
  for case in "$@"; do
    (cd "$OUT/base" && XLA_FLAGS=--xla_force_host_platform_device_count=1 "$OUT/venv/bin/python" "$OUT/one.py" $case) \
      | sed "s/^/old $round /" | tee -a "$OUT/results.txt"
    (cd "$REPO" && XLA_FLAGS=--xla_force_host_platform_device_count=$NEW_DEVICES "$PYTHON_NEW" "$OUT/one.py" $case) \
      | sed "s/^/new $round /" | tee -a "$OUT/results.txt"
  done
done
