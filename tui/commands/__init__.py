"""Headless subcommands: each parses nothing itself and calls the core."""
