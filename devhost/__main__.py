"""`python -m devhost up|demo`: the whole local stack in the foreground.

up   : Azurite + Cosmos DB server + provisioning + development token issuer + the local
       Functions host serving function_app.app; writes `.local/stack.json` (ports, env,
       pids). Ctrl-C or SIGTERM stops everything.
demo : up, then posts the demo data set (devhost.demo) with a development ingest token,
       waits until it is processed, and prints what to open and a working curl command.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from devhost.stack import DEMO_TENANT, STATE_FILE, Stack


def _say(text: str) -> None:
    print(text, flush=True)


def run(command: str, port: int, seed: int) -> int:
    from devhost.devauth import DevAuthority, mint_token
    from devhost.host import LocalHost
    from devhost.provision import provision_sync
    from shared.settings import Settings, reset_settings

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    authority = DevAuthority().start()
    external = external_graph(os.environ)
    stack = Stack(authority_url=authority.url, graph_url=external.get("CDC_GRAPH_URL"))
    host: LocalHost | None = None
    try:
        _say("starting Azurite and the Cosmos DB server (first run installs them: npm ci)")
        stack.start()
        os.environ.update(stack.env)
        os.environ.update(external)
        os.environ.setdefault("CDC_GRAPH_TENANTS", DEMO_TENANT)
        reset_settings()
        provision_sync(Settings.from_env())
        from function_app import app

        host = LocalHost(app, port=port, dev_authority=authority).start()
        os.environ.setdefault("CDC_GRAPH_WEBHOOK_BASE", host.base_url)
        stack.write_state({"hostUrl": host.base_url, "authority": authority.url})
        _say(
            f"stack up in {time.monotonic() - t0:.1f}s: host {host.base_url}, "
            f"blob {stack.blob_endpoint}, cosmos {stack.cosmos_endpoint}, "
            f"issuer {authority.url} (state: {STATE_FILE})"
        )
        if command == "demo":
            from devhost.demo import load_demo, load_reference_data

            token = mint_token(DEMO_TENANT, authority=authority.url, roles=["CallData.Ingest"])
            admin = mint_token(
                DEMO_TENANT,
                user="demo.admin@contoso.com",
                authority=authority.url,
                roles=["CallAnalytics.Admin"],
            )
            load_reference_data(host.base_url, admin, log=_say)
            t1 = time.monotonic()
            ids = load_demo(host.base_url, token, seed=seed, wait_idle=host.wait_idle, log=_say)
            _say(f"demo data loaded: {len(ids)} batches in {time.monotonic() - t1:.1f}s")
            from devhost.teams_demo import load_teams_demo

            def drained() -> None:
                assert host is not None
                host.wait_queues_drained(300)
                host.wait_idle(300)

            admin = mint_token(DEMO_TENANT, authority=authority.url, roles=["CallAnalytics.Admin"])
            _say(
                f"Teams tenant: subscribing through Microsoft Graph ({os.environ['CDC_GRAPH_URL']})"
            )
            try:
                load_teams_demo(
                    host.base_url, admin, stack.graph, DEMO_TENANT, wait=drained, log=_say
                )
            except Exception as exc:  # an external Graph may refuse: the rest still runs
                _say(f"Teams tenant not loaded: {exc!r}")
            _say("")
            _say(f"  portal:  {host.base_url}/portal/")
            _say(f"  health:  {host.base_url}/api/v1/health")
            _say(
                "  a token: .venv/bin/python -m devhost.token --tenant "
                f"{DEMO_TENANT} --user alice@contoso.com --level engineer"
            )
            _say(
                f"  curl -H 'Authorization: Bearer {token}' \\\n"
                f"       {host.base_url}/api/v1/batches/{ids[0]}"
            )
        _say("running; Ctrl-C to stop")
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        _say("stopping")
        if host is not None:
            host.stop()
        stack.stop()
        authority.stop()
        STATE_FILE.unlink(missing_ok=True)


def external_graph(env: Mapping[str, str]) -> dict[str, str]:
    """CDC_GRAPH_URL / CDC_GRAPH_AUTHORITY set by the caller: that Graph-compatible server
    instead of the stand-in (the demo then only subscribes), kept over the stack's own."""
    return {k: env[k] for k in ("CDC_GRAPH_URL", "CDC_GRAPH_AUTHORITY") if env.get(k)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m devhost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", choices=["up", "demo"])
    p.add_argument("--port", type=int, default=int(os.environ.get("CDC_HOST_PORT", "7071")))
    p.add_argument("--seed", type=int, default=1, help="demo data seed")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("azure", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return run(args.command, args.port, args.seed)


if __name__ == "__main__":
    sys.exit(main())
