"""`python -m ralph_watch` is the `ralph-watch` command."""
import sys

from .cli import main

sys.exit(main())
