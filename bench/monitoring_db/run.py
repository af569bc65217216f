"""How fast the agent reads the Monitoring databases: rows/s and records/s of the
monitoring-db source (queries + rebuilding the MS-QoE reports and CDR records) over a
SQLite pair laid out from the documented schema, filled with generated calls.

SQLite is not SQL Server: this measures the agent's own cost (paging, joins in the
driver, report building, dedup hashing), not a Monitoring server's I/O.

    .venv/bin/python bench/monitoring_db/run.py --calls 1000 --page-size 500
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "agent", ROOT / "agent" / "tests"):
    sys.path.insert(0, str(p))

from cdc_agent.exclusions import ExclusionPolicy  # noqa: E402
from cdc_agent.monitoring.config import MonitoringConfig  # noqa: E402
from cdc_agent.monitoring.source import MonitoringSource, MonitoringState  # noqa: E402
from monitoring_testlib import MonitoringDb  # noqa: E402

from devhost.qoe_generator import demo_users, generate_call  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--page-size", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = MonitoringDb(Path(tmp) / "db")
        rng = random.Random(7)
        t0 = datetime.now(timezone.utc) - timedelta(hours=2)
        started = time.perf_counter()
        for i in range(args.calls):
            when = t0 - timedelta(seconds=30 * i)
            db.add_records(generate_call(rng, "t", demo_users(40), when))
        load_s = time.perf_counter() - started
        cfg = MonitoringConfig(
            qoe_url=db.url("qoe"), cdr_url=db.url("cdr"), page_size=args.page_size, backfill_days=30
        )
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        src = MonitoringSource(cfg, ExclusionPolicy.of(["sip:alice@contoso.com"]), Path(tmp))
        state = MonitoringState.load(Path(tmp))
        started = time.perf_counter()
        rows = records = pages = 0
        for feed in src.feeds:
            for page in src.pages(feed, state):
                pages += 1
                rows += page.rows_seen
                records += len(page.records) + page.delta["excluded"]
        read_s = time.perf_counter() - started
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            json.dumps(
                {
                    "calls": args.calls,
                    "pageSize": args.page_size,
                    "pages": pages,
                    "rows": rows,
                    "records": records,
                    "loadSeconds": round(load_s, 1),
                    "readSeconds": round(read_s, 2),
                    "rowsPerSecond": round(rows / read_s),
                    "recordsPerSecond": round(records / read_s),
                    "peakRssGrowthMB": round((rss1 - rss0) / 1024, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
