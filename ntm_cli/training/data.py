"""Reading your own sequences from a NumPy archive (`ntm train --data mine.npz`), checked first.

An archive (`np.savez`, or `np.savez_compressed`) holds, batch-major:

    inputs        [S, T, I]  numbers (bool, int or float), read as float32       required
    targets       [S, T, O]  in [0, 1]; one-hot at scored steps for classes        required
    mask          [S, T]     in [0, 1]: the steps whose targets count              optional: all ones
    lengths       [S]        whole numbers 1..T, each sequence's length            optional
    eval_inputs, eval_targets, eval_mask: the held-out set, the same T, I and O    optional
    output_kind   a string, 'bits' or 'class'                                      optional: inferred

The steps past a sequence's `lengths` are padding: never scored (without a mask, the mask is 1 up
to each length; a mask given must be 0 past it). Without `eval_inputs`, the last
HELDOUT_FRACTION of the sequences (at least one) is held out and never trained on. Every check is made before anything reaches JAX: the archive's members
and their headers first (names, dtypes, shapes, and the size they take read as float32, against
this machine's memory), then the values (finite, in range). Pickled object arrays are never
loaded (`allow_pickle` stays off). Each problem is one sentence naming the file (InputError).
"""

from __future__ import annotations

import hashlib
import math
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ntm_cli.config import DataFile, TrainConfig
from ntm_cli.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from ntm_cli.tasks.base import Task

HELDOUT_FRACTION = 1 / 8  # of the sequences, from the archive's end, when it has no eval_* arrays
REQUIRED = ("inputs", "targets")
OPTIONAL = ("mask", "lengths", "eval_inputs", "eval_targets", "eval_mask", "output_kind")
OUTPUT_KINDS = ("bits", "class")
NUMBER_KINDS = "biuf"  # numpy dtype kinds that cast to float32: bool, int, unsigned, float


class Archive(NamedTuple):
    """An archive's arrays, checked and read as float32 (NumPy, on the host)."""

    inputs: np.ndarray  # [S, T, I]
    targets: np.ndarray  # [S, T, O]
    mask: np.ndarray  # [S, T]
    eval_inputs: np.ndarray  # [S', T, I]
    eval_targets: np.ndarray  # [S', T, O]
    eval_mask: np.ndarray  # [S', T]
    output_kind: str  # 'bits' or 'class'
    inferred: bool  # whether output_kind was inferred rather than declared
    heldout: int  # sequences held out from the end (0: the eval_* arrays were given)


