"""The key-value memory of Kaiser, Nachum, Roy & Bengio (ICLR 2017), "Learning to Remember Rare
Events", section 3: its rules as small pure functions.

Memory M = (K, V, A): keys K `[N, d]` of unit norm, integer values V `[N]` (a class; -1 marks an
empty slot, so that an empty slot never matches class 0), ages A `[N]`, and R `[C]`: for every
value the slot most recently written with it (-1: none), which the official code keeps to have a
positive slot for the loss. Every function takes Q queries on one memory (Q = B when a batch
shares a life-long memory, Q = 1 when each sequence has its own); queries q are unit vectors.
Training sorts nothing: the answer is the nearest slot, and the loss needs only whether the
nearest slot holding the true value (and the nearest holding another) is among the k nearest,
which a count of the slots ranked ahead of it tells (`margin_pair`); `nearest_neighbours`, an
explicit top-k, is what `ntm memory` draws and what the tests hold the counts to.

For a query q with true value v:

    s_i = q . K[i]                                      cosine similarity (unit keys)
    n_1 .. n_k = the k non-empty slots of highest s, nearest first
    prediction = V[n_1]; neighbour weights softmax_i(t s_{n_i}), t = max(1, log(0.2 k) / alpha)
    loss = [s_b - s_p + alpha]_+                        p: the first neighbour with V = v (else R[v]),
                                                        b: the first with V != v; s = 0 for none
    update, after predicting:
      V[n_1] = v:  K[n_1] <- normalise(q + K[n_1]),  A[n_1] <- 0
      otherwise:   the oldest slot, argmax(A + U(-noise, noise)), gets K = q, V = v, A = 0
      every other age grows by 1; R[v] <- the slot written

Gradients reach q only (through s_p and s_b): K, V, A and R are never trained by gradient, so
the rules below are written on values with no gradient, and `margin_loss` takes the two keys
the loss compares.

Where the paper and the official code leave a case open, this module defines it:
- ties in similarity: the lower slot first (the order of `jax.lax.top_k`);
- two correct queries in one batch on the same slot: K <- normalise(K + q_1 + q_2), order-free;
- wrong queries write to distinct slots, the oldest first in batch order, never to a slot a
  correct query of the same batch updates;
- several queries of one value in a batch: R[v] is the slot of the last of them in batch order;
- no positive anywhere (a value never written, or overwritten since): s_p = 0, and no
  negative among the k: s_b = 0, which is what the official code's masked products give;
- empty slots are written before any filled one (in an order the age noise draws), where the
  official code starts every slot at age 0 holding value 0;
- the official code takes the best positive and negative as maxima of similarities masked by
  products with 0/1, so one of negative similarity counts as 0; here each is its true similarity.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

EMPTY = -1  # the value of a slot never written
NORM_EPS = 1e-12


class KVState(NamedTuple):
    """The memory (Kaiser et al.'s M = (K, V, A), and the official code's recent slot per value).

    Attributes:
      keys: `[N, d]` K, unit rows (zero where empty).
      values: `[N]` int32 V, -1 where empty.
      ages: `[N]` int32 A: steps since each slot was last written.
      recent: `[C]` int32: the slot most recently written with each value, -1 for none.
    """

    keys: jax.Array
    values: jax.Array
    ages: jax.Array
    recent: jax.Array


class Lookup(NamedTuple):
    """The k nearest neighbours of Q queries, nearest first.

    Attributes:
      slots: `[Q, k]` int32 slot indices n_1 .. n_k.
      similarities: `[Q, k]` s_{n_i} = q . K[n_i] (-inf where the slot is empty).
      values: `[Q, k]` int32 V[n_i] (-1 where the slot is empty).
    """

    slots: jax.Array
    similarities: jax.Array
    values: jax.Array


class MarginPair(NamedTuple):
    """The two keys the loss compares a query with (no gradient).

    Attributes:
      positive: `[Q, d]` K[p], the nearest slot holding the true value (zero if none).
      has_positive: `[Q]` bool.
      negative: `[Q, d]` K[b], the nearest neighbour holding another value (zero if none).
      has_negative: `[Q]` bool.
    """

    positive: jax.Array
    has_positive: jax.Array
    negative: jax.Array
    has_negative: jax.Array


def empty_memory(rows: int, key_size: int, num_values: int) -> KVState:
    """An empty memory of N = `rows` slots for keys of width d = `key_size` and values 0 .. C - 1."""
    return KVState(
        keys=jnp.zeros((rows, key_size), jnp.float32),
        values=jnp.full((rows,), EMPTY, jnp.int32),
        ages=jnp.zeros((rows,), jnp.int32),
        recent=jnp.full((num_values,), EMPTY, jnp.int32),
    )


def temperature(neighbours: int, margin: float) -> float:
    """t = max(1, log(0.2 k) / alpha) (~39.4 for k = 256, alpha = 0.1): one neighbour ahead of
    k - 1 others by the margin alpha gets 0.2 k / (1.2 k - 1), about a sixth, of the softmax (the
    official code's comment says 20%, leaving the neighbour's own term out of the sum)."""
    return max(1.0, math.log(0.2 * neighbours) / margin)


def normalise(x: jax.Array) -> jax.Array:
    """x / |x| along the last axis (0 stays 0)."""
    return x / jnp.sqrt(jnp.sum(x**2, axis=-1, keepdims=True) + NORM_EPS)


def similarities(memory: KVState, queries: jax.Array) -> jax.Array:
    """s_i = q . K[i] for every slot: `[Q, d]` -> `[Q, N]`, -inf for empty slots."""
    return jnp.where(memory.values[None, :] >= 0, queries @ memory.keys.T, -jnp.inf)


def _first_max(similarity: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The largest entry of each row and the first slot holding it (`[Q, N]` -> `[Q]`, `[Q]`)."""
    top = jnp.max(similarity, axis=-1)
    slots = jnp.arange(similarity.shape[-1], dtype=jnp.int32)
    first = jnp.min(jnp.where(similarity == top[:, None], slots, similarity.shape[-1]), axis=-1)
    return top, jnp.minimum(first, similarity.shape[-1] - 1)


