"""gpu-harness: the reference serving engine and the Vidur-schema profiler (GPU side of vidur-fidelity)."""

__version__ = "0.1.0"
