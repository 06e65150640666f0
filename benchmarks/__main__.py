"""``python -m benchmarks [--quick|--smoke] [--parts …] [--providers …] [--clients …]``."""

from ._run import main

raise SystemExit(main())