def _rank(similarity: jax.Array, top: jax.Array, slot: jax.Array) -> jax.Array:
    """Where slot `slot` (of similarity `top`) comes among the neighbours, nearest first (0 for
    n_1; ties: the lower slot first): `[Q]`."""
    slots = jnp.arange(similarity.shape[-1], dtype=jnp.int32)
    ahead = (similarity > top[:, None]) | ((similarity == top[:, None]) & (slots < slot[:, None]))
    return jnp.sum(ahead, axis=-1)


class Answer(NamedTuple):
    """The memory's answer to Q queries.

    Attributes:
      nearest: `[Q]` int32 n_1, the nearest filled slot (slot 0 in an empty memory).
      value: `[Q]` int32 V[n_1], the answer (-1 from an empty memory).
      logits: `[Q, C]` the answer as a distribution over values, for its cost (see `answer`).
    """

    nearest: jax.Array
    value: jax.Array
    logits: jax.Array


def answer(memory: KVState, similarity: jax.Array, num_values: int, t: float) -> Answer:
    """The nearest filled slot's value, V[n_1], and logits over the C values.

    The paper's model answers V[n_1] and gives no distribution over values; for a cost in bits
    this one gives each value t times the similarity of its nearest slot, and a value no slot
    holds -t (a cosine of -1, the lowest there is): the most likely value is the answer, and an
    empty memory gives every value the same chance.

    Args:
      memory: the memory.
      similarity: `[Q, N]` from `similarities`.
      num_values: C.
      t: the softmax temperature (`temperature`).
    """
    top, nearest = _first_max(similarity)
    value = jnp.where(jnp.isfinite(top), memory.values[nearest], EMPTY)
    filled = memory.values >= 0
    segment = jnp.where(filled, memory.values, num_values)  # empty slots: a segment of their own, dropped
    scaled = jnp.where(filled[None, :], t * similarity, -t)
    best = jax.vmap(lambda row: jax.ops.segment_max(row, segment, num_segments=num_values + 1))(scaled)
    logits = jnp.maximum(best[:, :num_values], -t)  # -inf (no slot) -> -t
    return Answer(nearest, value, logits)


