"""`python -m autogen_troupe.cli`, as the `troupe` script."""

from .app import main

main()
