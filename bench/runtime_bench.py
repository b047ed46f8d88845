#!/usr/bin/env python3
"""Measures a three-process muster-node cluster on 127.0.0.1 and prints the median of each figure.

usage: runtime_bench.py MUSTER_NODE [--names N] [--runs R] [--batch-size B]

Each run starts three nodes. The first registers N counter workers one second after its start,
through `register_names` calls of B names each (muster-node --batch-size), then times one million
whereis lookups on its own replica. The registration rate is N divided by the time from the
first call to the last reply, as the first node logs it. A node restarts no orphaned worker
during its first failure timeout (5 s), so the run waits until six seconds after the start. It
then sends SIGKILL to the third node and measures, on the wall clock, the time until the
survivors log `member_failed` and until the last of its workers has started again (the time of
its `worker_started` line), both from the kill and from the first `member_failed`. The admin
dumps that check the survivors start one second after the kill, when the restart is over, so
they do not compete with it for the CPU.
Bytes per registration is every byte the three nodes sent from start until all replicas hold
the N names, divided by N; handshakes, hellos and heartbeats of those seconds are included.
CPU per registration is the user and system time the three processes used from 0.8 s after the
start (before the first call) until the first node logged its lookup rate, less the time it
spent on the lookups (one million divided by that rate), divided by N. It includes applying the
replicated entries on every node, except entries the other nodes were still applying at that
moment, and depends less than the rate on other jobs that share the machine.
"""

import argparse
import datetime
import os
import signal
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "runtime"))
from cluster_test import COOKIE, Node, free_ports, settled, wait_until, write_cookie  # noqa: E402


def log_time(line):
    """Returns the wall-clock time of a muster-node log line, in seconds since the epoch."""
    stamp = datetime.datetime.strptime(line.split(" ")[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def field(line, key):
    return line.split(key + "=")[1].split(" ")[0]


def cpu_seconds(node):
    """Returns the user plus system CPU time a running node has used, in seconds."""
    with open("/proc/%d/stat" % node.process.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(binary, names, batch_size):
    folder = tempfile.mkdtemp(prefix="muster-bench-")
    nodes = []
    try:
        ports = free_ports(6)
        cookie = write_cookie(folder, "cookie", COOKIE)
        peers = ["app@127.0.0.1:%d" % p for p in ports[0:3]]
        a = Node(binary, folder, ports[0], ports[3], peers, cookie, workers=names,
                 extra=("--whereis-bench", "1000000", "--batch-size", str(batch_size)))
        b = Node(binary, folder, ports[1], ports[4], peers, cookie)
        c = Node(binary, folder, ports[2], ports[5], peers, cookie)
        nodes.extend([a, b, c])
        started = time.monotonic()
        for n in nodes:
            n.start()
        # The first node registers one second after its start.
        time.sleep(max(0.0, started + 0.8 - time.monotonic()))
        cpu_before = sum(cpu_seconds(n) for n in nodes)

        # The CPU window ends before the first admin dump, because the dumps that check the
        # replicas cost CPU time of their own.
        lines = wait_until("the lookups are timed",
                           lambda: [l for l in a.log_lines() if " whereis_measured " in l], 120)
        cpu_used = sum(cpu_seconds(n) for n in nodes) - cpu_before
        registered = [l for l in a.log_lines() if " workers_registered " in l][0]
        registrations_per_second = names / (int(field(registered, "elapsed_us")) / 1e6)
        lookups_per_second = int(field(lines[0], "per_second"))
        cpu_used -= 1e6 / lookups_per_second
        dumps = wait_until("three nodes run every worker", lambda: settled([a, b, c], names), 120)
        bytes_sent = sum(d["bytes_sent"] for d in dumps)

        # A node restarts no orphan during its first failure timeout (5 s), while its replica may
        # still be assembling, so the kill waits for that to pass.
        time.sleep(max(0.0, started + 6 - time.monotonic()))
        killed = set(c.dump()["counters"])
        marks = [len(a.log_lines()), len(b.log_lines())]
        killed_at = time.time()
        c.kill(signal.SIGKILL)
        c.wait(10)
        # The restart is timed from the log lines, and the admin dumps that check the result
        # cost the survivors and this script CPU time of their own, so the first dump waits
        # until the restart is long done.
        time.sleep(1.0)
        wait_until("two nodes run every worker", lambda: settled([a, b], names), 120)
        new_lines = a.log_lines()[marks[0]:] + b.log_lines()[marks[1]:]
        detected = min(log_time(l) for l in new_lines if " member_failed " in l)
        restarts = [l for l in new_lines if " worker_started " in l and "origin=fresh" in l
                    and field(l, "name") in killed]
        restarted = max(log_time(l) for l in restarts)
        return {
            "registrations/s": registrations_per_second,
            "whereis/s": lookups_per_second,
            "bytes/registration": bytes_sent / names,
            "CPU us/registration": cpu_used * 1e6 / names,
            "SIGKILL to detection (ms)": (detected - killed_at) * 1000,
            "SIGKILL to all restarted (ms)": (restarted - killed_at) * 1000,
            "detection to all restarted (ms)": (restarted - detected) * 1000,
            "workers restarted": len(restarts),
        }
    finally:
        for n in nodes:
            if n.process is not None and n.process.poll() is None:
                n.process.kill()
                n.process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--names", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1024)
    options = parser.parse_args()
    runs = []
    for i in range(options.runs):
        result = one_run(options.binary, options.names, options.batch_size)
        print("run %d: %s" % (i + 1, ", ".join("%s %.1f" % item for item in result.items())), flush=True)
        runs.append(result)
    print("median of %d runs, %d names, batches of %d (range in brackets):" % (options.runs, options.names, options.batch_size))
    for key in runs[0]:
        values = [r[key] for r in runs]
        print("  %-30s %.1f [%.1f to %.1f]" % (key, statistics.median(values), min(values), max(values)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
