"""Benchmark and differential-testing tools for the seed protocol (not installed)."""
