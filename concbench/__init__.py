"""concbench: the same scenarios on every Python concurrency model, measured honestly."""
__version__ = "0.1.0"
