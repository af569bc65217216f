"""Command line: `cdc-agent push | watch | preview | status | check-config |
push-exclusions | push-topology`.

Exit codes (for Task Scheduler's "last run result"): 0 done; 1 something is left to
retry or was refused (see the log); 2 bad configuration; 3 another agent holds the state
directory; 4 the journal is unreadable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from cdc_agent import __version__
from cdc_agent.agent import Agent, FatalError
from cdc_agent.config import Config, ConfigError, load_config
from cdc_agent.journal import AgentBusy, Journal, JournalError
from cdc_agent.logs import setup_logging
from cdc_agent.status import collect, render

log = logging.getLogger("cdc_agent")
EXIT_OK, EXIT_RETRY, EXIT_CONFIG, EXIT_BUSY, EXIT_JOURNAL = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cdc-agent",
        description=("Push Skype for Business QoE reports and CDRs to the Call Data Connector."),
    )
    p.add_argument("--version", action="version", version=f"cdc-agent {__version__}")
    p.add_argument(
        "-c",
        "--config",
        default=os.environ.get("CDC_AGENT_CONFIG", "agent.toml"),
        help="path of agent.toml (default: $CDC_AGENT_CONFIG or ./agent.toml)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    push = sub.add_parser("push", help="send every complete file once, then exit (Task Scheduler)")
    push.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be sent (files, records, excluded, batches) and change nothing",
    )
    push.add_argument("--no-progress", action="store_true", help="no progress bar")
    preview = sub.add_parser(
        "preview",
        help="show exactly what the next batch would send "
        "(after exclusions), without sending it or touching the journal",
    )
    preview.add_argument(
        "--json", action="store_true", help="print the batch envelope exactly as it would be posted"
    )
    preview.add_argument("--out", type=Path, help="write that JSON to this file instead")
    watch = sub.add_parser("watch", help="keep sending new files as they land (service)")
    watch.add_argument("--dry-run", action="store_true", help="same as push --dry-run")
    status = sub.add_parser(
        "status", help="queue, last success, errors, server-side status of the last batches"
    )
    status.add_argument("--offline", action="store_true", help="do not ask the service")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--last", type=int, default=5, help="how many recent batches")
    sub.add_parser("check-config", help="validate agent.toml and get a token")
    sub.add_parser("push-exclusions", help="push the exclusion policy to the service now")
    topo = sub.add_parser(
        "push-topology",
        help="push the on-prem topology (sites, pools, "
        "gateways) as JSON, so calls show their site and pool",
    )
    topo.add_argument("file", help="topology JSON, e.g. exported from Get-CsTopology")
    return p


def _install_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: object) -> None:
        log.info("signal %s: finishing the current step, then stopping", signum)
        stop.set()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main thread, or not supported
                pass


def _dry_run(agent: Agent) -> int:
    report = agent.dry_run()
    print(f"Dry run (nothing sent, nothing moved) for {agent.cfg.server.endpoint}")
    if report["pendingBatches"]:
        print(f"  pending from the last run: {', '.join(report['pendingBatches'])}")
    print(
        f"  {report['files']} complete file(s), {report['records']} record(s) to send, "
        f"{report['excluded']} excluded (kept on premises)"
    )
    for r in report["rejected"]:
        print(f"  would reject {r['file']}: {r['reason']}")
    for b in report["batches"]:
        print(f"  batch {b['batchId']}: {b['records']} records, {b['gzipBytes']} bytes gzip")
    for m in report.get("monitoring") or []:
        print(
            f"  {m['database']} {m['feed']}: "
            + (
                f"{m['rows']} new row(s), {m['records']} "
                f"record(s) to send, {m['excluded']} excluded"
                if "error" not in m
                else f"cannot be read: {m['error']}"
            )
        )
    return EXIT_OK


def _preview(cfg: Config, *, as_json: bool, out: Path | None) -> int:
    """Console only: the preview holds users' addresses, which never go to the log."""
    from cdc_agent.preview import build_preview, render, write_json

    p = build_preview(cfg)
    if as_json or out is not None:
        text = write_json(p, out)
        if text is not None:
            print(text)
        else:
            print(
                f"preview of batch {(p.envelope or {}).get('batchId', '(none)')} written to {out}"
            )
    else:
        print(render(p, cfg))
    return EXIT_OK


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg: Config = load_config(args.config)
    except ConfigError as exc:
        print(f"cdc-agent: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    quiet_console = args.command in ("status", "preview")
    setup_logging(
        None if args.command in ("status", "check-config", "preview") else cfg.logging.file,
        cfg.logging.level,
        cfg.logging.max_mb,
        cfg.logging.backups,
        console=not quiet_console or args.verbose,
        verbose=args.verbose,
    )
    stop = threading.Event()
    try:
        if args.command == "check-config":
            agent = Agent(cfg, stop=stop)
            agent.tokens.token()
            print(
                f"{cfg.path}: OK; token obtained for {cfg.server.api_audience} "
                f"({cfg.auth.mode}); endpoint {cfg.server.endpoint}"
            )
            return EXIT_OK
        if args.command == "preview":
            return _preview(cfg, as_json=args.json, out=args.out)
        if args.command == "status":
            agent = Agent(cfg, stop=stop)
            info = collect(agent, remote=not args.offline, last=args.last)
            print(json.dumps(info, indent=2) if args.json else render(info))
            return EXIT_OK
        if getattr(args, "dry_run", False):
            return _dry_run(Agent(cfg, stop=stop))
        _install_signals(stop)
        agent = Agent(
            cfg,
            stop=stop,
            progress=args.command == "push" and not getattr(args, "no_progress", False),
        )
        with agent:
            if args.command == "push-topology":
                return EXIT_OK if agent.push_topology(args.file) else EXIT_RETRY
            if args.command == "push-exclusions":
                agent.journal = Journal(cfg.spool.state_dir)
                return EXIT_OK if agent.push_exclusions(force=True) else EXIT_RETRY
            if args.command == "watch":
                agent.watch()
                return EXIT_OK
            log.info("push pass started (cdc-agent %s, %s)", __version__, cfg.path)
            summary = agent.run_once()
            log.info("push pass finished: %s", summary.text())
            return summary.exit_code
    except FatalError as exc:
        if args.command in ("status", "check-config"):
            print(f"cdc-agent: {exc}", file=sys.stderr)
        else:
            log.error("%s", exc)
        return EXIT_RETRY
    except AgentBusy as exc:
        print(f"cdc-agent: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except JournalError as exc:
        print(f"cdc-agent: {exc}", file=sys.stderr)
        return EXIT_JOURNAL
    except KeyboardInterrupt:
        return EXIT_RETRY


def main(argv: list[str] | None = None) -> int:
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
