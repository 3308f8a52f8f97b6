#!/usr/bin/python3
"""Usage: ipc-rawclient.py CASE SERVICE NODE [WAIT_S]
A libqb SOCKET client made by hand (standard library only), to send a Pacemaker Remote
daemon's local IPC server what no real tool sends. Run it inside the daemon's network
namespace. SERVICE is a published name (attrd); NODE goes into the attrd query.
CASE:
  ok                  handshake, one attrd query, its response
  truncated-handshake 10 of the 24 handshake bytes, then wait for the server to close
  huge-size           handshake, then a request whose size field says 2^31-1
  truncated-header    handshake, then a 10-byte datagram
  vanish              handshake, a query, exit without reading the response
  vanish-before-bind  handshake, exit before binding the datagram sockets
  hold                PCMKR_RAW_COUNT handshakes (default 1), all kept open PCMKR_RAW_HOLD_S
                      seconds (default 5): how many were accepted, and the refusals' errors
  bomb                PCMKR_RAW_COUNT bzip2 requests of kind PCMKR_RAW_KIND, each on a new
                      connection the server must close: lie (claims 20 MiB, inflates past it)
                      or over (claims 64 MiB)
  expand              PCMKR_RAW_COUNT compressed CIB queries of about PCMKR_RAW_BYTES, sent at
                      once, then every answer read: PCMKR_RAW_KIND=over puts double quotes in
                      one attribute (6 bytes each once re-serialized): each must be a CIB reply
                      with cib_rc -90; near uses plain 8 KiB values: relayed, or refused with
                      cib_rc -11 once relays fill their share of the outbox
Prints one line "RESULT ok|fail|skip <detail>"; exit status 0, 1 or 3 (skip: the server
chose the SHM transport, which this client does not speak). Every wait is bounded by WAIT_S
(default 8 s). Layouts: libqb-ipc.md §3.1-3.3, 4.1, 4.4, 4.10 and 7.1 (the
Pacemaker 2.x header, what Debian 12's tools speak)."""

import bz2
import os
import socket
import struct
import sys
import time

NAME_LEN = 107  # abstract name bytes after the leading NUL: libqb pads to the full sun_path
HANDSHAKE = struct.Struct("=i4xi4xI4x")  # id -1, size 24, max_msg_size
REPLY_LEN = 12328
PATH_MAX = 4096
QB_HEADER = struct.Struct("=i4xi4xi4x")  # id, size, error
PCMK2 = struct.Struct("=IIIB3x")  # size_uncompressed, size_compressed, flags, version
FLAG_CLIENT_RESPONSE = 0x200
FLAG_COMPRESSED = 0x1


class Skip(Exception):
    pass


def addr(name):
    raw = name.encode()
    if len(raw) >= NAME_LEN:
        raise ValueError(f"name too long: {name}")
    return b"\0" + raw + b"\0" * (NAME_LEN - len(raw))


def setup_socket(service, wait):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    s.connect(addr(service))
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"eof after {len(buf)} of {n} reply bytes")
        buf += chunk
    return buf


def cstr(b):
    return b.split(b"\0", 1)[0].decode()


class Client:
    """A connected libqb SOCKET client: setup stream plus request and event datagrams."""

    def __init__(self, service, wait, bind=True):
        self.setup = setup_socket(service, wait)
        self.setup.sendall(HANDSHAKE.pack(-1, HANDSHAKE.size, 512 * 1024))
        reply = recv_exact(self.setup, REPLY_LEN)
        _, _, error = QB_HEADER.unpack_from(reply, 0)
        if error != 0:
            raise ConnectionRefusedError(f"refused with {error}")
        ctype, self.max = struct.unpack_from("=iI", reply, 24)
        if ctype != 0:
            raise Skip(f"server chose transport type {ctype} (SHM)")
        self.control = cstr(reply[40 : 40 + PATH_MAX])
        self.base = cstr(reply[40 + PATH_MAX : 40 + 2 * PATH_MAX])
        self.req = self.event = None
        if bind:
            self.req = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.req.bind(addr(self.base + "-response"))
            self.req.connect(addr(self.base + "-request"))
            self.req.settimeout(wait)
            self.event = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.event.bind(addr(self.base + "-event"))
            self.event.connect(addr(self.base + "-event-tx"))

    def close(self):
        # What a libqb client does on disconnect: remove the connection files, close.
        try:
            os.unlink(self.control)
            os.rmdir(os.path.dirname(self.control))
        except OSError:
            pass
        for s in (self.req, self.event, self.setup):
            if s is not None:
                s.close()


