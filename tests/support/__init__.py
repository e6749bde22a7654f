"""Throwaway real services for tests and benchmarks."""
