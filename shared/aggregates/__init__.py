"""Pre-aggregated quality measures, maintained at classify time: `contribution` (pure)
says what a call counts; `shared.storage.aggregates` applies it exactly once under
re-processing (the ledger protocol, docs/adr/0002-aggregate-ledger.md)."""
