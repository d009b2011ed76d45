"""Studies: many runs planned, trained (here, in worker processes or on Ray), collected and ranked."""
