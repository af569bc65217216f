"""Print a development token:
`python -m devhost.token --tenant T --user alice@contoso.com --role CallAnalytics.Engineer`.

Reads the running stack's authority from `.local/stack.json` (written by
`python -m devhost up`) or CDC_DEV_AUTHORITY, and signs with the persistent development
key, so the token is accepted by the local host until it expires.
"""

from __future__ import annotations

import argparse
import sys

from devhost.devauth import LEVEL_ROLES, default_authority, mint_token
from devhost.stack import DEMO_TENANT


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m devhost.token", description="Print a development access token."
    )
    p.add_argument("--tenant", default=DEMO_TENANT, help=f"tenant id (default {DEMO_TENANT})")
    p.add_argument("--user", default=None, help="UPN, e.g. alice@contoso.com (default: app)")
    p.add_argument(
        "--role",
        action="append",
        default=[],
        help="app role (CallData.Ingest, CallAnalytics.Engineer, ...); repeatable",
    )
    p.add_argument("--level", choices=sorted(LEVEL_ROLES), help="shortcut for --role")
    p.add_argument(
        "--wids", action="append", default=[], help="directory role template id; repeatable"
    )
    p.add_argument("--audience", default=None)
    p.add_argument("--expires-in", type=int, default=3600, help="seconds (default 3600)")
    args = p.parse_args(argv)
    authority = default_authority()
    if not authority:
        print(
            "no running stack: start `python -m devhost up` or set CDC_DEV_AUTHORITY",
            file=sys.stderr,
        )
        return 2
    roles = args.role + ([LEVEL_ROLES[args.level]] if args.level else [])
    print(
        mint_token(
            args.tenant,
            authority=authority,
            user=args.user,
            roles=roles,
            wids=args.wids,
            audience=args.audience,
            expires_in=args.expires_in,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
