#!/usr/bin/env bash
# Training throughput of an earlier commit and of this checkout, side by side: the same
# configurations through `ntm_cli.training.bench.bench_config`, old and new alternated in separate
# processes, ROUNDS times. The old commit gets a `git worktree` and a virtual environment of its
# own under OUT. Old runs on one CPU device (as the `ntm` command did before it made one per
# core), new on NEW_DEVICES (default: one per core, as the `ntm` command makes them).
# Usage: BASE=96c4456 bash experiments/benchmarks/against_commit.sh OUT "copy ntm-lstm 32" \
#            "priority-sort ntm-lstm 4 num_read_heads=5 num_write_heads=5 memory_rows=128" ...
# Each case: task, model, batch size, then model config changes key=value (integers).
# The old side's virtual environment gets the new side's library versions (pip constraints).
set -euo pipefail
set -f  # a case's words are split on spaces, never globbed
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "${1:?an output folder}" && cd "$1" && pwd); shift
: "${BASE:?the earlier commit}"
ROUNDS=${ROUNDS:-3}
NEW_DEVICES=${NEW_DEVICES:-$(python3 -c "import os; print(len(os.sched_getaffinity(0)))")}
PYTHON_NEW=${PYTHON_NEW:-$REPO/.venv/bin/python}
WANT=$(git -C "$REPO" rev-parse "$BASE^{commit}")
if [ ! -d "$OUT/base" ]; then
  git -C "$REPO" worktree add --detach "$OUT/base" "$WANT" >/dev/null
fi
if [ "$(git -C "$OUT/base" rev-parse HEAD)" != "$WANT" ]; then
  echo "$OUT/base holds another commit than $BASE: use another output folder" >&2; exit 2
fi
if [ ! -x "$OUT/venv/bin/python" ] || [ ! -f "$OUT/venv/.installed" ]; then
  "$PYTHON_NEW" -m pip freeze --exclude-editable | grep -v '^ntm' > "$OUT/constraints.txt"
  python3 -m venv "$OUT/venv"
  "$OUT/venv/bin/pip" install -q -c "$OUT/constraints.txt" -e "$OUT/base" >/dev/null
  touch "$OUT/venv/.installed"
fi
cat > "$OUT/one.py" <<'PY'
import dataclasses, json, sys
import jax
from ntm_cli.training.bench import bench_config, case_config
task, model, batch, *pairs = sys.argv[1:]
config = case_config(task, model, int(batch), 10)
changes = {k: int(v) for k, v in (p.split("=") for p in pairs)}
config = dataclasses.replace(config, model=dataclasses.replace(config.model, **changes))
r = bench_config(config, repeats=5, calls=3)
print(json.dumps({"case": " ".join(sys.argv[1:]), "devices": r.get("devices", len(jax.local_devices())),
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
