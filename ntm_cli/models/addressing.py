"""NTM memory addressing, reading and writing (Graves et al., 2014, section 3).

Every function is pure and written for one head and one example; `jax.vmap` lifts them over
heads and batch. Shapes: N memory rows, M row width, S = 2 * shift_range + 1 allowed shifts.

Per head and time step, addressing composes, in the paper's order:

    w^c_t = content_weighting(M_t, k_t, beta_t)          (eq. 5, 6)
    w^g_t = interpolate(w^c_t, w_{t-1}, g_t)             (eq. 7)
    w~_t  = shift(w^g_t, s_t)                            (eq. 8)
    w_t   = sharpen(w~_t, gamma_t)                       (eq. 9)

then `read` (eq. 2) and `write` (erase, eq. 3, then add, eq. 4).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

# Guards: cosine similarity of a zero row or zero key, and log of a zero weight.
COSINE_EPS = 1e-6
SHARPEN_EPS = 1e-12
# Up to this many write heads the erase products are written out one head at a time (the
# fastest form on CPU); beyond, as one batched product, so that tracing does not grow with H.
UNROLLED_HEADS = 16


class HeadParams(NamedTuple):
    """One head's addressing parameters at one step (activations already applied).

    Attributes:
      key: `[M]` k_t, the content key.
      strength: `[]` beta_t >= 0, the key strength.
      gate: `[]` g_t in (0, 1), interpolation gate (1 = content, 0 = previous weighting).
      shift: `[S]` s_t, a distribution over shifts -shift_range .. +shift_range.
      sharpen: `[]` gamma_t >= 1.
    """

    key: jax.Array
    strength: jax.Array
    gate: jax.Array
    shift: jax.Array
    sharpen: jax.Array


def row_norms_sq(memory: jax.Array) -> jax.Array:
    """|M(i)|^2 for every row: `[N, M]` -> `[N]`."""
    return jnp.sum(memory**2, axis=-1)


def cosine_similarity(memory: jax.Array, key: jax.Array, norms_sq: jax.Array | None = None) -> jax.Array:
    """K[k, M(i)] = k . M(i) / (|k| |M(i)| + eps).

    Args:
      memory: `[N, M]`.
      key: `[M]`.
      norms_sq: `[N]` |M(i)|^2 if already known (`row_norms_sq(memory)`), else computed here.

    Returns:
      `[N]` similarities in [-1, 1]; 0 for an all-zero row or key.
    """
    dot = memory @ key  # [N]
    norms_sq = row_norms_sq(memory) if norms_sq is None else norms_sq
    norms = jnp.sqrt(norms_sq * jnp.sum(key**2) + COSINE_EPS**2)
    return dot / (norms + COSINE_EPS)


def content_weighting(
    memory: jax.Array, key: jax.Array, strength: jax.Array, norms_sq: jax.Array | None = None
) -> jax.Array:
    """w^c_t(i) = softmax_i(beta_t K[k_t, M_t(i)]).

    Args:
      memory: `[N, M]` M_t.
      key: `[M]` k_t.
      strength: `[]` beta_t >= 0.
      norms_sq: optional `[N]` |M_t(i)|^2, as for `cosine_similarity`.

    Returns:
      `[N]` weighting: non-negative, sums to 1.
    """
    return jax.nn.softmax(strength * cosine_similarity(memory, key, norms_sq))


def interpolate(content: jax.Array, previous: jax.Array, gate: jax.Array) -> jax.Array:
    """w^g_t = g_t w^c_t + (1 - g_t) w_{t-1}.

    Args:
      content: `[N]` w^c_t.
      previous: `[N]` w_{t-1}.
      gate: `[]` g_t in [0, 1].

    Returns:
      `[N]` w^g_t.
    """
    return gate * content + (1.0 - gate) * previous


def shift(weighting: jax.Array, shift_weights: jax.Array) -> jax.Array:
    """Circular convolution: w~_t(i) = sum_j w^g_t(j) s_t(i - j mod N).

    Args:
      weighting: `[N]` w^g_t.
      shift_weights: `[S]` s_t over shifts -r .. +r (S = 2r + 1); entry r is "no shift".
        A shift of +1 moves weight from row i to row i + 1.

    Returns:
      `[N]` w~_t.
    """
    radius = (shift_weights.shape[0] - 1) // 2
    rolled = jnp.stack([jnp.roll(weighting, offset) for offset in range(-radius, radius + 1)])  # [S, N]
    return shift_weights @ rolled


def sharpen(weighting: jax.Array, gamma: jax.Array) -> jax.Array:
    """w_t(i) = w~_t(i)^gamma / sum_j w~_t(j)^gamma, as softmax(gamma log(w~_t + eps)).

    The log-space form keeps the value and its gradient finite where w~_t has zeros.

    Args:
      weighting: `[N]` w~_t, non-negative.
      gamma: `[]` gamma_t >= 1.

    Returns:
      `[N]` w_t.
    """
    return jax.nn.softmax(gamma * jnp.log(weighting + SHARPEN_EPS))


def address(
    memory: jax.Array, previous: jax.Array, head: HeadParams, norms_sq: jax.Array | None = None
) -> jax.Array:
    """The full addressing of one head: content, interpolation, shift, sharpening.

    Args:
      memory: `[N, M]` M_t.
      previous: `[N]` w_{t-1}.
      head: this step's HeadParams.
      norms_sq: optional `[N]` |M_t(i)|^2, as for `cosine_similarity`.

    Returns:
      `[N]` w_t.
    """
    content = content_weighting(memory, head.key, head.strength, norms_sq)  # w^c_t
    gated = interpolate(content, previous, head.gate)  # w^g_t
    shifted = shift(gated, head.shift)  # w~_t
    return sharpen(shifted, head.sharpen)  # w_t


def read(memory: jax.Array, weighting: jax.Array) -> jax.Array:
    """r_t = sum_i w_t(i) M_t(i).

    Args:
      memory: `[N, M]`.
      weighting: `[N]`.

    Returns:
      `[M]` the read vector.
    """
    return weighting @ memory


def write(memory: jax.Array, weightings: jax.Array, erase: jax.Array, add: jax.Array) -> jax.Array:
    """Erase then add, for any number of write heads acting on the same memory.

        M~_t(i) = M_{t-1}(i) prod_h (1 - w^h_t(i) e^h_t)      (eq. 3; one head: the paper's form)
        M_t(i)  = M~_t(i) + sum_h w^h_t(i) a^h_t              (eq. 4)

    The product and sum make the result independent of the order of the heads. Each outer
    product w^h e^h is written as a matrix product `[N, 1] @ [1, M]` rather than a broadcast:
    its gradient is then a matrix product too, where a broadcast's gradient is a reduction over
    the rows, which XLA on CPU runs several times slower (1.6x on the whole training step at
    batch 32; experiments/benchmarks/README.md).

    Args:
      memory: `[N, M]` M_{t-1}.
      weightings: `[H, N]` w^h_t of the H write heads.
      erase: `[H, M]` e^h_t in [0, 1].
      add: `[H, M]` a^h_t.

    Returns:
      `[N, M]` M_t.
    """
    if weightings.shape[0] > UNROLLED_HEADS:  # one batched product, so tracing stays short
        keep = jnp.prod(1.0 - weightings[:, :, None] @ erase[:, None, :], axis=0)  # [N, M]
    else:
        keep = 1.0 - weightings[0][:, None] @ erase[0][None, :]  # [N, M] 1 - w e^T
        for h in range(1, weightings.shape[0]):
            keep = keep * (1.0 - weightings[h][:, None] @ erase[h][None, :])
    return memory * keep + weightings.T @ add  # sum_h w^h a^h
