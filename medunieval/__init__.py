"""medunieval: a correct, reproducible, resumable harness for medical VLM benchmarks."""

__version__ = "0.1.0"
