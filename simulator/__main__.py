"""``python -m simulator``: run the Tote simulator until SIGTERM / SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import date

from simulator.server import PATH, PROTOCOLS, Simulator, SimulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="A simulated Tote subscription server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="websocket port")
    parser.add_argument(
        "--control-port", type=int, default=0, help="HTTP control port (default: port + 1)"
    )
    parser.add_argument("--seed", type=int, default=1, help="same seed, same race day")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--api-key", default=None, help="required API key (default: accept any)")
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=PROTOCOLS,
        default=list(PROTOCOLS),
        help="subprotocols to accept, in order of preference",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="stop generating after N")
    parser.add_argument(
        "--record", default="", help="append every frame sent to this JSON-lines file"
    )
    parser.add_argument(
        "--init-auth-only",
        action="store_true",
        help="check the key only in connection_init (not on the upgrade request)",
    )
    parser.add_argument("--keepalive", type=float, default=5.0, help="ka/ping interval, seconds")
    parser.add_argument("--init-timeout", type=float, default=10.0, help="seconds (then 4408)")
    parser.add_argument(
        "--day",
        type=date.fromisoformat,
        default=None,
        help="the racing day, YYYY-MM-DD (default: today in Europe/London)",
    )
    parser.add_argument(
        "--advance",
        type=int,
        default=0,
        help="generate N messages before anyone connects (a late start: the day is under way)",
    )
    parser.add_argument(
        "--always-run",
        action="store_true",
        help="keep the day going while nobody is subscribed (messages then are lost to all)",
    )
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be positive")
    if args.advance < 0:
        parser.error("--advance must be >= 0")
    return args


async def run(args: argparse.Namespace) -> None:
    config = SimulatorConfig(
        seed=args.seed,
        rate=args.rate,
        api_key=args.api_key,
        protocols=args.protocols,
        max_frames=args.max_frames,
        record_path=args.record,
        upgrade_auth=not args.init_auth_only,
        keepalive_seconds=args.keepalive,
        init_timeout_seconds=args.init_timeout,
        day=args.day,
        advance=args.advance,
        always_run=args.always_run,
    )
    simulator = Simulator(config)
    await simulator.start(args.host, args.port)
    loop = asyncio.get_running_loop()
    control_port = args.control_port or args.port + 1
    httpd = simulator.serve_control(args.host, control_port, loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.info(
        "simulator on ws://%s:%d%s, control and query API http://%s:%d (seed %d, %.0f msg/s)",
        args.host,
        args.port,
        PATH,
        args.host,
        control_port,
        args.seed,
        args.rate,
    )
    await stop.wait()
    httpd.shutdown()
    await simulator.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s"
    )
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