def sha256(path: Path) -> str:
    """The file's SHA-256, hex, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def _headers(path: Path) -> dict[str, tuple[tuple[int, ...], Any]]:
    """Member name (without .npy) -> (shape, dtype), read from the archive's headers alone.

    Raises:
      InputError: not a zip archive, an empty one, a member that is not an array, or arrays that
        would not fit this machine's memory.
    """
    import numpy as np

    from ntm_cli.training import resources

    if not path.is_file():
        raise InputError(f"--data {path}: no such file.")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not a NumPy archive (.npz, as np.savez writes it).")
    headers: dict[str, tuple[tuple[int, ...], Any]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if not members:
                raise InputError(f"{path} is an empty archive: it holds no arrays.")
            for member in members:
                name = member.filename.removesuffix(".npy")
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    read = {(1, 0): np.lib.format.read_array_header_1_0,
                            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read is None:
                        raise ValueError(f"array format {version}")
                    shape, _, dtype = read(handle)
                headers[name] = (tuple(shape), dtype)
    except InputError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        raise InputError(f"{path} is not a NumPy archive: one of its members is not a saved array.") from None
    stored = sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    as_float = sum(math.prod(shape) * 4 for shape, _ in headers.values())
    need, limit = stored + 2 * as_float, resources.USABLE_FRACTION * resources.available_bytes()
    if need > limit:
        raise InputError(f"{path} needs about {resources.size_text(need)} of memory to read, more than this "
                         f"machine can give ({resources.size_text(limit)}); use a smaller archive.")
    return headers


def _check_headers(path: Path, headers: dict[str, tuple[tuple[int, ...], Any]]) -> None:
    """Names, dtypes and shapes, before any value is read; InputError naming the first problem."""
    for name in REQUIRED:
        if name not in headers:
            raise InputError(f"{path} has no '{name}' array (an archive needs inputs [S, T, I] and "
                             "targets [S, T, O]).")
    unknown = sorted(set(headers) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise InputError(f"{path} holds '{unknown[0]}', which is not one of "
                         f"{', '.join(REQUIRED + OPTIONAL)}.")
    for name, (shape, dtype) in headers.items():
        if dtype.hasobject:
            raise InputError(f"{path}: '{name}' is an array of Python objects, which only pickle could read, and "
                             "pickled arrays are never loaded; save it as numbers.")
        if name == "output_kind":
            if dtype.kind != "U" or shape != ():
                raise InputError(f"{path}: 'output_kind' must be one string, 'bits' or 'class'.")
        elif dtype.kind not in NUMBER_KINDS:
            raise InputError(f"{path}: '{name}' has dtype {dtype}, which cannot be read as numbers.")
    if ("eval_targets" in headers or "eval_mask" in headers) and "eval_inputs" not in headers:
        raise InputError(f"{path} has eval_targets or eval_mask but no 'eval_inputs'.")
    if "eval_inputs" in headers and "eval_targets" not in headers:
        raise InputError(f"{path} has eval_inputs but no 'eval_targets'.")
    _check_set(path, headers, "")
    if "eval_inputs" in headers:
        _check_set(path, headers, "eval_")
        for axis, what in ((1, "steps"), (2, "input channels")):
            train, held = headers["inputs"][0][axis], headers["eval_inputs"][0][axis]
            if train != held:
                raise InputError(f"{path}: 'eval_inputs' has {held} {what} but 'inputs' has {train}; the held-out "
                                 "set must have the training set's T and I.")
        if headers["eval_targets"][0][2] != headers["targets"][0][2]:
            raise InputError(f"{path}: 'eval_targets' has {headers['eval_targets'][0][2]} output channels but "
                             f"'targets' has {headers['targets'][0][2]}.")
    if "lengths" in headers and headers["lengths"][0] != headers["inputs"][0][:1]:
        raise InputError(f"{path}: 'lengths' has shape {headers['lengths'][0]}, not [S] = "
                         f"{headers['inputs'][0][:1]} as 'inputs'.")


def _check_set(path: Path, headers: dict[str, tuple[tuple[int, ...], Any]], prefix: str) -> None:
    """One set's shapes (training: prefix '', held-out: 'eval_')."""
    inputs, targets = headers[prefix + "inputs"][0], headers[prefix + "targets"][0]
    for name, shape, rank, axes in ((prefix + "inputs", inputs, 3, "[S, T, I]"),
                                    (prefix + "targets", targets, 3, "[S, T, O]")):
        if len(shape) != rank:
            raise InputError(f"{path}: '{name}' has shape {shape}; it must be {axes}.")
        if 0 in shape:
            raise InputError(f"{path}: '{name}' is empty (shape {shape}).")
    if targets[:2] != inputs[:2]:
        raise InputError(f"{path}: '{prefix}targets' has shape {targets} but '{prefix}inputs' has {inputs}; they "
                         "must agree in S and T.")
    if prefix + "mask" in headers and headers[prefix + "mask"][0] != inputs[:2]:
        raise InputError(f"{path}: '{prefix}mask' has shape {headers[prefix + 'mask'][0]}, not [S, T] = "
                         f"{inputs[:2]} as '{prefix}inputs'.")


