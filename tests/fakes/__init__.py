"""Offline stand-ins for the chat platforms, served on 127.0.0.1 for tests and benchmarks."""
