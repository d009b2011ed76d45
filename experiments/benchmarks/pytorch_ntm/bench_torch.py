#!/usr/bin/env python
"""Time the unmodified loudinthecloud/pytorch-ntm (commit 3c64937) copy task.

Builds the repo's default copy-task model (CopyTaskModelTraining with
CopyTaskParams defaults, only batch_size / num_batches overridden) and times the
repo's own train.train_batch(net, criterion, optimizer, X, Y) on batches drawn
from the repo's own copy-task dataloader (lengths 1-20, 8 bits wide by default).

Batches are generated before each timed block, so only train_batch is timed.
The random seed is fixed, so each run draws the same sequence lengths.

Output: one JSON object on stdout.
"""
import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("PYTORCH_NTM_REPO", os.path.join(HERE, "pytorch-ntm"))  # the peer checkout
sys.path.insert(0, REPO)

import torch  # noqa: E402

from train import train_batch, init_seed  # noqa: E402  (the repo's own step)
# The peer's own `tasks` package (from its checkout on sys.path), not this repository's.
_copytask = importlib.import_module("tasks.copytask")
CopyTaskModelTraining, CopyTaskParams = _copytask.CopyTaskModelTraining, _copytask.CopyTaskParams


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def int_list(s):
    return [int(x) for x in s.split(",") if x.strip()]


def bench_one(batch_size, warmup, repeats, calls, seed, len_overrides):
    init_seed(seed)  # seeds numpy, torch, random (the repo's helper)
    total = warmup + repeats * calls
    params = CopyTaskParams(batch_size=batch_size, num_batches=total, **len_overrides)
    model = CopyTaskModelTraining(params=params)
    # model.dataloader is the repo's dataloader(num_batches, batch_size,
    # seq_width, min_len, max_len) built from the params.
    batches = [(x, y) for _, x, y in model.dataloader]
    assert len(batches) == total
    assert batches[0][0].size(1) == batch_size and batches[0][1].size(1) == batch_size

    net, crit, opt = model.net, model.criterion, model.optimizer
    losses = []

    it = iter(batches)
    t0 = time.perf_counter()
    for _ in range(warmup):
        x, y = next(it)
        losses.append(train_batch(net, crit, opt, x, y)[0])
    warmup_s = time.perf_counter() - t0

    per_repeat = []
    for r in range(repeats):
        block = [next(it) for _ in range(calls)]
        lens = [y.size(0) for _, y in block]
        t0 = time.perf_counter()
        for x, y in block:
            loss, _cost = train_batch(net, crit, opt, x, y)
        dt = time.perf_counter() - t0
        losses.append(loss)
        per_repeat.append({
            "seconds": dt,
            "seq_per_s": calls * batch_size / dt,
            "ms_per_batch": 1000.0 * dt / calls,
            "seq_lens": lens,
            "mean_seq_len": sum(lens) / len(lens),
        })

    sps = [p["seq_per_s"] for p in per_repeat]
    return {
        "batch_size": batch_size,
        "warmup_calls": warmup,
        "warmup_seconds": warmup_s,
        "repeats": repeats,
        "calls_per_repeat": calls,
        "seq_per_s": sps,
        "seq_per_s_median": statistics.median(sps),
        "seq_per_s_min": min(sps),
        "seq_per_s_max": max(sps),
        "per_repeat": per_repeat,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "num_params": net.calculate_num_params(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-sizes", type=int_list, default=[1, 32])
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads value (default: torch's default)")
    ap.add_argument("--warmup", type=int, default=20, help="warm-up train_batch calls")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calls", type=int_list, default=None,
                    help="calls per repeat, one value for all batch sizes or one per "
                         "batch size (default: 20 at batch 1, 5 otherwise)")
    ap.add_argument("--seed", type=int, default=1000, help="the repo's default seed")
    ap.add_argument("--min-len", type=int, default=None,
                    help="override sequence_min_len (default: repo default 1)")
    ap.add_argument("--max-len", type=int, default=None,
                    help="override sequence_max_len (default: repo default 20)")
    args = ap.parse_args()
    len_overrides = {}
    if args.min_len is not None:
        len_overrides["sequence_min_len"] = args.min_len
    if args.max_len is not None:
        len_overrides["sequence_max_len"] = args.max_len

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    if args.calls is None:
        calls = [20 if b == 1 else 5 for b in args.batch_sizes]
    elif len(args.calls) == 1:
        calls = args.calls * len(args.batch_sizes)
    elif len(args.calls) == len(args.batch_sizes):
        calls = args.calls
    else:
        ap.error("--calls needs 1 value or one per batch size")

    warnings.filterwarnings("ignore")  # keep stderr clean (F.sigmoid deprecation etc.)

    defaults = CopyTaskParams()
    out = {
        "impl": "loudinthecloud/pytorch-ntm@3c64937 (unmodified)",
        "repo_path": REPO,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "threads_arg": args.threads,
        "cpu_model": cpu_model(),
        "os_cpu_count": os.cpu_count(),
        "sched_affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "seed": args.seed,
        "len_overrides": len_overrides,
        "timed_fn": "train.train_batch(net, criterion, optimizer, X, Y)",
        "default_params": {k: getattr(defaults, k) for k in (
            "controller_size", "controller_layers", "num_heads", "sequence_width",
            "sequence_min_len", "sequence_max_len", "memory_n", "memory_m",
            "batch_size", "rmsprop_lr", "rmsprop_momentum", "rmsprop_alpha")},
        "results": [],
    }
    for b, c in zip(args.batch_sizes, calls):
        out["results"].append(bench_one(b, args.warmup, args.repeats, c, args.seed,
                                         len_overrides))
        print("batch %d: median %.2f seq/s" % (b, out["results"][-1]["seq_per_s_median"]),
              file=sys.stderr)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
