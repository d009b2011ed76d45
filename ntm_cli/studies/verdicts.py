"""What a study's rows say: the task's criterion (cost, or wrong answers for a class task), and
verdicts made at equal training sequences, seed by seed.

Two rows are told apart only when one is below the other on every seed they share (paired by
seed number, each read at the task's `equal_sequences`: the fewest sequences any unsolved seed
reached, so a fast model's extra training does not decide; a solved seed keeps its last reading
past its end) and their 95% intervals over seeds
do not overlap. Otherwise the verdict says "no clear difference", or that the seeds are too few.
"""

from __future__ import annotations

from typing import NamedTuple

from ntm_cli.models.config import model_family
from ntm_cli.reports.progress import format_cost
from ntm_cli.schema import ResultRow
from ntm_cli.studies.statistics import summarise


class Figure(NamedTuple):
    """What a study ranks rows by: a row's field, its unit, and the difference within which two
    seeds' values are not told apart."""

    field: str  # 'cost' or 'bit_errors'
    unit: str
    tie: float

    def at_equal_sequences(self, row: ResultRow) -> tuple[float | None, ...]:
        """The row's per-seed values of this figure, read at the task's equal sequences."""
        return row.seed_costs_at_equal_sequences if self.field == "cost" else row.seed_errors_at_equal_sequences


# Costs closer than this (bits per sequence) are not told apart.
TIE_BITS = 0.01
COST = Figure("cost", "bits/seq", TIE_BITS)
# A class task ranks by wrong answers per sequence: a memory's nearest-neighbour answer is not
# a calibrated probability, so its cross-entropy says less than how often it is right.
WRONG = Figure("bit_errors", "wrong answers/seq", 0.05)


def ranking(output_kind: str) -> Figure:
    """Cost for a task of bits, wrong answers for a task of classes."""
    return WRONG if output_kind == "class" else COST


class Pair(NamedTuple):
    """Row a against row b, seed by seed at equal sequences."""

    seeds: int  # seeds both have a value for
    below: int  # seeds on which a is below b (by more than the tie)
    above: int  # seeds on which b is below a
    apart: bool  # a's interval entirely below b's

    def a_below_b(self) -> bool:
        return self.seeds > 1 and self.below == self.seeds and self.apart


def paired(a: ResultRow, b: ResultRow, figure: Figure) -> Pair:
    """Compares two rows on their common seeds, at equal sequences."""
    values_a = dict(zip(a.seed_numbers, figure.at_equal_sequences(a)))
    values_b = dict(zip(b.seed_numbers, figure.at_equal_sequences(b)))
    common = [s for s in values_a if s in values_b and values_a[s] is not None and values_b[s] is not None]
    below = sum(values_a[s] < values_b[s] - figure.tie for s in common)
    above = sum(values_b[s] < values_a[s] - figure.tie for s in common)
    sa, sb = summarise([values_a[s] for s in common]), summarise([values_b[s] for s in common])
    apart = sa is not None and sb is not None and sa.high < sb.low - figure.tie
    return Pair(len(common), below, above, apart)


def _relation(a: ResultRow, b: ResultRow, figure: Figure) -> str:
    """'below lstm on 3 of 3 seeds', or why a is not told apart from b."""
    pair = paired(a, b, figure)
    if pair.seeds == 0:
        return f"not comparable with {b.name} (no seed in common)"
    if pair.seeds == 1:
        side = "below" if pair.below else "above" if pair.above else "level with"
        return f"{side} {b.name} on its one seed: inconclusive; try --seeds 3"
    if pair.a_below_b():
        return f"below {b.name} on {pair.below} of {pair.seeds} seeds"
    if pair.below == pair.seeds:
        return (f"below {b.name} on {pair.below} of {pair.seeds} seeds, but their intervals overlap: inconclusive "
                f"with {pair.seeds} seeds; try --seeds {2 * pair.seeds}")
    return f"no clear difference from {b.name} (below it on {pair.below} of {pair.seeds} seeds, above on {pair.above})"


def verdict(rows: list[ResultRow], figure: Figure, equal_sequences: float | None) -> str:
    """What the ranked rows say: the best row at the end, and how it stands against each other
    row at equal sequences, seed by seed.

    'ntm-lstm is lowest at the end (0.0003 bits/seq, median of 3 seeds); at 1,880 sequences each
    it is below lstm on 3 of 3 seeds; no clear difference from ntm-ff (below it on 1 of 3 seeds).'
    """
    ranked = [r for r in rows if r.rank is not None]
    if not ranked:
        return "no finished runs."
    best = ranked[0]
    value = getattr(best, figure.field)
    lead = (f"{best.name} is lowest at the end ({format_cost(value)} {figure.unit}, "
            f"median of {best.seeds} seed{'s' if best.seeds > 1 else ''})")
    if len(ranked) == 1:
        return lead + " (the only row)."
    at = f"{equal_sequences:,.0f} sequences each" if equal_sequences is not None else "equal sequences"
    return f"{lead}; at {at} it is " + "; ".join(_relation(best, r, figure) for r in ranked[1:]) + "."


def paper_verdict(order: tuple[str, ...], rows: list[ResultRow], figure: Figure = COST) -> str | None:
    """Whether the paper's ordering held, seed by seed at equal sequences: 'as in the paper:
    ntm-lstm below lstm on 3 of 3 seeds, ...'.

    `order` is the task's model families from best to worst in the paper (("ntm", "lstm"): both
    NTMs below the LSTM baseline). Every model of a family is set against every model of the
    families after it. None when the paper has no ordering for the task or the study lacks a
    family of it.
    """
    by_family: dict[str, list[ResultRow]] = {}
    for row in rows:
        if row.rank is not None:
            by_family.setdefault(model_family(row.model), []).append(row)
    if len(order) < 2 or any(family not in by_family for family in order):
        return None
    held, failed = [], []
    for i, better in enumerate(order):
        for worse in order[i + 1:]:
            for a in by_family[better]:
                for b in by_family[worse]:
                    pair = paired(a, b, figure)
                    if pair.a_below_b():
                        held.append(f"{a.name} below {b.name} on {pair.below} of {pair.seeds} seeds")
                    elif paired(b, a, figure).a_below_b():
                        failed.append(f"{b.name} below {a.name} on {pair.above} of {pair.seeds} seeds")
                    elif pair.seeds < 2:
                        failed.append(f"{a.name} against {b.name}: one seed, inconclusive")
                    else:
                        failed.append(f"no clear difference between {a.name} and {b.name} "
                                      f"({a.name} below on {pair.below} of {pair.seeds} seeds)")
    if not failed:
        return f"as in the paper: {', '.join(held)}."
    return f"unlike the paper: {'; '.join(failed)}" + (f" (as in the paper: {', '.join(held)})." if held else ".")
