"""Benchmarks: each module's `run()` returns figure rows {name, value, unit, target}."""
