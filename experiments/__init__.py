"""Experiment presets: the paper's settings, and settings tuned for speed (to come)."""
