#!/usr/bin/python3
"""Captures the D-Bus messages that src/dbus/tests.rs checks byte for byte.

Starts a private dbus-daemon (Debian package dbus-daemon) in a temporary directory, puts a
recording proxy in front of it, and sends through the proxy with libdbus's `dbus-send` and
systemd's `busctl` (little-endian, this machine's order); the daemon's answers are recorded
too. Big-endian messages come from GLib's own D-Bus implementation (python3-gi), which can
write either order. Prints one Rust table row per message: name, hex bytes.
Run by hand when the vectors need renewing: tests/dbus/capture-vectors.py > vectors.txt
"""
import os, select, shutil, socket, subprocess, sys, tempfile, threading, time

import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>custom</type><listen>unix:path={sock}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/><allow user="*"/></policy></busconfig>
"""

def split_messages(stream, client):
    """The messages after the authentication exchange of one direction."""
    if client:
        at = stream.index(b"BEGIN\r\n") + len(b"BEGIN\r\n")
    else:
        at = 0
        while stream[at:at + 1] != b"l":
            at = stream.index(b"\r\n", at) + 2
    out = []
    while at < len(stream):
        order = "little" if stream[at:at + 1] == b"l" else "big"
        body = int.from_bytes(stream[at + 4:at + 8], order)
        fields = int.from_bytes(stream[at + 12:at + 16], order)
        total = (16 + fields + 7) // 8 * 8 + body
        out.append(stream[at:at + total])
        at += total
    return out

def record(tmp, bus_sock, argv):
    """Runs argv against a proxy; returns (client→bus bytes, bus→client bytes)."""
    proxy_sock = os.path.join(tmp, "proxy.sock")
    if os.path.exists(proxy_sock):
        os.unlink(proxy_sock)
    lst = socket.socket(socket.AF_UNIX)
    lst.bind(proxy_sock)
    lst.listen(1)
    got = {"up": b"", "down": b""}

    def pump():
        c, _ = lst.accept()
        b = socket.socket(socket.AF_UNIX)
        b.connect(bus_sock)
        deadline = time.time() + 10
        while time.time() < deadline:
            r, _, _ = select.select([c, b], [], [], 0.5)
            done = False
            for s in r:
                data = s.recv(65536)
                if not data:
                    done = True
                    break
                if s is c:
                    got["up"] += data
                    b.sendall(data)
                else:
                    got["down"] += data
                    c.sendall(data)
            if done:
                break
        c.close()
        b.close()

    t = threading.Thread(target=pump)
    t.start()
    subprocess.run([a.replace("@ADDR@", "unix:path=" + proxy_sock) for a in argv],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    t.join(12)
    lst.close()
    return split_messages(got["up"], True), split_messages(got["down"], False)

def row(name, data):
    print(f'    ("{name}", "{data.hex()}"),')

def glib(name, msg, serial, big):
    msg.set_serial(serial)
    msg.set_byte_order(Gio.DBusMessageByteOrder.BIG_ENDIAN if big
                       else Gio.DBusMessageByteOrder.LITTLE_ENDIAN)
    row(name, msg.to_blob(Gio.DBusCapabilityFlags.NONE))

def main():
    tmp = tempfile.mkdtemp(prefix="pcmkr-dbus-capture.")
    bus_sock = os.path.join(tmp, "bus.sock")
    conf = os.path.join(tmp, "bus.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(sock=bus_sock))
    daemon = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(bus_sock):
                break
            time.sleep(0.05)
        up, down = record(tmp, bus_sock, [
            "dbus-send", "--bus=@ADDR@", "--print-reply", "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus", "org.freedesktop.DBus.GetNameOwner",
            "string:org.freedesktop.DBus"])
        row("libdbus_hello_call", up[0])
        row("libdbus_get_name_owner_call", up[1])
        row("daemon_hello_reply", down[0])
        row("daemon_name_acquired_signal", down[1])
        row("daemon_get_name_owner_reply", down[2])
        up, down = record(tmp, bus_sock, [
            "dbus-send", "--bus=@ADDR@", "--print-reply", "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus", "org.freedesktop.DBus.GetNameOwner",
            "string:no.such.name"])
        row("daemon_name_has_no_owner_error", down[2])
        up, down = record(tmp, bus_sock, [
            "dbus-send", "--bus=@ADDR@", "--type=signal", "/org/example/Obj",
            "org.example.Iface.Types", "byte:7", "boolean:true", "int32:-5", "uint32:7",
            "uint64:12345678901", "string:h\u00e9llo", "objpath:/o/p", "variant:uint32:1",
            "array:string:a,b", "dict:string:uint32:k,1"])
        row("libdbus_signal_of_many_types", up[1])
        up, down = record(tmp, bus_sock, [
            "busctl", "--address=@ADDR@", "call", "org.freedesktop.DBus",
            "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
            "type='signal',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'"])
        row("sdbus_add_match_call", up[1])
        for big in (False, True):
            end = "be" if big else "le"
            glib(f"glib_{end}_hello_call", Gio.DBusMessage.new_method_call(
                "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "Hello"), 1, big)
            sig = Gio.DBusMessage.new_signal("/org/freedesktop/systemd1",
                                             "org.freedesktop.systemd1.Manager", "JobRemoved")
            sig.set_body(GLib.Variant("(uoss)", (42, "/org/freedesktop/systemd1/job/42",
                                                 "dummy.service", "done")))
            sig.set_sender(":1.1")
            glib(f"glib_{end}_job_removed_signal", sig, 7, big)
            call = Gio.DBusMessage.new_method_call(
                "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "ListUnitFiles")
            call.set_serial(5)
            ret = Gio.DBusMessage.new_method_reply(call)
            ret.set_body(GLib.Variant("(a(ss))", ([("/lib/systemd/system/a.service", "enabled"),
                                                    ("/etc/systemd/system/b@.service", "static")],)))
            glib(f"glib_{end}_list_unit_files_reply", ret, 9, big)
            ret = Gio.DBusMessage.new_method_reply(call)
            ret.set_body(GLib.Variant("(v)", (GLib.Variant("s", "active"),)))
            glib(f"glib_{end}_property_reply", ret, 10, big)
            err = Gio.DBusMessage.new_method_error_literal(
                call, "org.freedesktop.systemd1.NoSuchUnit", "Unit foo.service not loaded.")
            glib(f"glib_{end}_no_such_unit_error", err, 11, big)
            sig = Gio.DBusMessage.new_signal("/o", "org.example.Iface", "All")
            sig.set_body(GLib.Variant("(ybnqiuxtdsogva{sv}(ay))", (
                1, True, -2, 3, -4, 5, -6, 7, 1.5, "s", "/o/p", "a{sv}",
                GLib.Variant("u", 9), {"k": GLib.Variant("t", 10)}, (b"\x00\xff",))))
            glib(f"glib_{end}_signal_of_every_type", sig, 12, big)
    finally:
        daemon.terminate()
        daemon.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
