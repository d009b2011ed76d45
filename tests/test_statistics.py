"""Figures over seeds, checked by hand: medians and their bootstrap intervals, the IQM, a curve
read between reports, when a run counts as solved; and the verdicts made from them."""

import math

import numpy as np
import pytest

from ntm_cli.schema import ResultRow
from ntm_cli.studies.statistics import iqm, solved_from, summarise, value_at
from ntm_cli.studies.verdicts import COST, paired, paper_verdict, verdict
from ntm_cli.tasks import make_task


def test_a_median_and_its_interval_over_seeds():
    one = summarise([2.0])
    assert (one.median, one.low, one.high, one.std) == (2.0, 2.0, 2.0, 0.0)
    three = summarise([0.033, 69.6, 0.016, None, math.nan])  # a stuck seed; missing and NaN left out
    assert three.median == 0.033 and three.low >= 0.016 and three.high <= 69.6
    assert three.mean == pytest.approx((0.033 + 69.6 + 0.016) / 3)  # what the old tables showed
    assert summarise([0.033, 69.6, 0.016]) == three  # the same seeds, the same interval (a fixed generator)
    assert summarise([]) is None and summarise([None]) is None
    assert three.iqm is None and summarise([1, 2, 3, 4, 5]).iqm is not None


def test_the_interquartile_mean_drops_a_quarter_from_each_end():
    assert iqm([1, 2, 3, 4, 100, 200, 300, 400]) == pytest.approx((3 + 4 + 100 + 200) / 4)
    assert iqm([1.0, 2.0, 3.0, 4.0, 1000.0]) == pytest.approx((0.75 * 2 + 3 + 0.75 * 4) / 2.5)  # fractions
    assert iqm([5.0] * 6) == 5.0


def test_a_curve_is_read_between_its_reports():
    curve = [(0, 80.0), (100, 40.0), (300, 10.0)]
    assert value_at(curve, 100) == 40.0 and value_at(curve, 200) == 25.0
    assert value_at(curve, 1000) == 10.0  # after the last report: where the run stopped
    assert value_at([], 5) is None and value_at([(10, 1.0)], 5) is None


def test_solved_means_from_a_report_on_to_the_end():
    assert solved_from([False, True, False, True, True]) == 3
    assert solved_from([True, True]) == 0
    assert solved_from([True, False]) is None and solved_from([]) is None


def test_every_task_says_what_solved_means():
    copy = make_task("copy")
    assert copy.solved.holds(cost=0.5, bit_errors=0.4, scores={}, floor=0.0)
    assert not copy.solved.holds(cost=0.5, bit_errors=1.0, scores={}, floor=0.0)
    assert not copy.solved.holds(cost=None, bit_errors=math.nan, scores={}, floor=0.0)
    ngrams = make_task("ngrams")
    floor = ngrams.floor_cost()
    assert ngrams.solved.holds(floor + 1.9, 50.0, {}, floor) and not ngrams.solved.holds(floor + 2.1, 50.0, {}, floor)
    one_shot = make_task("one-shot")
    assert one_shot.solved.holds(10.0, 5.0, {"shot_2": 0.95}, 0.0) and not one_shot.solved.holds(1.0, 0.1, {}, 0.0)
    assert "2nd" in one_shot.solved_text() and "wrong answers" not in one_shot.solved_text()
    from ntm_cli.tasks import TASK_NAMES
    for name in TASK_NAMES:
        assert make_task(name).solved_text(), name


def _row(model: str, costs: list[float], seeds: list[int] | None = None) -> ResultRow:
    seeds = seeds if seeds is not None else list(range(len(costs)))
    s = summarise(costs)
    return ResultRow(task="copy", model=model, setting={}, label="", seeds=len(costs), seeds_planned=len(costs),
                     seed_numbers=tuple(seeds), reused=0, params=1, cost=s.median, cost_interval=(s.low, s.high),
                     cost_iqm=None, cost_mean=s.mean, cost_std=s.std, seed_costs=tuple(costs), bit_errors=None,
                     bit_errors_interval=None, seed_bit_errors=(), best_cost=None, scores={}, solved=None,
                     seed_solved=(), sequences_to_solve=None, seconds_to_solve=None, cost_at_equal_sequences=s.median,
                     seed_costs_at_equal_sequences=tuple(costs), errors_at_equal_sequences=None,
                     seed_errors_at_equal_sequences=(), sequences=100.0, wall_time=1.0, sequences_per_second=100.0,
                     paper_cost=None, paper_cost_text=None, rank=None, command="", run_dirs=())