def nearest_neighbours(memory: KVState, queries: jax.Array, k: int) -> Lookup:
    """The k non-empty slots most similar to each query, nearest first, by an explicit top-k
    (fewer than k filled: the rest are empty slots, value -1 and similarity -inf). Training
    needs only where the positive and negative slots rank among them (`margin_pair`); this is
    what `ntm memory` draws.

    Args:
      memory: the memory.
      queries: `[Q, d]` unit queries q.
      k: neighbours, at most N.
    """
    top, slots = jax.lax.top_k(similarities(memory, queries), k)  # [Q, k], sorted, lower slot first on ties
    return Lookup(slots, top, memory.values[slots])


def neighbour_weights(lookup: Lookup, t: float) -> jax.Array:
    """softmax_i(t s_{n_i}) over the filled neighbours: `[..., k]` (0 for empty ones; all 0 for an
    empty memory)."""
    filled = lookup.values >= 0
    scaled = jnp.where(filled, t * lookup.similarities, -jnp.inf)
    safe = jnp.where(filled.any(-1, keepdims=True), scaled, 0.0)
    return jnp.where(filled, jax.nn.softmax(safe, axis=-1), 0.0)


def margin_pair(memory: KVState, similarity: jax.Array, labels: jax.Array, k: int) -> MarginPair:
    """The positive and negative slots of each query's loss.

    p is the first of the k nearest neighbours holding the true value v; if none of them does,
    the slot most recently written with v (R[v]), if it still holds v. b is the first of the k
    holding another value. Both are found without sorting: the nearest slot of a kind is among
    the k neighbours exactly when fewer than k slots rank ahead of it.

    Args:
      memory: the memory.
      similarity: `[Q, N]` from `similarities`.
      labels: `[Q]` int32 the true values v.
      k: the neighbours.
    """
    holds = memory.values[None, :] == labels[:, None]  # [Q, N]; an empty slot's -1 never matches
    other = (memory.values[None, :] >= 0) & ~holds
    top_positive, positive = _first_max(jnp.where(holds, similarity, -jnp.inf))
    top_negative, negative = _first_max(jnp.where(other, similarity, -jnp.inf))
    positive_near = jnp.isfinite(top_positive) & (_rank(similarity, top_positive, positive) < k)
    negative_near = jnp.isfinite(top_negative) & (_rank(similarity, top_negative, negative) < k)
    recent = memory.recent[labels]  # [Q]
    recent_holds = (recent >= 0) & (memory.values[jnp.maximum(recent, 0)] == labels)
    positive = jnp.where(positive_near, positive, jnp.maximum(recent, 0))
    has_positive = positive_near | recent_holds
    keys = memory.keys
    return MarginPair(
        positive=jnp.where(has_positive[:, None], keys[positive], 0.0),
        has_positive=has_positive,
        negative=jnp.where(negative_near[:, None], keys[negative], 0.0),
        has_negative=negative_near,
    )


def margin_loss(queries: jax.Array, pair: MarginPair, margin: float) -> jax.Array:
    """loss = [q . K[b] - q . K[p] + alpha]_+ per query: `[...]`; the gradient reaches q only.

    Args:
      queries: `[..., d]` unit queries (with their gradient).
      pair: `margin_pair`'s keys (constants), `[..., d]`.
      margin: alpha.
    """
    positive = jnp.sum(queries * jax.lax.stop_gradient(pair.positive), axis=-1)  # s_p (0 if none)
    negative = jnp.sum(queries * jax.lax.stop_gradient(pair.negative), axis=-1)  # s_b (0 if none)
    return jax.nn.relu(negative - positive + margin)