def request(msg_id, xml):
    text = xml.encode() + b"\0"
    size = QB_HEADER.size + PCMK2.size + len(text)
    return QB_HEADER.pack(msg_id, size, 0) + PCMK2.pack(len(text), 0, FLAG_CLIENT_RESPONSE, 1) + text


def compressed_request(msg_id, packed, claim):
    """A 2.x request carrying PACKED (bzip2 of text and NUL), whose header claims CLAIM bytes."""
    size = QB_HEADER.size + PCMK2.size + len(packed)
    flags = FLAG_CLIENT_RESPONSE | FLAG_COMPRESSED
    return QB_HEADER.pack(msg_id, size, 0) + PCMK2.pack(claim, len(packed), flags, 1) + packed


def answer(c, want_id):
    """The response to request WANT_ID: (id, text)."""
    data = c.req.recv(c.max)
    msg_id, _, _ = QB_HEADER.unpack_from(data, 0)
    return msg_id, data[40:].rstrip(b"\0").decode(errors="replace")


def env_int(name, default):
    return int(os.environ.get(name, default))


def hold(service, wait):
    count, hold_s = env_int("PCMKR_RAW_COUNT", 1), float(os.environ.get("PCMKR_RAW_HOLD_S", 5))
    kept, accepted, codes, failed = [], 0, {}, 0
    t0 = time.monotonic()
    for _ in range(count):
        try:
            s = setup_socket(service, wait)
            s.sendall(HANDSHAKE.pack(-1, HANDSHAKE.size, 65536))
            _, _, error = QB_HEADER.unpack_from(recv_exact(s, REPLY_LEN), 0)
        except OSError:
            failed += 1
            continue
        kept.append(s)
        if error == 0:
            accepted += 1
        else:
            codes[error] = codes.get(error, 0) + 1
    took = int((time.monotonic() - t0) * 1000)
    print(f"HELD accepted={accepted}", flush=True)
    time.sleep(hold_s)
    for s in kept:
        s.close()
    refused = sum(codes.values())
    return failed == 0, f"accepted={accepted} refused={refused} codes={codes} failed={failed} in {took} ms"


def expect_dropped(c, wait):
    """The server's goodbye: a zero-length datagram (4.10), then end-of-file on setup."""
    t0 = time.monotonic()
    c.req.settimeout(wait)
    try:
        n = len(c.req.recv(1 << 20))
        what = "zero-length datagram" if n == 0 else f"unexpected {n}-byte datagram"
    except OSError as e:
        what = f"no goodbye datagram ({e})"
    c.setup.settimeout(max(0.1, wait - (time.monotonic() - t0)))
    try:
        eof = c.setup.recv(16) == b""
    except OSError as e:
        return False, f"{what}; setup socket not closed ({e})"
    ms = int((time.monotonic() - t0) * 1000)
    if eof and what == "zero-length datagram":
        return True, f"{what} and setup eof after {ms} ms"
    return False, f"{what}; setup eof={eof} after {ms} ms"


