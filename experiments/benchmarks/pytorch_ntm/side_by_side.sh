#!/usr/bin/env bash
# `ntm bench` and the PyTorch NTM's own train_batch, back to back, twice, on the same machine;
# both free to use every core. Prints the ratios. Set-up (in a scratch folder, outside this
# repository; see ../README.md, "The PyTorch NTM, side by side"):
#   git clone https://github.com/loudinthecloud/pytorch-ntm && git -C pytorch-ntm checkout 3c64937
#   python3 -m venv venv && venv/bin/pip install torch==2.13.0 attrs==19.1.0 argcomplete
# Usage: PEER=/scratch/pytorch-ntm PEER_PYTHON=/scratch/venv/bin/python bash side_by_side.sh OUT
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?an output folder}; mkdir -p "$OUT"
NTM=${NTM:-ntm}
: "${PEER:?the pytorch-ntm checkout}" "${PEER_PYTHON:?the python of its virtual environment}"
for round in 1 2; do
  "$NTM" bench --models ntm-lstm --batch-sizes 32,1 --json > "$OUT/ntm-$round.json" 2>/dev/null
  PYTORCH_NTM_REPO="$PEER" "$PEER_PYTHON" "$HERE/bench_torch.py" --batch-sizes 1,32 > "$OUT/torch-$round.json" 2>/dev/null
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for r in (1, 2):
    n = json.load(open(f"{out}/ntm-{r}.json")); t = json.load(open(f"{out}/torch-{r}.json"))
    ns = {x["batch_size"]: x for x in n["results"]}; ts = {x["batch_size"]: x for x in t["results"]}
    for b in (32, 1):
        a, p = ns[b]["train_sequences_per_second"], ts[b]["seq_per_s_median"]
        print(f"round {r} batch {b:>2}: ntm {a:7.1f} ({ns[b]['train_sequences_per_second_min']:.0f}-"
              f"{ns[b]['train_sequences_per_second_max']:.0f}) on {ns[b]['devices']} device(s)  "
              f"torch {p:6.1f} ({ts[b]['seq_per_s_min']:.1f}-{ts[b]['seq_per_s_max']:.1f})  ratio {a / p:5.1f}x")
PY
