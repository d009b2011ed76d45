#!/usr/bin/env bash
# The five-seed record: the paper's five tasks x lstm, ntm-lstm, ntm-ff x seeds 0-4, with every
# default of `ntm compare` (fast preset, each task's own budget, --until solved). Resumable: the
# finished runs in five-seeds/runs are reused (their config, metrics and summary are in git, not
# their checkpoints), so a second call trains only what is missing and rewrites the results.
#
#     bash experiments/reproduction/five_seeds.sh                 # all five tasks
#     bash experiments/reproduction/five_seeds.sh --tasks copy    # one task (any compare option)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ntm compare --tasks copy,repeat,recall,ngrams,sort --seeds 5 \
    --runs "$here/five-seeds/runs" --out "$here/five-seeds" "$@"
