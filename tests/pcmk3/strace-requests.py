#!/usr/bin/env python3
"""Reads `strace -f -xx -s N -e trace=sendto,writev` output of Pacemaker tools talking to a
libqb SOCKET server and prints, per connection, the 24-byte handshake request and the first
request datagram, as hex: `handshake <hex>` and `request <hex>` lines (each `pid fd` tagged;
`request-head` with only the 40-byte header when strace cut the buffer short).

libqb sends the handshake with sendto() on the setup socket and each request with writev()
of the header and the payload on the request socket (libqb-ipc.md 3.2, 4.2), so the first
writev() after a handshake, on any descriptor of the same process, is that connection's first
request. Only complete (not truncated) buffers are printed."""
import re
import sys

SENDTO = re.compile(r'^(\d+)\s+sendto\((\d+), "((?:\\x[0-9a-f]{2})*)", (\d+),')
WRITEV = re.compile(r'^(\d+)\s+writev\((\d+), \[(.*)\], \d+\) = (\d+)')
IOV = re.compile(r'iov_base="((?:\\x[0-9a-f]{2})*)"(\.\.\.)?, iov_len=(\d+)')


def unhex(s):
    return bytes(int(h, 16) for h in s.split("\\x")[1:])


def main(path):
    waiting = {}  # pid -> True while a handshake awaits its first request
    for line in open(path, encoding="ascii", errors="replace"):
        m = SENDTO.match(line)
        if m and int(m.group(4)) == 24:
            pid = m.group(1)
            print(f"handshake {pid} {m.group(2)} {unhex(m.group(3)).hex()}")
            waiting[pid] = True
            continue
        m = WRITEV.match(line)
        if m and waiting.get(m.group(1)):
            parts = IOV.findall(m.group(3))
            data = b"".join(unhex(b) for b, _, _ in parts)
            whole = not any(cut or len(unhex(b)) != int(n) for b, cut, n in parts)
            kind = "request" if whole else "request-head"
            print(f"{kind} {m.group(1)} {m.group(2)} {data[:40].hex() if not whole else data.hex()}")
            waiting[m.group(1)] = False


if __name__ == "__main__":
    main(sys.argv[1])
