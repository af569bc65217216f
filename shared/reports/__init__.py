"""Quality reports (CQD-style) read from the pre-aggregated documents only.

The report functions load with their first use (module `__getattr__`): importing
`shared.reports.vocabulary`, as the route modules do to declare their parameters, must
not import the service and everything it reads with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.reports.service import missing_subnets, poor_users, quality_summary, to_csv

__all__ = ["missing_subnets", "poor_users", "quality_summary", "to_csv"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from shared.reports import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
