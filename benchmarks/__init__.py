"""interlingua's benchmark suite: ``python -m benchmarks`` (or ``interlingua bench``); single parts
run as modules too (``python -m benchmarks.tokens_bench``).

Not part of the test suite. Every figure is a ratio to a baseline measured in the same run (see
``RESULTS.md``); the method is described in :mod:`benchmarks._run`.
"""
