"""Associative recall (paper section 4.3): given one item of a list, recall the item after it.

An item is `item_size` random W-bit vectors (paper: 3 x 6 bits = 18 bits). Each item is
preceded by an item delimiter; the query item is enclosed by a query delimiter on both sides.
Layout for 3 items of size 2 (a1 a2, b1 b2, c1 c2), querying item b:

            time  0 1 2 3 4 5 6 7 8 9 10 11 12 13 14
    input   bits  . a a . b b . c c .  b  b  .  .  .     a a: the two vectors of item a
      item delim  # . . # . . # . . .  .  .  .  .  .
     query delim  . . . . . . . . . #  .  .  #  .  .
    target  bits  . . . . . . . . . .  .  .  .  c  c     the item after the query
            mask  . . . . . . . . . .  .  .  .  #  #

T = max_items * (item_size + 1) + (item_size + 2) + item_size, with the query and answer
placed right after the last item and the rest padded. The number of items is uniform on
[min_items, max_items]; the queried item is uniform over all items but the last. Two items
are identical with probability about (items^2 / 2) * 2^-(item_size * W) (6e-5 at the paper's
sizes), which this task does not exclude.
"""

from __future__ import annotations

import dataclasses

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Reading, SizeAxis, Solved, Task, check, random_bits, size


@dataclasses.dataclass(frozen=True)
class AssociativeRecallTask(Task):
    """Associative recall: the paper's settings are items of 3 x 6 bits, 2 to 6 items."""

    name = "associative-recall"
    aliases = ("recall",)
    summary = "given a query item, recall the item that followed it"
    axes = (SizeAxis("items", ("min_items", "max_items"), "{} items", "items"),)
    paper = {"ntm": Reading(0.0, "~0 by ~30k"), "lstm": Reading(0.5, "~0.5 at 1M")}
    paper_order = ("ntm", "lstm")  # the NTMs below the LSTM
    solved = Solved("bit_errors", 1.0, "the item after the query recalled, but for less than one bit")

    width: int = size(6, "Bits per vector.")  # W
    item_size: int = size(3, "Vectors per item.")
    min_items: int = size(2, "Fewest items.")  # at least 2: the query needs a successor
    max_items: int = size(6, "Most items.")

    def validate(self) -> None:
        check(self.width >= 1, f"width must be at least 1, got {self.width}.")
        check(self.item_size >= 1, f"item size must be at least 1, got {self.item_size}.")
        check(
            self.min_items >= 2,
            f"min items must be at least 2 so the query has a successor, got {self.min_items}.",
        )
        check(
            self.max_items >= self.min_items,
            f"max items ({self.max_items}) must not be below min items ({self.min_items}).",
        )

    @property
    def input_size(self) -> int:
        return self.width + 2

    @property
    def output_size(self) -> int:
        return self.width

    @property
    def max_time(self) -> int:
        return self.max_items * (self.item_size + 1) + 2 * self.item_size + 2

    @property
    def chance_cost(self) -> float:
        return float(self.item_size * self.width)

    def input_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)] + ["item delim", "query delim"]

    def output_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)]

    def sample_one(self, key: jax.Array) -> Example:
        key_count, key_query, key_bits = jax.random.split(key, 3)
        item_size = self.item_size
        count = jax.random.randint(key_count, (), self.min_items, self.max_items + 1)
        query = jax.random.randint(key_query, (), 0, count - 1)  # never the last item
        items = random_bits(key_bits, (self.max_items, item_size, self.width))  # [items, size, W]
        t = jnp.arange(self.max_time)  # [T]

        # Item region: item i occupies steps i*(size+1) .. i*(size+1)+size, delimiter first.
        item, offset = t // (item_size + 1), t % (item_size + 1)
        in_items = t < count * (item_size + 1)
        item_bits = items[jnp.clip(item, 0, self.max_items - 1), jnp.clip(offset - 1, 0, item_size - 1)]
        item_bits = item_bits * (in_items & (offset > 0))[:, None]

        # Query region: delimiter, the query item, delimiter; then the answer.
        query_start = count * (item_size + 1)
        query_offset = t - query_start - 1
        in_query = (query_offset >= 0) & (query_offset < item_size)
        query_bits = items[query, jnp.clip(query_offset, 0, item_size - 1)] * in_query[:, None]
        answer_offset = t - query_start - item_size - 2
        in_answer = (answer_offset >= 0) & (answer_offset < item_size)
        answer_bits = items[query + 1, jnp.clip(answer_offset, 0, item_size - 1)] * in_answer[:, None]

        item_delimiter = in_items & (offset == 0)
        query_delimiter = (t == query_start) | (t == query_start + item_size + 1)
        inputs = jnp.concatenate(
            [
                item_bits + query_bits,
                item_delimiter[:, None].astype(jnp.float32),
                query_delimiter[:, None].astype(jnp.float32),
            ],
            axis=-1,
        )  # [T, W + 2]
        return Example(inputs, answer_bits, in_answer.astype(jnp.float32))

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        inputs = example["inputs"]
        count = int(inputs[:, self.width].sum())
        query_start = count * (self.item_size + 1)
        query = inputs[query_start + 1 : query_start + 1 + self.item_size, : self.width]
        items = [
            inputs[i * (self.item_size + 1) + 1 : (i + 1) * (self.item_size + 1), : self.width]
            for i in range(count)
        ]
        matches = [i for i, item in enumerate(items) if np.array_equal(item, query)]
        which = f"item {matches[0] + 1} of {count}" if matches else "no item"
        return [f"{count} items; the query is {which} (counting from 1); the answer is the next item"]

    def generalisation_sizes(self) -> list[dict[str, int]]:
        return [{"items": n} for n in (6, 10, 15, 20)]
