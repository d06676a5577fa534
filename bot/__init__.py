"""Paperboy: Hugging Face Daily Papers digests for chat channels."""

__version__ = "0.1.0"
