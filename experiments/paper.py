"""The paper's model settings, Tables 1-3 of Graves et al. (2014); memory 128 x 20 everywhere.

"Heads" are read/write pairs; an LSTM controller written "2x100" has two layers of 100. The
parameter counts are the paper's, kept to compare with ours (`ntm params`), not to force.
"""

from __future__ import annotations

from typing import NamedTuple

from ntm_cli.models.config import LSTMConfig, ModelConfig, NTMConfig


class PaperModel(NamedTuple):
    task: str  # canonical task name
    model: str  # "ntm-ff", "ntm-lstm" or "lstm"
    heads: int  # read/write head pairs (0 for the LSTM baseline)
    sizes: tuple[int, ...]  # controller layer sizes, or the baseline's layers x size
    learning_rate: float  # RMSProp (Graves form), momentum 0.9
    params: int  # the paper's parameter count

    @property
    def label(self) -> str:
        """'100', or 'layers x size' such as '3x256'."""
        return f"{len(self.sizes)}x{self.sizes[0]}" if len(self.sizes) > 1 else str(self.sizes[0])

    def config(self) -> ModelConfig:
        """Our model config for this paper setting."""
        if self.model == "lstm":
            return LSTMConfig(num_layers=len(self.sizes), hidden_size=self.sizes[0])
        return NTMConfig(
            controller="ff" if self.model == "ntm-ff" else "lstm",
            controller_sizes=self.sizes,
            num_read_heads=self.heads,
            num_write_heads=self.heads,
            memory_rows=128,
            memory_width=20,
        )


PAPER_MODELS: tuple[PaperModel, ...] = (
    PaperModel("copy", "ntm-ff", 1, (100,), 1e-4, 17_162),
    PaperModel("copy", "ntm-lstm", 1, (100,), 1e-4, 67_561),
    PaperModel("copy", "lstm", 0, (256, 256, 256), 3e-5, 1_352_969),
    PaperModel("repeat-copy", "ntm-ff", 1, (100,), 1e-4, 16_712),
    PaperModel("repeat-copy", "ntm-lstm", 1, (100,), 1e-4, 66_111),
    PaperModel("repeat-copy", "lstm", 0, (512, 512, 512), 3e-5, 5_312_007),
    PaperModel("associative-recall", "ntm-ff", 4, (256,), 1e-4, 146_845),
    PaperModel("associative-recall", "ntm-lstm", 1, (100,), 1e-4, 70_330),
    PaperModel("associative-recall", "lstm", 0, (256, 256, 256), 1e-4, 1_344_518),
    PaperModel("dynamic-ngrams", "ntm-ff", 1, (100,), 3e-5, 14_656),
    PaperModel("dynamic-ngrams", "ntm-lstm", 1, (100,), 3e-5, 61_749),
    PaperModel("dynamic-ngrams", "lstm", 0, (128, 128, 128), 1e-4, 331_905),
    PaperModel("priority-sort", "ntm-ff", 8, (512,), 3e-5, 508_305),
    PaperModel("priority-sort", "ntm-lstm", 5, (100, 100), 3e-5, 269_038),
    PaperModel("priority-sort", "lstm", 0, (128, 128, 128), 3e-5, 384_424),
)


class PaperCost(NamedTuple):
    """The paper's approximate final cost in bits per sequence, read off its figures."""

    value: float | None  # a representative number, None where the figure gives no level
    text: str  # what the figure shows, in words ("at 1M": after a million training sequences)


# REFERENCE.md section 4 (approximate readings of the paper's figures; "ntm" is both controllers).
PAPER_COSTS: dict[tuple[str, str], PaperCost] = {
    ("copy", "ntm"): PaperCost(0.0, "~0 by 100-200k"),
    ("copy", "lstm"): PaperCost(1.0, "~0.5-2 at 1M"),
    ("repeat-copy", "ntm"): PaperCost(0.0, "~0 by ~150k"),
    ("repeat-copy", "lstm"): PaperCost(0.0, "~0, after NTM"),
    ("associative-recall", "ntm"): PaperCost(0.0, "~0 by ~30k"),
    ("associative-recall", "lstm"): PaperCost(0.5, "~0.5 at 1M"),
    ("dynamic-ngrams", "ntm"): PaperCost(133.7, "~133.5-134"),
    ("dynamic-ngrams", "lstm"): PaperCost(136.0, "~136"),
    ("priority-sort", "ntm"): PaperCost(19.0, "~18-20"),
    ("priority-sort", "lstm"): PaperCost(58.0, "~58"),
}


def paper_cost(task: str, model_label: str) -> PaperCost | None:
    """The paper's cost for a task and 'lstm', 'ntm-lstm' or 'ntm-ff' (None if not shown, as for 'dnc')."""
    if model_label not in ("lstm", "ntm-lstm", "ntm-ff"):
        return None
    return PAPER_COSTS.get((task, "lstm" if model_label == "lstm" else "ntm"))
