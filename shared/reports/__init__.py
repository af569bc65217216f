"""Quality reports (CQD-style) read from the pre-aggregated documents only."""

from shared.reports.service import missing_subnets, poor_users, quality_summary, to_csv

__all__ = ["missing_subnets", "poor_users", "quality_summary", "to_csv"]
