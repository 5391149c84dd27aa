"""`python -m camcore ...`: the command line of camcore.cli."""
from camcore.cli import main

raise SystemExit(main())
