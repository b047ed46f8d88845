#!/usr/bin/env python3
"""Drives muster-node processes on 127.0.0.1 and checks the cluster through their admin dumps.

usage: cluster_test.py MUSTER_NODE (cluster | garbage)

cluster: three nodes register 100 counter workers. One node gets SIGTERM and its workers move
with their counters; another gets SIGKILL and its workers restart; it then comes back. A fourth
node with the wrong cookie never joins. At the end every name runs exactly once and the
surviving nodes agree where.

garbage: clients that have the cookie finish the handshake and then send a bad frame each
(unknown version, unknown kind, garbled, oversized, truncated). Three clients without the
cookie send a garbage frame, announce a 1 MB frame, or send nothing. The node closes every one of them, logs
each bad frame with the peer's name and the reason, logs the failed handshakes once for their
address, and the cluster keeps working.

The waits add up to under 100 s, below the ctest timeout of 120 s; a normal run takes 5 to 8 s.
Every process is started with PR_SET_PDEATHSIG, so it dies with this driver even when the
driver itself is killed, and the driver kills every process it started before it exits.
"""

import ctypes
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

COOKIE = b"runtime-test-cookie-0123456789"
WIRE_VERSION = 3  # muster::wire::wire_version, the first byte of every frame payload
WRONG_COOKIE = b"another-cookie-9876543210-abcdef"
PR_SET_PDEATHSIG = 1


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_ports(count):
    """Returns distinct ports that were free a moment ago: the kernel picks them for port 0."""
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Node:
    def __init__(self, binary, folder, port, admin_port, peers, cookie_file, workers=0, extra=()):
        self.name = "app@127.0.0.1:%d" % port
        self.admin_port = admin_port
        self.log_path = os.path.join(folder, "node-%d.log" % port)
        self.argv = [binary, "--name", self.name, "--listen", "127.0.0.1:%d" % port,
                     "--peers", ",".join(peers), "--cookie-file", cookie_file,
                     "--workers", str(workers), "--admin", "127.0.0.1:%d" % admin_port,
                     "--stop-timeout-ms", "20000", *extra]
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=log, preexec_fn=die_with_parent)
        log.close()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def dump(self):
        """Returns the admin dump as a dict, or None when the node sends no complete dump."""
        try:
            with socket.create_connection(("127.0.0.1", self.admin_port), timeout=2) as s:
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        result = {"members": {}, "names": {}, "counters": {}, "bytes_sent": 0}
        for line in data.decode().splitlines():
            fields = line.split(" ")
            if fields[0] == "member":
                result["members"][fields[1]] = fields[2]
            elif fields[0] == "name":
                result["names"][fields[1]] = fields[2]
            elif fields[0] == "counter":
                result["counters"][fields[1]] = int(fields[2])
            elif fields[0] == "stats":
                result["bytes_sent"] = int(fields[1])
        return result if data.endswith(b"end\n") else None

    def log_lines(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()

    def kill(self, sig):
        if self.running():
            self.process.send_signal(sig)

    def wait(self, timeout):
        return self.process.wait(timeout=timeout)


def wait_until(description, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out after %.0f s waiting until %s" % (timeout, description))


def settled(nodes, count):
    """Returns the dumps when every node runs, lists the others as members and all agree that
    each of `count` names runs exactly once, where the owner's dump shows its counter."""
    dumps = [n.dump() for n in nodes]
    if any(d is None for d in dumps):
        return None
    names = {n.name for n in nodes}
    for node, d in zip(nodes, dumps):
        if set(d["members"]) != names - {node.name}:
            return None
        if any(state != "up" for state in d["members"].values()):
            return None
        if len(d["names"]) != count or d["names"] != dumps[0]["names"]:
            return None
    running = {}
    for node, d in zip(nodes, dumps):
        for worker in d["counters"]:
            if worker in running:
                return None
            running[worker] = node.name
    if running != dumps[0]["names"]:
        return None
    return dumps


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def write_cookie(folder, name, value):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(value + b"\n")
    return path


def run_cluster(binary, folder, nodes):
    ports = free_ports(8)
    cookie = write_cookie(folder, "cookie", COOKIE)
    wrong = write_cookie(folder, "wrong-cookie", WRONG_COOKIE)
    peers = ["app@127.0.0.1:%d" % p for p in ports[0:3]]
    a = Node(binary, folder, ports[0], ports[4], peers, cookie, workers=100)
    b = Node(binary, folder, ports[1], ports[5], peers, cookie)
    c = Node(binary, folder, ports[2], ports[6], peers, cookie)
    d = Node(binary, folder, ports[3], ports[7], peers, wrong)
    nodes.extend([a, b, c, d])
    for n in nodes:
        n.start()

    dumps = wait_until("three nodes run 100 workers", lambda: settled([a, b, c], 100), 20)
    print("formed: workers per node", [len(x["counters"]) for x in dumps], flush=True)

    # SIGTERM: the node hands its workers off with their counters.
    time.sleep(1)
    before = b.dump()["counters"]
    check(len(before) > 0, "the node to stop runs no worker")
    b.kill(signal.SIGTERM)
    check(b.wait(15) == 0, "the node stopped by SIGTERM exited with a nonzero code")
    dumps = wait_until("two nodes run 100 workers after SIGTERM", lambda: settled([a, c], 100), 15)
    after = {**dumps[0]["counters"], **dumps[1]["counters"]}
    for worker, value in before.items():
        check(after[worker] >= value, "%s restarted at %d after the handoff; it was %d" % (worker, after[worker], value))
    print("SIGTERM: %d workers moved with their counters" % len(before), flush=True)

    # SIGKILL: the node's workers restart on the survivor.
    killed = set(c.dump()["counters"])
    check(len(killed) > 0, "the node to kill runs no worker")
    log_mark = len(a.log_lines())
    c.kill(signal.SIGKILL)
    c.wait(10)
    wait_until("one node runs 100 workers after SIGKILL", lambda: settled([a], 100), 15)
    fresh = {line.split("name=")[1].split(" ")[0] for line in a.log_lines()[log_mark:]
             if " worker_started " in line and "origin=fresh" in line}
    check(killed <= fresh, "workers of the killed node not restarted fresh: %s" % sorted(killed - fresh))
    print("SIGKILL: %d workers restarted" % len(killed), flush=True)

    # The killed node comes back with a new incarnation and takes its share again.
    c.start()
    dumps = wait_until("two nodes run 100 workers after the restart", lambda: settled([a, c], 100), 20)
    print("restart: workers per node", [len(x["counters"]) for x in dumps], flush=True)

    # The node with the wrong cookie never joined anyone.
    stranger = d.dump()
    check(stranger is not None, "the node with the wrong cookie does not answer")
    check(not stranger["members"], "the node with the wrong cookie has members: %s" % stranger["members"])
    for node in (a, c):
        check(d.name not in node.dump()["members"], "%s lists the node with the wrong cookie" % node.name)
        check(not any(" member_joined " in l and d.name in l for l in node.log_lines()),
              "%s logged the node with the wrong cookie joining" % node.name)
    check(any(" auth_failed " in l for l in d.log_lines()), "the node with the wrong cookie logged no auth_failed")


def frame(payload):
    return len(payload).to_bytes(4, "big") + payload


def name_bytes(name):
    return bytes([len(name)]) + name


def read_frame(s):
    data = b""
    while len(data) < 4:
        chunk = s.recv(4 - len(data))
        if not chunk:
            raise AssertionError("the node closed the connection during the handshake")
        data += chunk
    size = int.from_bytes(data, "big")
    payload = b""
    while len(payload) < size:
        chunk = s.recv(size - len(payload))
        if not chunk:
            raise AssertionError("the node closed the connection during the handshake")
        payload += chunk
    return payload


def handshake(port, own_name):
    """Opens a connection to a node and proves the cookie as `own_name`; returns the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    nonce = os.urandom(32)
    s.sendall(frame(bytes([WIRE_VERSION, 0x40]) + name_bytes(own_name) + nonce))
    response = read_frame(s)
    check(response[:2] == bytes([WIRE_VERSION, 0x41]), "unexpected handshake reply %r" % response[:2])
    size = response[2]
    peer = response[3:3 + size]
    peer_nonce = response[3 + size:3 + size + 32]
    body = name_bytes(own_name) + name_bytes(peer) + nonce + peer_nonce
    expected = hmac.new(COOKIE, b"muster wire 1 responder proof" + body, hashlib.sha256).digest()
    check(response[3 + size + 32:] == expected, "the node's handshake proof does not match")
    proof = hmac.new(COOKIE, b"muster wire 1 initiator proof" + body, hashlib.sha256).digest()
    s.sendall(frame(bytes([WIRE_VERSION, 0x42]) + proof))
    return s


def closed_by_peer(s, timeout):
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def run_garbage(binary, folder, nodes):
    ports = free_ports(4)
    cookie = write_cookie(folder, "cookie", COOKIE)
    peers = ["app@127.0.0.1:%d" % p for p in ports[0:2]]
    a = Node(binary, folder, ports[0], ports[2], peers, cookie, workers=20)
    b = Node(binary, folder, ports[1], ports[3], peers, cookie)
    nodes.extend([a, b])
    for n in nodes:
        n.start()
    wait_until("two nodes run 20 workers", lambda: settled([a, b], 20), 20)

    # Authenticated peers each send one kind of bad frame; the node closes each connection and
    # logs the peer's name with the decoder's reason.
    bad_frames = [
        (b"app@127.0.0.1:1", frame(bytes([7, 1]) + b"garbage"), "unknown wire format version"),
        (b"app@127.0.0.1:2", frame(bytes([WIRE_VERSION, 0x30])), "unknown message kind"),
        (b"app@127.0.0.1:3", frame(bytes([WIRE_VERSION, 1, 0])), "frame is garbled"),
        (b"app@127.0.0.1:4", (0x7FFFFFFF).to_bytes(4, "big") + b"x", "frame is larger than frame_size_max"),
        (b"app@127.0.0.1:5", (100).to_bytes(4, "big") + b"0123456789", "frame is truncated"),
    ]
    for intruder, data, reason in bad_frames:
        s = handshake(ports[0], intruder)
        s.sendall(data)
        if reason == "frame is truncated":
            s.shutdown(socket.SHUT_WR)
        check(closed_by_peer(s, 5), "the node kept the connection of %s open" % intruder.decode())
        s.close()
    # A client without the cookie sends a frame whose version byte is 0xff instead of a challenge.
    raw = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    raw.sendall(frame(b"\xff" * 16))
    check(closed_by_peer(raw, 5), "the node kept a connection that sent garbage open")
    raw.close()
    # A client without the cookie announces a 1 MB frame: the node stops buffering it at 4 KiB,
    # well before the handshake deadline of 5 s.
    large = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    large.sendall((1000000).to_bytes(4, "big") + bytes([WIRE_VERSION, 0x40]) + b"x" * 8000)
    check(closed_by_peer(large, 3), "the node buffered a large frame from a peer without the cookie")
    large.close()
    # A client that sends nothing is closed at the handshake deadline (5 s by default).
    silent = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
    check(closed_by_peer(silent, 15), "the node kept a silent connection open past the handshake deadline")
    silent.close()

    # Clients without the cookie claim a new name in each handshake, one of them with a carriage
    # return and a forged record. Each name is unproven, so they count as one source (127.0.0.1)
    # for the rate limit, and no control byte reaches the log.
    claimed = [b"rotating-%d" % i for i in range(20)] + [b"x\r2026-12-05T00:00:00.000Z error app@x forged a=b"]
    for name in claimed:
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
        s.sendall(frame(bytes([WIRE_VERSION, 0x40]) + name_bytes(name) + os.urandom(32)) +
                  frame(bytes([WIRE_VERSION, 0x42]) + bytes(32)))
        check(closed_by_peer(s, 5), "the node kept a connection with a wrong proof open")
        s.close()

    # A client without the cookie opens 20 connections and sends nothing: the node keeps at most
    # 16 in their handshake per address and closes the others at once.
    silent_clients = [socket.create_connection(("127.0.0.1", ports[0]), timeout=5) for _ in range(20)]
    time.sleep(0.5)
    closed = 0
    for s in silent_clients:
        s.setblocking(False)
        try:
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    check(closed == 4, "expected 4 of 20 silent connections closed at once, got %d" % closed)
    for s in silent_clients:
        s.close()

    lines = a.log_lines()
    rejected = [l for l in lines if " connection_rejected " in l]
    check(len(rejected) == 1 and "too many handshakes from this address" in rejected[0],
          "expected one connection_rejected record for the excess handshakes, got %r" % rejected)
    with open(a.log_path, "rb") as f:
        check(b"\r" not in f.read(), "a claimed name wrote a carriage return into the log")
    check(sum(1 for l in lines if " auth_failed " in l) == 1,
          "expected one auth_failed record in all, got %d" % sum(1 for l in lines if " auth_failed " in l))
    for intruder, data, reason in bad_frames:
        check(any(" decode_failed " in l and "peer=%s " % intruder.decode() in l and reason in l for l in lines),
              "no decode_failed record names %s and the reason %r" % (intruder.decode(), reason))
    # Every failed handshake comes from 127.0.0.1, so only the first is logged.
    failures = [l for l in lines if " auth_failed " in l and "peer=127.0.0.1 " in l]
    check(len(failures) == 1, "expected one auth_failed record for 127.0.0.1, got %d" % len(failures))

    # The cluster still works: both nodes stay members and the counters keep counting.
    before = settled([a, b], 20)
    check(before is not None, "the cluster changed after the garbage")
    time.sleep(1)
    after = wait_until("the cluster still agrees", lambda: settled([a, b], 20), 10)
    total_before = sum(sum(d["counters"].values()) for d in before)
    total_after = sum(sum(d["counters"].values()) for d in after)
    check(total_after > total_before, "the counters stopped after the garbage")
    check(not any(" member_failed " in l for l in a.log_lines() + b.log_lines()), "a member failed")


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("cluster", "garbage"):
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    binary, scenario = sys.argv[1], sys.argv[2]
    nodes = []
    folder = tempfile.mkdtemp(prefix="muster-runtime-")
    started = time.monotonic()
    try:
        (run_cluster if scenario == "cluster" else run_garbage)(binary, folder, nodes)
        print("%s passed in %.1f s" % (scenario, time.monotonic() - started))
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    except (AssertionError, subprocess.TimeoutExpired) as error:
        print("FAILED: %s (logs are in %s)" % (error, folder))
        for n in nodes:
            print("---- log of %s (last 40 lines) ----" % n.name)
            for line in n.log_lines()[-40:]:
                print(line)
        return 1
    finally:
        for n in nodes:
            if n.process is not None and n.process.poll() is None:
                n.process.kill()
                n.process.wait()


if __name__ == "__main__":
    sys.exit(main())
