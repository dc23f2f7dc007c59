"""The benchmarks behind docs/results.md: run each from the project root as `python -m bench.NAME`."""
