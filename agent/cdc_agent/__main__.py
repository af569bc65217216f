"""`python -m cdc_agent` is the same as the `cdc-agent` console script."""

from cdc_agent.cli import main

raise SystemExit(main())
