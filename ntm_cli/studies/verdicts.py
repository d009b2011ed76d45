"""How a study's rows are ranked and what they say: the task's criterion (cost, or wrong
answers for a class task), the verdict on the best row, and whether the paper's ordering held.

A row here is a dict with 'model' (its name in the sentence), the ranking field and its
'<field>_std' (the seeds' spread): `ResultRow` as a dict, named by `row_name`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ntm_cli.models.config import model_family
from ntm_cli.reports.progress import format_cost


class Figure(NamedTuple):
    """What a comparison ranks models by: a row's field, its unit, and the difference (or the
    seeds' spread) within which two models are not told apart."""

    field: str
    unit: str
    tie: float


# Costs closer than this (bits per sequence), or than the seeds' spread, are not told apart.
TIE_BITS = 0.01
COST = Figure("cost", "bits/seq", TIE_BITS)
# A class task ranks by wrong answers per sequence: a memory's nearest-neighbour answer is not
# a calibrated probability, so its cross-entropy says less than how often it is right.
WRONG = Figure("bit_errors", "wrong answers/seq", 0.05)


def ranking(output_kind: str) -> Figure:
    """Cost for a task of bits, wrong answers for a task of classes."""
    return WRONG if output_kind == "class" else COST


def _tied(a: dict[str, Any], b: dict[str, Any], figure: Figure = COST) -> bool:
    spread = (a.get(f"{figure.field}_std") or 0.0) + (b.get(f"{figure.field}_std") or 0.0)
    return b[figure.field] - a[figure.field] <= max(figure.tie, spread)


def verdict(ranked: list[dict[str, Any]], figure: Figure = COST) -> str:
    """'ntm-lstm is best at 0.000177 bits/seq; ntm-ff 0.00025 (+7.3e-05), lstm 52.428 (+52.428).'

    Models within `figure.tie` of the best (0.01 bits per sequence for the cost), or within the
    seeds' spread, share first place.
    """
    if not ranked:
        return "no finished runs."
    best, field, unit = ranked[0], figure.field, figure.unit
    if len(ranked) == 1:
        return f"{best['model']} reached {format_cost(best[field])} {unit} (the only model run)."
    others = ", ".join(
        f"{r['model']} {format_cost(r[field])} (+{format_cost(r[field] - best[field])})" for r in ranked[1:]
    )
    tied = [r["model"] for r in ranked[1:] if _tied(best, r, figure)]
    if tied:
        lead = " and ".join([best["model"]] + tied)
        return (f"no clear difference between {lead} (within {figure.tie:g} {unit} or the seeds' spread); "
                f"{best['model']} {format_cost(best[field])} {unit}; {others}.")
    return f"{best['model']} is best at {format_cost(best[field])} {unit}; {others}."


def paper_verdict(order: tuple[str, ...], rows: list[dict[str, Any]]) -> str | None:
    """Whether the paper's ordering held: 'as in the paper: ntm-lstm and ntm-ff below lstm.'

    `order` is the task's model families from best to worst in the paper (("ntm", "lstm"): both
    NTMs below the LSTM baseline). Every model of a family is set against every model of the
    families after it; within 0.01 bits/seq or the seeds' spread is no clear difference. None
    when the paper has no ordering for the task or the comparison lacks a family of it.
    """
    by_family: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["cost"] is not None:
            by_family.setdefault(model_family(row["model"]), []).append(row)
    if len(order) < 2 or any(family not in by_family for family in order):
        return None
    held, failed = [], []
    for i, better in enumerate(order):
        for worse in order[i + 1:]:
            for a in by_family[better]:
                for b in by_family[worse]:
                    if a["cost"] < b["cost"] and not _tied(a, b):
                        held.append(f"{a['model']} below {b['model']}")
                    elif _tied(*sorted((a, b), key=lambda r: r["cost"])):
                        failed.append(f"no clear difference between {a['model']} and {b['model']}")
                    else:
                        failed.append(f"{b['model']} below {a['model']}")
    if not failed:
        return f"as in the paper: {', '.join(held)}."
    return f"unlike the paper: {'; '.join(failed)}" + (f" (as in the paper: {', '.join(held)})." if held else ".")