def _finite(path: Path, name: str, array: np.ndarray) -> np.ndarray:
    """`array` as float32, or InputError if a value is NaN or infinite (or beyond float32)."""
    import numpy as np

    with np.errstate(over="ignore"):
        values = array.astype(np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise InputError(f"{path}: '{name}' holds NaN or infinite values (the first at index {tuple(map(int, where))}).")
    return values


def _mask_of_lengths(path: Path, lengths: np.ndarray, mask: np.ndarray | None, steps: int) -> np.ndarray:
    """`[S, T]`: the mask given (checked to score no step past a sequence's length), or 1 at the
    steps t < lengths[s] where none is given."""
    import numpy as np

    if np.any(lengths != np.round(lengths)) or lengths.min() < 1 or lengths.max() > steps:
        raise InputError(f"{path}: 'lengths' must be whole numbers from 1 to T = {steps}.")
    within = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)  # [S, T]
    if mask is None:
        return within
    past = np.argwhere((mask != 0) & (within == 0))
    if past.size:
        s, t = map(int, past[0])
        raise InputError(f"{path}: 'mask' scores step {t} of sequence {s}, past its length {int(lengths[s])} "
                         "in 'lengths'.")
    return mask


def _output_kind(path: Path, targets: np.ndarray, mask: np.ndarray, declared: str | None) -> tuple[str, bool]:
    """The declared kind checked against the targets, or the kind inferred from them: 'class'
    where there are 2+ outputs and every scored step's target is one-hot, else 'bits'."""
    import numpy as np

    if targets.min() < 0 or targets.max() > 1:
        raise InputError(f"{path}: targets must lie in [0, 1], and they run from {targets.min():g} to "
                         f"{targets.max():g}.")
    scored = targets[mask > 0]  # [scored steps, O]
    one_hot = targets.shape[-1] >= 2 and bool(np.all((scored == 0) | (scored == 1))) and bool(
        np.all(scored.sum(-1) == 1))
    if declared is None:
        return ("class" if one_hot else "bits"), True
    if declared not in OUTPUT_KINDS:
        raise InputError(f"{path}: 'output_kind' is {declared!r}; it must be 'bits' or 'class'.")
    if declared == "class" and not one_hot:
        raise InputError(f"{path} declares classes, but its targets are not one-hot (one 1 among 2 or more "
                         "outputs) at every scored step.")
    return declared, False


def read_archive(path: Path) -> Archive:
    """The archive at `path`, every check made (see the module's docstring).

    Raises:
      InputError: one sentence naming the file and its first problem.
    """
    import numpy as np

    headers = _headers(path)
    _check_headers(path, headers)
    try:
        with np.load(path, allow_pickle=False) as archive:
            raw = {name: archive[name] for name in headers}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise InputError(f"{path} cannot be read as a NumPy archive ({str(error).rstrip('.')}).") from None
    arrays = {name: _finite(path, name, value) for name, value in raw.items() if name != "output_kind"}
    count, steps = arrays["inputs"].shape[:2]
    if "lengths" in arrays:
        if "eval_inputs" in arrays and "eval_mask" not in arrays:
            raise InputError(f"{path}: 'lengths' gives the training sequences' lengths; give 'eval_mask' too, so that "
                             "the held-out set scores no padding either.")
        arrays["mask"] = _mask_of_lengths(path, arrays["lengths"], arrays.get("mask"), steps)
    for prefix in ("", "eval_"):
        if prefix + "inputs" in arrays:
            mask = arrays.setdefault(prefix + "mask", np.ones(arrays[prefix + "inputs"].shape[:2], np.float32))
            if mask.min() < 0 or mask.max() > 1:
                raise InputError(f"{path}: '{prefix}mask' must lie in [0, 1].")
            if not mask.any():
                raise InputError(f"{path}: '{prefix}mask' is zero everywhere, so no step would be scored.")
    declared = str(raw["output_kind"]) if "output_kind" in raw else None
    every_target = np.concatenate([arrays["targets"]] + ([arrays["eval_targets"]] if "eval_targets" in arrays else []))
    every_mask = np.concatenate([arrays["mask"]] + ([arrays["eval_mask"]] if "eval_mask" in arrays else []))
    kind, inferred = _output_kind(path, every_target, every_mask, declared)
    if "eval_inputs" in arrays:
        return Archive(arrays["inputs"], arrays["targets"], arrays["mask"], arrays["eval_inputs"],
                       arrays["eval_targets"], arrays["eval_mask"], kind, inferred, 0)
    if count < 2:
        raise InputError(f"{path} holds one sequence and no eval_inputs; it needs 2 or more, one to hold out.")
    held = max(1, round(count * HELDOUT_FRACTION))
    train = slice(0, count - held)
    test = slice(count - held, count)
    return Archive(arrays["inputs"][train], arrays["targets"][train], arrays["mask"][train], arrays["inputs"][test],
                   arrays["targets"][test], arrays["mask"][test], kind, inferred, held)


