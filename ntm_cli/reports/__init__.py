"""Reports: terminal tables and progress, result files and figures."""