def _ranked(*rows):
    return [r.__class__(**{**r.__dict__, "rank": i}) for i, r in enumerate(sorted(rows, key=lambda r: r.cost), 1)]


def test_a_row_is_below_another_only_seed_by_seed_with_intervals_apart():
    ntm, lstm = _row("ntm-lstm", [0.01, 0.02, 0.03]), _row("lstm", [40.0, 45.0, 50.0])
    assert paired(ntm, lstm, COST) == (3, 3, 0, True)
    rows = _ranked(ntm, lstm)
    assert verdict(rows, COST, 300.0) == ("ntm-lstm is lowest at the end (0.020 bits/seq, median of 3 seeds); at 300 "
                                          "sequences each it is below lstm on 3 of 3 seeds.")
    assert paper_verdict(("ntm", "lstm"), rows) == "as in the paper: ntm-lstm below lstm on 3 of 3 seeds."


def test_a_stuck_seed_or_too_few_seeds_is_no_verdict():
    split = _row("ntm-lstm", [0.033, 69.6, 0.016])  # one seed never left the plateau
    lstm = _row("lstm", [40.0, 45.0, 50.0])
    rows = _ranked(split, lstm)
    assert "no clear difference from lstm (below it on 2 of 3 seeds, above on 1)" in verdict(rows, COST, 300.0)
    assert paper_verdict(("ntm", "lstm"), rows).startswith("unlike the paper: no clear difference between ntm-lstm "
                                                            "and lstm (ntm-lstm below on 2 of 3 seeds)")
    lone = _ranked(_row("ntm-lstm", [0.01]), _row("lstm", [40.0]))
    assert "below lstm on its one seed: inconclusive; try --seeds 3" in verdict(lone, COST, 300.0)
    close = _ranked(_row("ntm-lstm", [1.0, 2.0, 3.0]), _row("lstm", [1.5, 2.5, 3.5]))  # below on each, overlapping
    assert "intervals overlap: inconclusive with 3 seeds; try --seeds 6" in verdict(close, COST, 300.0)
    apart = _ranked(_row("ntm-lstm", [0.01, 0.02]), _row("lstm", [40.0, 45.0], seeds=[5, 6]))
    assert "not comparable with lstm (no seed in common)" in verdict(apart, COST, 300.0)


def test_seeds_pair_by_number_not_by_position():
    a = _row("ntm-lstm", [1.0, 50.0], seeds=[0, 1])
    b = _row("lstm", [60.0, 2.0], seeds=[1, 0])  # seed 0: 1.0 < 2.0; seed 1: 50.0 < 60.0
    assert paired(a, b, COST).below == 2
    assert np.isclose(paired(b, a, COST).above, 2)


def test_a_task_with_a_floor_gets_a_bayes_optimal_row_and_split_seeds_are_shown_one_by_one():
    from ntm_cli.reports.results import table_header, table_note, table_rows
    from ntm_cli.schema import TaskResults

    steady = _row("lstm", [140.0, 141.0, 139.0])
    stuck = _row("ntm-lstm", [0.033, 69.6, 0.016])
    task = TaskResults(budget="100 sequences", time_limit=None, sequences=100, steps=None, chance_cost=200.0,
                       floor_cost=133.2, floor_text="133.2", output_kind="bits", ranked_by="cost", unit="bits/seq",
                       scores=(), score_notes={}, solved_rule=None, equal_sequences=100.0, rows=(steady, stuck),
                       best="lstm", best_command="", verdict="", paper_verdict=None)
    header, rows = table_header(task), table_rows(task)
    cost = header.index("cost")
    assert rows[0][cost] == "140.000" and rows[1][cost] == "0.033 69.600 0.016"  # a factor of 2,000 apart
    assert rows[-1][0] == "Bayes-optimal" and rows[-1][cost] == "133.200"
    assert "Bayes-optimal: what the optimal predictor pays on the same held-out sequences" in table_note(task)
