"""Linear layers and the LSTM cell for a time loop, with a backward pass that suits XLA's CPU.

Each step's backward pass forms dx = dy W^T for every weight W it multiplies by. With W
stored `[in, out]`, XLA's CPU backend (YNNPACK) runs that as a product with a transposed right
operand, several times slower than the same product with the weight laid out `[out, in]`: the
largest operation in the profile of priority sort's NTM (5 head pairs; experiments/benchmarks/
README.md). So the models transpose the kernels of their controllers and head (or interface)
layers once, before the time loop (`linear_kernels_t`, `lstm_kernels_t`), and the loop's
products take them (`dense`): priority sort's NTM 1.15-1.17x, the LSTM baseline 1.14-1.18x at
batch 32. Made inside the loop, the transpose would be folded back into the product by XLA.
Below TRANSPOSED_MIN_BATCH (`before_the_loop`) the models pass no transposed kernels and the
products are plain ones: at batch 1 the product is a matrix-vector one, which reads the kernel
as stored the fast way (the DNC at batch 1 ran 0.83x with the transposed kernels). Measured on
CPU only; no GPU was available to measure either form on.

The layers are flax's (`nnx.Linear`, `nnx.OptimizedLSTMCell`), parameters and all; only how
they are applied differs, and the values are theirs (tested) for the settings ntm uses (the
layers' default dtype, precision and, for the cell, gate and activation functions, which
`lstm_cell` takes from the cell). Being a `custom_vjp`, `dense` has reverse-mode derivatives
only: from batch 4 up, `jax.jvp`, `jacfwd` and `hessian` through a model raise an error, as the
DNC's link update does (nothing in ntm uses them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

TRANSPOSED_MIN_BATCH = 4  # the kernels are transposed before the time loop from this batch size up


@jax.custom_vjp
def dense(x: jax.Array, kernel: jax.Array, kernel_t: jax.Array) -> jax.Array:
    """x @ kernel, whose gradient for x is formed with `kernel_t` (the kernel's transpose).

    Args:
      x: `[..., in]`.
      kernel: `[in, out]` W.
      kernel_t: `[out, in]` W^T, made outside the time loop. It gets no gradient (a zero
        cotangent); the kernel gets x^T dy.

    Returns:
      `[..., out]`.
    """
    return x @ kernel


def _dense_fwd(x, kernel, kernel_t):
    return x @ kernel, (x, kernel_t)


def _dense_bwd(saved, dy):
    x, kernel_t = saved
    leading = tuple(range(x.ndim - 1))
    return dy @ kernel_t, jnp.tensordot(x, dy, axes=(leading, leading)), None  # None: a zero for kernel_t


dense.defvjp(_dense_fwd, _dense_bwd)


def before_the_loop(batch_size: int) -> bool:
    """Whether a model's time loop over a batch of this size takes its kernels transposed,
    made before it (else its products are plain ones: `kernels_t` None). A symbolic batch size
    (`jax.export` of a model for any batch) takes the plain ones."""
    return isinstance(batch_size, int) and batch_size >= TRANSPOSED_MIN_BATCH


def _product(x: jax.Array, kernel: jax.Array, kernel_t: jax.Array | None) -> jax.Array:
    """x @ kernel: through `dense` with a transposed kernel, else the plain product."""
    return x @ kernel if kernel_t is None else dense(x, kernel, kernel_t)


def linear_kernels_t(layer: nnx.Linear) -> jax.Array:
    """`[out, in]` the layer's kernel transposed, for `linear`."""
    return layer.kernel[...].T


def linear(layer: nnx.Linear, x: jax.Array, kernel_t: jax.Array | None = None) -> jax.Array:
    """`layer(x)`: x W (+ b), through `dense` where `kernel_t` is given.

    Args:
      layer: an `nnx.Linear`.
      x: `[..., in]`.
      kernel_t: `linear_kernels_t(layer)`, made before the time loop; None: the plain product.

    Returns:
      `[..., out]`.
    """
    y = _product(x, layer.kernel[...], kernel_t)
    return y if layer.bias is None else y + layer.bias[...]


def lstm_kernels_t(cell: nnx.OptimizedLSTMCell) -> tuple[jax.Array, jax.Array]:
    """(`[4H, in]` input kernel^T, `[4H, H]` recurrent kernel^T), for `lstm_cell`."""
    return cell.dense_i.kernel[...].T, cell.dense_h.kernel[...].T


def lstm_cell(cell: nnx.OptimizedLSTMCell, carry: tuple[jax.Array, jax.Array], x: jax.Array,
              kernels_t: tuple[jax.Array, jax.Array] | None = None) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
    """`cell(carry, x)`, flax's LSTM cell, through `dense` where `kernels_t` is given:

        i, f, g, o = split(x W_i + h_{t-1} W_h + b)
        c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g),   h_t = sigmoid(o) tanh(c_t)
    (sigmoid and tanh: the cell's `gate_fn` and `activation_fn`, flax's defaults).

    Args:
      cell: an `nnx.OptimizedLSTMCell`.
      carry: (c `[B, H]`, h `[B, H]`).
      x: `[B, in]`.
      kernels_t: `lstm_kernels_t(cell)`, made before the time loop; None: plain products.

    Returns:
      ((c_t, h_t), h_t).
    """
    c, h = carry
    kernel_i_t, kernel_h_t = (None, None) if kernels_t is None else kernels_t
    gates = _product(x, cell.dense_i.kernel[...], kernel_i_t) + (
        _product(h, cell.dense_h.kernel[...], kernel_h_t) + cell.dense_h.bias[...])
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = cell.gate_fn(f) * c + cell.gate_fn(i) * cell.activation_fn(g)
    h = cell.gate_fn(o) * cell.activation_fn(c)
    return (c, h), h
