"""``make run``: the whole tote-realtime system locally, until Ctrl-C.

    python -m devstack.run [--seed 1] [--rate 20] [--webapp-port 8080] ...

With ``TOTE_SUBSCRIPTIONS_URL`` (and ``TOTE_API_KEY``) set, the connector ingests from that
server instead of the simulator.  State (logs, the BigQuery emulator's data, the connector's
capture) lives in ``.run/`` and is kept between runs unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devstack.processes import ServiceError
from devstack.system import LocalSystem, Ports

__all__ = ["StopOnce", "main"]


class StopOnce:
    """Signal handling for ``make run``: the first signal stops, later ones cannot interrupt.

    The first SIGTERM/SIGINT/SIGHUP raises ``KeyboardInterrupt`` in the main loop, which then
    stops every service.  An impatient second Ctrl-C (or a SIGTERM from a supervisor) arriving
    while ``system.stop()`` runs used to raise inside it and abort the stop halfway, leaving
    services running and ports taken; once stopping has begun, signals are only acknowledged.
    """

    def __init__(self, say: Callable[[str], None] = lambda m: print(m, flush=True)) -> None:
        self.stopping = False
        self.ignored = 0
        self._say = say

    def begin(self) -> None:
        self.stopping = True

    def handler(self, signum: int, _frame: object) -> None:
        if self.stopping:
            self.ignored += 1
            self._say(f"({signal.Signals(signum).name}: already stopping, please wait)")
            return
        self.stopping = True
        raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    defaults = Ports()
    parser = argparse.ArgumentParser(
        prog="python -m devstack.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--workdir", type=Path, default=Path(".run"))
    parser.add_argument(
        "--fresh", action="store_true", help="delete the previous run's state first"
    )
    parser.add_argument("--project", default="tote-local")
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (same seed, same day)")
    parser.add_argument("--rate", type=float, default=20.0, help="simulator messages per second")
    parser.add_argument("--no-bigquery", action="store_true", help="skip the BigQuery emulator")
    for name, port in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}-port", type=int, default=port, dest=name)
    return parser


def _banner(system: LocalSystem) -> str:
    logs = system.logs
    lines = [
        "",
        "tote-realtime is running locally.",
        f"  Dashboard        {system.webapp_url}/",
        f"  SSE stream       curl -N '{system.webapp_url}/events?types=pool-total'",
        f"  Connector        {system.connector_url}/status",
        f"  Tote source      {system.tote_url or system.simulator_url}",
    ]
    if system.bigquery:
        lines += [
            f"  BigQuery (local) BIGQUERY_EMULATOR_HOST=http://127.0.0.1:{system.ports.bigquery} "
            f".venv/bin/python -m pipeline.query --project {system.project} \\",
            f"                     'SELECT * FROM `{system.project}.{system.dataset}.latest_pool_totals` LIMIT 10'",
            "                   (views and example queries: docs/analyst.md)",
        ]
    lines += [
        f"  Logs             {logs}/ (pubsub-emulator, bigquery-emulator, simulator, connector, "
        "pipeline, webapp)",
        f"  Capture          {system.capture_path} (replay: python -m replay)",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = Ports(**{name: getattr(args, name) for name in vars(Ports())})
    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    tote_url = os.environ.get("TOTE_SUBSCRIPTIONS_URL") or None
    system = LocalSystem(
        workdir=args.workdir.resolve(),
        ports=ports,
        project=args.project,
        seed=args.seed,
        rate=args.rate,
        tote_url=tote_url,
        api_key=os.environ.get("TOTE_API_KEY") if tote_url else None,
        bigquery=not args.no_bigquery,
        say=lambda msg: print(msg, flush=True),
    )

    stopping = StopOnce()
    # Ctrl-C must work even when started in the background by a non-interactive shell (which
    # leaves SIGINT ignored in its children); a closed terminal (SIGHUP) stops cleanly too.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stopping.handler)
    print("Starting tote-realtime locally ...", flush=True)
    try:
        system.start()
        print(_banner(system), flush=True)
        while True:
            time.sleep(1)
            for name, proc in list(system.processes.items()):
                if not proc.alive():
                    print(f"\n{name} exited unexpectedly; last log lines:\n{proc.log_tail()}")
                    return 1
    except ServiceError as exc:
        print(f"\nCould not start the local system: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        stopping.begin()  # from here on, signals are noted, never allowed to abort the stop
        system.stop()
        print("Stopped; all ports freed.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