class Written(NamedTuple):
    """What an update did, per query.

    Attributes:
      slot: `[Q]` int32 the slot each query wrote or updated (-1: an inactive query wrote nothing).
      updated: `[Q]` bool: the answer was right, so its nearest slot was updated in place
        (else a new slot was written).
    """

    slot: jax.Array
    updated: jax.Array


def update(memory: KVState, answered: Answer, queries: jax.Array, labels: jax.Array, active: jax.Array,
           key: jax.Array, age_noise: float) -> tuple[KVState, Written]:
    """The memory after Q queries were answered and their true values revealed.

    Args:
      memory: the memory the queries were answered from.
      answered: its answers (`answer`).
      queries: `[Q, d]` unit queries (no gradient flows into the memory).
      labels: `[Q]` int32 true values v.
      active: `[Q]` bool: the queries that count (a padded step writes nothing and ages nothing).
      key: PRNG key of the age noise.
      age_noise: the noise's half-width.

    Returns:
      (the new memory, what each query wrote).
    """
    queries = jax.lax.stop_gradient(queries)
    rows, count = memory.values.shape[0], labels.shape[0]
    nearest = answered.nearest  # n_1
    correct = active & (answered.value == labels)
    wrong = active & ~correct

    # Right answers: K[n_1] <- normalise(K[n_1] + the sum of the queries that found it); queries
    # on one slot write the same row, so the order of the scatter does not matter. Only the
    # touched rows are computed: O(Q^2 d), not O(N d).
    same = correct[None, :] & (nearest[None, :] == nearest[:, None])  # [Q, Q]: query i found j's slot
    rows_after = normalise(memory.keys[nearest] + same.astype(queries.dtype) @ queries)  # [Q, d]
    target = jnp.where(correct, nearest, rows)  # rows: no write
    hit = jnp.zeros((rows,), bool).at[target].set(True, mode="drop")
    keys = memory.keys.at[target].set(rows_after, mode="drop")

    # Wrong answers: the oldest slots (empty ones first), never one a right answer just updated;
    # the j-th wrong query in batch order takes the j-th oldest.
    noise = jax.random.uniform(key, (rows,), minval=-age_noise, maxval=age_noise)
    filled = memory.values >= 0
    ages = memory.ages.astype(jnp.float32)
    # an empty slot counts as older than any filled one, by more than the noise can reorder
    empty_age = jnp.max(jnp.where(filled, ages, 0.0)) + 2 * age_noise + 1
    age = jnp.where(filled, ages, empty_age) + noise
    age = jnp.where(hit, -jnp.inf, age)
    oldest = jnp.argmax(age)[None] if count == 1 else jax.lax.top_k(age, count)[1]  # [Q], distinct
    rank = jnp.cumsum(wrong) - 1
    fresh = jnp.where(wrong, oldest[jnp.clip(rank, 0, count - 1)], rows)  # rows: no write
    keys = keys.at[fresh].set(queries, mode="drop")
    values = memory.values.at[fresh].set(labels, mode="drop")
    touched = hit | jnp.zeros((rows,), bool).at[fresh].set(True, mode="drop")
    ages = jnp.where(touched, 0, memory.ages + jnp.any(active).astype(jnp.int32))

    slot = jnp.where(correct, nearest, jnp.where(wrong, fresh, -1))
    last = jnp.full(memory.recent.shape, -1, jnp.int32).at[jnp.where(active, labels, memory.recent.shape[0])].max(
        jnp.arange(count, dtype=jnp.int32), mode="drop")  # the last active query of each value
    recent = jnp.where(last >= 0, slot[jnp.maximum(last, 0)], memory.recent)
    return KVState(keys, values, ages, recent), Written(slot, correct)
