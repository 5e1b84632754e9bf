"""Benchmarks: run by hand or with ``make bench``; each prints throughput and latency percentiles."""
