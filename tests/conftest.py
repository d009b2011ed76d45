"""Test-session settings that keep the suite fast; none changes what a test checks.

- Each distinct program is compiled once: JAX's persistent compilation cache, in a fresh folder
  per session (so a run here costs what a run on a clean CI machine costs). Many tests train or
  evaluate the same tiny configuration through the command line, and each builds its own jitted
  functions, which JAX would otherwise compile again every time.
- XLA compiles with LLVM's optimisation level 0: the tests' programs are tiny and compiling them
  is most of their cost (a tiny NTM's training step: 9 s at the default level, 5 s at 0, on one
  core; 1,000 steps of it then run in 0.25 s instead of 0.16). Values agree to float rounding,
  not bit for bit (LLVM fuses multiply-adds only when optimising): after 200 Adam steps a tiny
  NTM's parameters differ by ~1e-6, well inside the tolerances the tests use.
"""

import os
import shutil
import tempfile

import pytest

# Rich fixes a console's width for good when COLUMNS and LINES are both set as it is made (as
# they are in pytest-xdist's workers); without them it reads COLUMNS at every print, which the
# tests set per command.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()

# Set in the environment before JAX is imported, so that processes the tests start (training
# workers) compile the same way and share the cache.
_CACHE = tempfile.mkdtemp(prefix="ntm-tests-jax-cache-")
os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"


@pytest.fixture(scope="session", autouse=True)
def _remove_the_compilation_cache():
    yield
    shutil.rmtree(_CACHE, ignore_errors=True)