def chance_cost(targets: np.ndarray, mask: np.ndarray, kind: str) -> float:
    """Bits per sequence of the uninformed guess: 0.5 for every scored bit, or every class alike
    (log2 O bits a scored step), averaged over the sequences.

    Args:
      targets: `[S, T, O]`; mask: `[S, T]`.
    """
    import numpy as np

    per_step = math.log2(targets.shape[-1]) if kind == "class" else targets.shape[-1]
    return float(np.sum(mask) / mask.shape[0] * per_step)


def data_task(archive: Archive, digest: str) -> Task:
    """The DataTask of an archive: its training and held-out parts as device arrays."""
    import jax.numpy as jnp

    from ntm_cli.tasks.data import DataTask

    def part(inputs, targets, mask, name, held=None) -> DataTask:
        return DataTask(inputs=jnp.asarray(inputs), targets=jnp.asarray(targets), mask=jnp.asarray(mask),
                        output_kind=archive.output_kind, digest=digest, part=name,
                        chance=chance_cost(targets, mask, archive.output_kind), held=held)

    held = part(archive.eval_inputs, archive.eval_targets, archive.eval_mask, "heldout")
    return part(archive.inputs, archive.targets, archive.mask, "train", held)


def load_data(path: Path) -> tuple[DataFile, Task, str]:
    """The record, the task and a line in words of the archive at `path` (for `ntm train`).

    Raises:
      InputError: the file is missing, is not an archive, or fails a check.
    """
    path = Path(path).expanduser().absolute()
    archive = read_archive(path)
    record = DataFile(path=str(path), bytes=path.stat().st_size, sha256=sha256(path), heldout=archive.heldout,
                      output_kind=archive.output_kind)
    task = data_task(archive, record.sha256)
    held = (f"{archive.heldout} held out from its end" if archive.heldout
            else f"{archive.eval_inputs.shape[0]} held out (eval_inputs)")
    kind = (f"{archive.output_kind} (inferred from the targets; an 'output_kind' entry declares it)"
            if archive.inferred else archive.output_kind)
    line = (f"data {path}: {archive.inputs.shape[0] + archive.heldout} sequences ({held}), T={task.max_time}, "
            f"{task.input_size} inputs, {task.output_size} outputs as {kind}.")
    return record, task, line


def recorded_task(record: DataFile) -> Task:
    """The task of a run's archive, read again; refused if the file is gone or has changed.

    Raises:
      InputError: the file is missing, or its SHA-256 is not the one recorded.
    """
    path = Path(record.path)
    if not path.is_file():
        raise InputError(f"the archive {path} this run trained on is missing; put it back to continue or evaluate.")
    digest = sha256(path)
    if digest != record.sha256:
        raise InputError(f"the archive {path} has changed since this run trained on it (SHA-256 {digest[:12]}..., "
                         f"recorded {record.sha256[:12]}...); restore it, or train a new run on it.")
    return data_task(read_archive(path), digest)


def task_of(config: TrainConfig) -> Task:
    """A run's task: its archive's (checked against the record), or the generator it names."""
    if config.data is not None:
        return recorded_task(config.data)
    from ntm_cli.tasks import make_task

    return make_task(config.task, **config.task_sizes)
