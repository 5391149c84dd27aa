"""`python -m camcore ...`: the command line of camcore.cli.main."""
from camcore.cli.main import main

raise SystemExit(main())
