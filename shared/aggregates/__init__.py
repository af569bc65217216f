"""Pre-aggregated quality measures, maintained at classify time (see `store` for why
they stay exact under re-processing, and `contribution` for what a call counts)."""

from shared.aggregates.store import apply_call_delta

__all__ = ["apply_call_delta"]
