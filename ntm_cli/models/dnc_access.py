"""The Differentiable Neural Computer's memory access (Graves et al., Nature 2016, Methods).

Pure functions for one example, lifted with `jax.vmap` over the batch. Shapes: N memory rows,
R read heads, W write heads. Content addressing is the NTM's (`addressing.content_weighting`)
and the erase-then-add write is the NTM's (`addressing.write`); what the DNC adds is here:

    psi_t   = prod_r (1 - f^r_t w^{r}_{t-1})                              retention
    u_t     = (u_{t-1} + w^w_{t-1} - u_{t-1} w^w_{t-1}) psi_t            usage
    a_t     = allocation(u_t): free rows, least used first               allocation
    w^w_t   = g^w_t (g^a_t a_t + (1 - g^a_t) c^w_t)                      write weighting
    p_t     = (1 - sum_i w^w_t(i)) p_{t-1} + w^w_t                        precedence
    L_t     = (1 - w^w_t(i) - w^w_t(j)) L_{t-1}(i, j) + w^w_t(i) p_{t-1}(j), L_t(i, i) = 0
    f^r_t   = L_t w^r_{t-1},  b^r_t = L_t^T w^r_{t-1}                    forward, backward
    w^r_t   = pi^r_t[backward] b^r_t + pi^r_t[content] c^r_t + pi^r_t[forward] f^r_t

With W write heads (as in deepmind/dnc) usage counts every head's write, each head allocates
in turn from the usage its predecessors left, and each keeps its own precedence and link
matrix, so a read head has 2 W + 1 modes: backward per write head, content, forward per
write head.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ntm_cli.models.addressing import UNROLLED_HEADS

# Usage is kept in [USAGE_EPS, 1] inside the allocation so that products of usages never
# vanish exactly (deepmind/dnc does the same).
USAGE_EPS = 1e-6


def retention(free_gates: jax.Array, read_weights: jax.Array) -> jax.Array:
    """psi_t(i) = prod_r (1 - f^r_t w^r_{t-1}(i)): how much of each row the reads leave in use.

    Args:
      free_gates: `[R]` f^r_t in [0, 1].
      read_weights: `[R, N]` the previous step's read weightings w^r_{t-1}.

    Returns:
      `[N]` in [0, 1].
    """
    return jnp.prod(1.0 - free_gates[:, None] * read_weights, axis=0)


def update_usage(usage: jax.Array, write_weights: jax.Array, free_gates: jax.Array,
                 read_weights: jax.Array) -> jax.Array:
    """u_t = (u_{t-1} + (1 - u_{t-1}) (1 - prod_w (1 - w^{w}_{t-1}))) psi_t.

    Args:
      usage: `[N]` u_{t-1} in [0, 1].
      write_weights: `[W, N]` the previous step's write weightings.
      free_gates: `[R]` f^r_t.
      read_weights: `[R, N]` the previous step's read weightings.

    Returns:
      `[N]` u_t in [0, 1].
    """
    written = 1.0 - jnp.prod(1.0 - write_weights, axis=0)  # [N]
    return (usage + (1.0 - usage) * written) * retention(free_gates, read_weights)


def allocation(usage: jax.Array) -> jax.Array:
    """a_t(phi_j) = (1 - u_t(phi_j)) prod_{i<j} u_t(phi_i), phi the rows sorted by usage, ascending.

    The sort is not differentiable; as in the paper, the order is treated as a constant and
    gradients flow through the usages themselves. The order is used without sorting: row j
    comes before row i when u(j) < u(i), or u(j) = u(i) and j < i (a stable sort's order), so
    prod_{j before i} u(j) = exp(sum_j before[i, j] log u(j)), one `[N, N] @ [N]` product. On a
    CPU this is several times faster than a sort, a cumulative product and a scatter, and it
    gives the same values.

    Args:
      usage: `[N]` u_t in [0, 1].

    Returns:
      `[N]` non-negative, summing to at most 1, largest on the least-used row.
    """
    usage = USAGE_EPS + (1.0 - USAGE_EPS) * usage  # > 0, so its log is finite
    fixed = jax.lax.stop_gradient(usage)
    rows = jnp.arange(usage.shape[0])
    before = (fixed[None, :] < fixed[:, None]) | ((fixed[None, :] == fixed[:, None]) & (rows[None, :] < rows[:, None]))
    return (1.0 - usage) * jnp.exp(before.astype(usage.dtype) @ jnp.log(usage))


def write_allocations(usage: jax.Array, write_gates: jax.Array) -> jax.Array:
    """Each write head's allocation, in turn: a head allocates from the usage the heads before it
    left, having counted their gated allocations as written.

    Args:
      usage: `[N]` u_t.
      write_gates: `[W]` g^w_t of each write head.

    Returns:
      `[W, N]` allocation weightings.
    """
    def next_head(usage, write_gate):
        alloc = allocation(usage)
        return usage + (1.0 - usage) * write_gate * alloc, alloc

    if write_gates.shape[0] > UNROLLED_HEADS:  # a loop, so that tracing does not grow with W
        return jax.lax.scan(next_head, usage, write_gates)[1]
    out = []
    for gate in write_gates:
        usage, alloc = next_head(usage, gate)
        out.append(alloc)
    return jnp.stack(out)


def write_weighting(content: jax.Array, alloc: jax.Array, write_gate: jax.Array,
                    allocation_gate: jax.Array) -> jax.Array:
    """w^w_t = g^w_t (g^a_t a_t + (1 - g^a_t) c^w_t).

    Args:
      content: `[N]` c^w_t, the write key's content weighting.
      alloc: `[N]` a_t.
      write_gate: `[]` g^w_t in [0, 1] (0: no write).
      allocation_gate: `[]` g^a_t in [0, 1] (1: write to free rows, 0: by content).

    Returns:
      `[N]`, summing to at most 1.
    """
    return write_gate * (allocation_gate * alloc + (1.0 - allocation_gate) * content)


def update_precedence(precedence: jax.Array, write_weights: jax.Array) -> jax.Array:
    """p_t = (1 - sum_i w^w_t(i)) p_{t-1} + w^w_t: where the last write went.

    Args:
      precedence: `[N]` p_{t-1}, summing to at most 1.
      write_weights: `[N]` w^w_t of one write head.

    Returns:
      `[N]` p_t, summing to at most 1.
    """
    return (1.0 - jnp.sum(write_weights)) * precedence + write_weights


def update_link(link: jax.Array, precedence: jax.Array, write_weights: jax.Array) -> jax.Array:
    """L_t(i, j) = (1 - w(i) - w(j)) L_{t-1}(i, j) + w(i) p_{t-1}(j), with a zero diagonal.

    L_t(i, j) is the degree to which row i was written right after row j.

    Args:
      link: `[N, N]` L_{t-1}.
      precedence: `[N]` p_{t-1} (before this step's write).
      write_weights: `[N]` w^w_t of the same write head.

    Returns:
      `[N, N]` L_t, entries in [0, 1], rows and columns summing to at most 1.
    """
    w = write_weights
    updated = (1.0 - w[:, None] - w[None, :]) * link + w[:, None] * precedence[None, :]
    return updated * (1.0 - jnp.eye(link.shape[0], dtype=link.dtype))


def directional_weights(link: jax.Array, read_weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(forward f = L w^r_{t-1}, backward b = L^T w^r_{t-1}) for one read head and one link matrix.

    Args:
      link: `[N, N]` L_t.
      read_weights: `[N]` the read head's previous weighting.

    Returns:
      (`[N]` forward: the rows written after the ones read, `[N]` backward: before).
    """
    return link @ read_weights, link.T @ read_weights


def _link_and_directions(link, precedence, write_weights, read_weights):
    """The forward computation of `link_and_directions` (see there)."""
    w = write_weights
    n = link.shape[-1]
    off_diagonal = 1.0 - jnp.eye(n, dtype=link.dtype)
    kept = (1.0 - w[:, :, None] - w[:, None, :]) * link  # (1 - w(i) - w(j)) L_{t-1}(i, j)
    updated = (kept + w[:, :, None] * precedence[:, None, :]) * off_diagonal  # [W, N, N] L_t
    forward = jnp.matmul(updated, read_weights.T[None])  # [W, N, R]: L_t w^r
    backward = jnp.matmul(read_weights[None], updated)  # [W, R, N]: (L_t^T w^r)^T
    return updated, jnp.swapaxes(forward, 1, 2), backward


@jax.custom_vjp
def link_and_directions(link: jax.Array, precedence: jax.Array, write_weights: jax.Array,
                        read_weights: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`update_link` for every write head, then `directional_weights` for every (write head, read
    head) pair, with the gradient written out by hand.

    The values are those of the two reference functions above (tested equal, gradients too).
    The gradient is written with matrix products only: XLA's CPU backend turns the automatic
    one into batched outer products and row reductions that ran 3x slower, and the link matrix
    is most of a DNC's cost (experiments/benchmarks/README.md). L_t is recomputed in the
    backward pass rather than stored, so a time loop that saves every step's intermediates keeps
    one link matrix per step for it (training's loop recomputes every step anyway:
    `base.scan_steps`). Being a
    `custom_vjp`, it has reverse-mode derivatives only: `jax.jvp`, `jacfwd` and `hessian`
    through a DNC raise an error (nothing in ntm uses them).

    Args:
      link: `[W, N, N]` L_{t-1} per write head.
      precedence: `[W, N]` p_{t-1} per write head (before this step's write).
      write_weights: `[W, N]` w^w_t.
      read_weights: `[R, N]` w^r_{t-1}.

    Returns:
      (`[W, N, N]` L_t, `[W, R, N]` forward L_t w^r_{t-1}, `[W, R, N]` backward L_t^T w^r_{t-1}).
    """
    return _link_and_directions(link, precedence, write_weights, read_weights)


def _link_forward(link, precedence, write_weights, read_weights):
    """`link_and_directions` and what its backward pass keeps: the inputs (L_t is recomputed)."""
    return _link_and_directions(link, precedence, write_weights, read_weights), (
        link, precedence, write_weights, read_weights)


def _link_backward(residuals, cotangents):
    """The cotangents of (L_{t-1}, p_{t-1}, w^w_t, w^r_{t-1}) from those of (L_t, forward, backward)."""
    link, precedence, w, read_weights = residuals
    g_link, g_forward, g_backward = cotangents  # [W, N, N], [W, R, N], [W, R, N]
    updated, _, _ = _link_and_directions(link, precedence, w, read_weights)
    n = link.shape[-1]
    off_diagonal = 1.0 - jnp.eye(n, dtype=link.dtype)
    # dLoss/dL_t: the carried gradient plus the two reads, sum_r g_f[r, i] w^r(j) + w^r(i) g_b[r, j]
    g = (g_link + jnp.matmul(jnp.swapaxes(g_forward, 1, 2), read_weights[None])
         + jnp.matmul(read_weights.T[None], g_backward)) * off_diagonal
    g_prev_link = g * (1.0 - w[:, :, None] - w[:, None, :])
    g_times_link = g * link
    ones = jnp.ones((n, 1), link.dtype)
    # d/dw(i) of (1 - w(i) - w(j)) L(i, j) + w(i) p(j): sum_j g(i, j) (p(j) - L(i, j)) - sum_j g(j, i) L(j, i)
    g_write = (jnp.matmul(g, precedence[:, :, None]) - jnp.matmul(g_times_link, ones))[:, :, 0] \
        - jnp.matmul(ones.T[None], g_times_link)[:, 0, :]
    g_precedence = jnp.matmul(w[:, None, :], g)[:, 0, :]  # sum_i w(i) g(i, j)
    # forward = L_t w^r and backward = L_t^T w^r, so dw^r(j) = sum_i g_f(i) L_t(i, j) + g_b(i) L_t(j, i)
    from_backward = jnp.swapaxes(jnp.matmul(updated, jnp.swapaxes(g_backward, 1, 2)), 1, 2)  # [W, R, N]
    g_read = jnp.sum(jnp.matmul(g_forward, updated) + from_backward, axis=0)  # summed over write heads
    return g_prev_link, g_precedence, g_write, g_read


link_and_directions.defvjp(_link_forward, _link_backward)


def read_weighting(backward: jax.Array, content: jax.Array, forward: jax.Array, modes: jax.Array) -> jax.Array:
    """w^r_t = sum_w pi[w] b_w + pi[W] c + sum_w pi[W + 1 + w] f_w.

    Args:
      backward: `[W, N]` b per write head's link matrix.
      content: `[N]` c^r_t.
      forward: `[W, N]` f per write head's link matrix.
      modes: `[2 W + 1]` pi^r_t, a distribution: backward per write head, content, forward.

    Returns:
      `[N]` w^r_t, summing to at most 1.
    """
    heads = backward.shape[0]
    return modes[:heads] @ backward + modes[heads] * content + modes[heads + 1 :] @ forward
