"""Tests of the benchmarks: they run and compare like with like; they never assert timings."""
