#!/usr/bin/env bash
# What K seeds of a paper task cost against one (issue 31: at most K/2 of one seed's training).
# For each task, the fast preset's NTM-LSTM trained to a fixed number of sequences (--until
# budget, so no seed stops early), alternated A B C A B C:
#   A: one seed              ntm sweep --seeds 1 --workers 1, pinned to one core (taskset: alone,
#                            a process's threads contend for both cores and it trains slower)
#   B: K seeds, a job each   ntm sweep --seeds K --workers 2   (what compare and sweep do)
#   C: K seeds vmapped       ntm train --seeds K               (one compiled program)
# Each command runs in a fresh folder; an untimed A B C per task first fills the compilation
# cache that the timed calls then share (each case with its own arguments: a pinned process has
# one CPU device, and a program may depend on the budget), so compiling is the cache's load.
# Prints one line per call: task, case, whole-command seconds, and summary.json's training
# seconds (wall_time) summed over the call's runs and the longest (C's seeds share one clock).
#
#     bash experiments/benchmarks/seeds_cost.sh [PAIRS] [K]      # defaults: 2 and 4
set -euo pipefail
pairs=${1:-2}
k=${2:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export JAX_COMPILATION_CACHE_DIR=$work/cache
# Sequences per task: about 15-25 s of one seed's training on one core of the 2-core VM.
declare -A sequences=([copy]=8000 [repeat]=4000 [recall]=6000 [ngrams]=2400 [sort]=6000)

fail() {  # fail FOLDER: the failed call's last lines, then stop
    tail -n 5 "$1/log" >&2
    exit 1
}

run() {  # run TASK CASE -> one line
    local task=$1 case=$2 d
    d=$(mktemp -d -p "$work")
    local start end
    start=$(date +%s.%N)
    case $case in
        A) taskset -c 0 ntm sweep --tasks "$task" --models ntm-lstm --seeds 1 --workers 1 --until budget \
               --sequences "${sequences[$task]}" --runs "$d/runs" --out "$d/out" >/dev/null 2>"$d/log" || fail "$d" ;;
        B) ntm sweep --tasks "$task" --models ntm-lstm --seeds "$k" --workers 2 --until budget \
               --sequences "${sequences[$task]}" --runs "$d/runs" --out "$d/out" >/dev/null 2>"$d/log" || fail "$d" ;;
        C) ntm train "$task" --model ntm-lstm --seeds "$k" --sequences "${sequences[$task]}" \
               --out "$d/runs" --name c >/dev/null 2>"$d/log" || fail "$d" ;;
    esac
    end=$(date +%s.%N)
    python3 - "$task" "$case" "$start" "$end" "$d/runs" <<'EOF'
import json, pathlib, sys
task, case, start, end, runs = sys.argv[1:]
train = [json.loads(p.read_text())["wall_time"] for p in pathlib.Path(runs).glob("*/summary.json")]
print(f"{task:7s} {case}  command {float(end) - float(start):7.1f} s  training: sum {sum(train):7.1f} s,"
      f" longest {max(train):6.1f} s, {len(train)} run(s)", flush=True)
EOF
}

for task in copy repeat recall ngrams sort; do
    for case in A B C; do run "$task" "$case" >/dev/null; done  # untimed: fills the cache
    for _ in $(seq "$pairs"); do
        run "$task" A; run "$task" B; run "$task" C
    done
done