def run(case, service, node, wait):
    query = f'<create_attrd_op t="attrd" src="pcmkr-raw" task="query" attr_name="pcmkr_none" attr_host="{node}"/>'
    if case == "truncated-handshake":
        s = setup_socket(service, wait)
        t0 = time.monotonic()
        s.sendall(HANDSHAKE.pack(-1, HANDSHAKE.size, 65536)[:10])
        try:
            got = s.recv(16)
        except socket.timeout:
            return False, f"server kept the half handshake open for {wait} s"
        ms = int((time.monotonic() - t0) * 1000)
        return got == b"", f"closed by the server after {ms} ms" if got == b"" else f"got {len(got)} bytes"
    if case == "hold":
        return hold(service, wait)
    if case == "vanish-before-bind":
        c = Client(service, wait, bind=False)
        c.close()
        return True, "handshake done, left before binding"
    c = Client(service, wait)
    try:
        if case == "ok":
            c.req.send(request(1, query))
            data = c.req.recv(c.max)
            msg_id, size, _ = QB_HEADER.unpack_from(data, 0)
            text = data[40:].rstrip(b"\0").decode(errors="replace")
            ok = msg_id == 1 and size == len(data) and "<" in text
            return ok, f"response id={msg_id} size={size} bytes={len(data)} {text[:120]}"
        if case == "vanish":
            c.req.send(request(1, query))
            return True, "sent a query and left without reading"
        if case == "huge-size":
            d = bytearray(request(1, query))
            struct.pack_into("=i", d, 8, 0x7FFFFFFF)
            c.req.send(bytes(d))
            return expect_dropped(c, wait)
        if case == "truncated-header":
            c.req.send(b"\1" * 10)
            return expect_dropped(c, wait)
        if case == "bomb":
            kind, count = os.environ.get("PCMKR_RAW_KIND", "lie"), env_int("PCMKR_RAW_COUNT", 1)
            claim = 20 << 20
            text = b'<create_attrd_op t="attrd" task="query" attr_name="' + b"a" * (claim + 4096) + b'"/>'
            if kind == "over":
                text, claim = text[:1000] + b'"/>', 64 << 20
            packed = bz2.compress(text + b"\0", 9)
            slowest, one = 0, c
            for i in range(1, count + 1):
                one = one or Client(service, wait)
                t0 = time.monotonic()
                one.req.send(compressed_request(i, packed, claim + 1))
                ok, detail = expect_dropped(one, wait)
                one.close()
                one = None
                slowest = max(slowest, time.monotonic() - t0)
                if not ok:
                    return False, f"bomb {i}: {detail}"
            c = Client(service, wait)  # closed by the finally clause
            return True, f"{count} x {kind} ({len(packed) + 40} bytes each): each client closed, slowest {int(slowest * 1000)} ms"
        if case == "expand":
            kind, count = os.environ.get("PCMKR_RAW_KIND", "over"), env_int("PCMKR_RAW_COUNT", 2)
            size = env_int("PCMKR_RAW_BYTES", 4 << 20)
            head = '<cib_command t="cib" cib_op="cib_query" cib_callid="2" cib_callopt="4352"'
            if kind == "over":
                # Quotes: six bytes each once re-serialized, and costly for Pacemaker to escape.
                text = (head + " pcmkr_x='" + '"' * size + "'/>").encode()
            else:
                # Plain 8 KiB values in many elements: large, but cheap to escape.
                n = size // 8200
                body = "".join(f'<pcmkr_x id="x{i}" v="{"a" * 8192}"/>' for i in range(n))
                text = (head + ">" + body + "</cib_command>").encode()
            packed = bz2.compress(text + b"\0", 9)
            for i in range(1, count + 1):
                c.req.send(compressed_request(i, packed, len(text) + 1))
            seen = {}
            c.req.settimeout(max(wait, 30))
            for _ in range(count):
                msg_id, got = answer(c, 0)
                what = "refused -90" if 'cib_rc="-90"' in got else "refused -11" if 'cib_rc="-11"' in got else "relayed"
                seen[what] = seen.get(what, 0) + 1
            ok = set(seen) <= ({"refused -90"} if kind == "over" else {"refused -11", "relayed"})
            return ok, f"{count} x {len(text)}-byte query ({kind}): answers {seen}"
        return False, f"unknown case {case}"
    finally:
        c.close()


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    case, service, node = sys.argv[1:4]
    wait = float(sys.argv[4]) if len(sys.argv) > 4 else 8.0
    try:
        ok, detail = run(case, service, node, wait)
    except Skip as e:
        print(f"RESULT skip {case}: {e}")
        return 3
    except Exception as e:  # a report, not a crash: the caller decides
        print(f"RESULT fail {case}: {type(e).__name__}: {e}")
        return 1
    print(f"RESULT {'ok' if ok else 'fail'} {case}: {detail}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
