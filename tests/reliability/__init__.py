"""Reliability: hostile input, faults, load, token replay. See docs/reliability.md."""
