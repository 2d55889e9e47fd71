"""autoresearch engine: run benchmarks, decide, and keep an honest experiment log."""

__version__ = "0.1.0"
