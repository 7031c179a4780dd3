"""`python -m prover` is the `prove` command."""

import sys

from prover.cli import main

sys.exit(main())
