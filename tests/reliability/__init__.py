"""Reliability (issue 9): hostile input, faults, load, token replay. See docs/reliability.md."""
