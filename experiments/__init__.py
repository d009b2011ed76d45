"""The paper's settings (paper.py) and the training presets (presets.py), installed as
`ntm_cli.experiments` (the folder stays at the repository's top level)."""
