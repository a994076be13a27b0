"""The `support-agent` command groups; agent/cli.py puts them together."""
