"""Test-session settings that keep the suite fast; none changes what a test checks.

- Each distinct program is compiled once a session: JAX's persistent compilation cache, in a
  fresh folder per session (so a run here costs what a run on a clean CI machine costs), shared
  by pytest-xdist's workers and every process the tests start. Many tests train or evaluate the
  same tiny configuration through the command line, in both workers, and each builds its own
  jitted functions, which JAX would otherwise compile again every time. The cache has no size
  limit, which keeps its file lock off: with a limit, every read and write takes the lock and
  every write lists the whole folder (two task files ran 60% longer). An entry is written in one
  call, compressed with a checksum; a worker that reads one still being written gets an error,
  which JAX turns into a warning and a compilation.
- XLA compiles with LLVM's optimisation level 0: the tests' programs are tiny and compiling them
  is most of their cost (a tiny NTM's training step: 9 s at the default level, 5 s at 0, on one
  core; 1,000 steps of it then run in 0.25 s instead of 0.16). Values agree to float rounding,
  not bit for bit (LLVM fuses multiply-adds only when optimising): after 200 Adam steps a tiny
  NTM's parameters differ by ~1e-6, well inside the tolerances the tests use.
- XLA:CPU emits its fusions with the elemental emitter rather than the MLIR fusion emitters
  (`--xla_cpu_use_fusion_emitters=false`), where this jaxlib knows the flag (an unknown flag
  stops XLA, so a child process asks first): a tiny NTM's or DNC's training chunk compiles in
  1.1 s instead of 3.1, and runs as fast (1,000 steps: 0.3 s either way). The same kernels,
  written by the other code generator: values again agree to float rounding.
- XLA:CPU writes each program as one LLVM module (`--xla_cpu_parallel_codegen_split_count=1`),
  not split into parts compiled on a thread pool: two workers already keep both cores busy, and
  the split only adds work: a tiny NTM's, DNC's and LSTM's training chunks and evaluations
  (`Trainer.compile(reuse=False)`) compiled in 4.2 s instead of 5.2 on one core, twice each way.
  Values agree to float rounding (after 20 steps of each, parameters within 1e-6), not bit
  for bit: the modules are optimised whole rather than in parts.
- The files that take longest run first. pytest-xdist hands each worker a whole file at a time
  (`--dist loadfile`), in collection order (`--no-loadscope-reorder`: by default it puts the
  files with the most tests first, so the files with few but long tests came last, and one
  worker could be left with a long file while the other had finished).

- Typer's test runner makes the app a Click command again at every call, most of a refused
  option's 30-60 ms; the command is made once per app and kept (`_one_click_command`).

The first process of a session (pytest-xdist's controller, or the only one with `-n 0`) makes
the compilation settings in the environment, before JAX is imported anywhere, so that the
workers and the processes the tests start (training workers, `ntm` commands) compile the same
way and share the cache; it removes the cache when the session ends.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

# Rich fixes a console's width for good when COLUMNS and LINES are both set as it is made (as
# they are in pytest-xdist's workers); without them it reads COLUMNS at every print, which the
# tests set per command.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

_SESSION = "NTM_TESTS_JAX_CACHE"  # set by the process that made the session's settings
_FAST_COMPILE = ["--xla_backend_optimization_level=0"]
_IF_KNOWN = ["--xla_cpu_use_fusion_emitters=false", "--xla_cpu_parallel_codegen_split_count=1"]


def _known_to_xla(flags: list[str]) -> bool:
    """Whether this jaxlib's XLA accepts the flags (it aborts on one it does not know)."""
    env = dict(os.environ, XLA_FLAGS=" ".join(flags), JAX_PLATFORMS="cpu")
    probe = subprocess.run([sys.executable, "-c", "import jax; jax.devices()"], env=env, capture_output=True,
                           timeout=120)
    return probe.returncode == 0


_OWNED_CACHE = None
if _SESSION not in os.environ:
    # one probe where this jaxlib knows them all (the usual case), else one a flag
    known = _IF_KNOWN if _known_to_xla(_IF_KNOWN) else [f for f in _IF_KNOWN if _known_to_xla([f])]
    flags = _FAST_COMPILE + known
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *flags]).strip()
    _OWNED_CACHE = tempfile.mkdtemp(prefix="ntm-tests-jax-cache-")
    os.environ[_SESSION] = _OWNED_CACHE
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWNED_CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"


def pytest_unconfigure(config):
    if _OWNED_CACHE is not None:
        shutil.rmtree(_OWNED_CACHE, ignore_errors=True)


# Longest first: each file's seconds in a whole run of the suite on two cores (as on CI). A
# worker takes the next file when it is almost done with its last, so the short files at the end
# even out the two. Files not named keep their collection order, after these.
_LONGEST_FIRST = [
    "test_robustness.py",  # 52
    "test_devices.py",  # 33
    "test_dnc.py",  # 31
    "test_train_cli.py",  # 30
    "test_compare.py",  # 25
    "test_curriculum.py",  # 24
    "test_tasks.py",  # 24
    "test_kv_memory.py",  # 23
    "test_sweep.py",  # 22
    "test_dynamic_ngrams.py",  # 22: ntm eval and a comparison of a tiny run, beside the floor's own checks
    "test_training.py",  # 20
    "test_ntm.py",  # 16
    "test_tensorboard.py",  # 15
    "test_layers.py",  # 14
    "test_figures.py",  # 12
    "test_data.py",  # 12
    "test_live_steps.py",  # 12
    "test_kv_access.py",  # 11
    "test_cli.py",  # 9
]


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's own order kept


@pytest.fixture(autouse=True, scope="session")
def _one_click_command():
    """CliRunner.invoke(app) builds the Click command from the Typer app at every call (the
    signature walk of every option); the app never changes within a session, so build it once."""
    import typer.testing

    made, build = {}, typer.testing._get_command

    def once(app):
        if id(app) not in made:
            made[id(app)] = (app, build(app))  # the app kept alive: its id stays its own
        return made[id(app)][1]

    typer.testing._get_command = once
    yield
    typer.testing._get_command = build
