"""Helpers for the tests and benchmarks (not used by the app or the library)."""
