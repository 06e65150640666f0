"""interlingua's benchmark suite: ``python -m benchmarks`` (or ``interlingua bench``).

Not part of the test suite. Every figure is a ratio to a baseline measured in the same run (see
``RESULTS.md``); the method is described in :mod:`benchmarks._run`.
"""
