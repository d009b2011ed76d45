"""Training: the compiled trainer, the host loop and its checkpoints, evaluation, devices."""
