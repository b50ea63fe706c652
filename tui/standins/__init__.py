"""Loopback stand-ins for what no package emulates (Rundeck's HTTP API), for tests and --demo."""
