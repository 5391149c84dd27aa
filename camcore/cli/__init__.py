"""The command line: `main` (main.py) and one module per subcommand, each a few lines over camcore."""
