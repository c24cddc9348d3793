#!/usr/bin/python3
"""Failover client for the two-director test bed.

    client.py --vip IP [--conns 100] [--interval 0.1] [--ready FILE] ...

Opens --conns long-lived TCP connections to VIP:ECHO_PORT and one
keep-alive HTTP/1.1 session to VIP:HTTP_PORT.  Each of them sends a line
(or a request) every --interval seconds and waits for its echo (answer)
before sending the next, so a stall shows as time without answers.  A
thread opens a fresh HTTP connection every --probe seconds.

SIGUSR1 marks the moment of the failure (the farm script sends it when it
triggers the failover), SIGHUP the moment the failover is over (the other
director holds the VIP).  From then on the client runs until every open
session has answered a line sent after SIGHUP and a fresh connection
started after it was served, plus --settle seconds, or until --max-wait
seconds after the failure; SIGUSR2 ends it at once.  Then it prints one line per connection and the summary:

    CLUSTER-RESULT {"conns": 100, "survived": 100, ...}      (JSON, one line)

A connection survived when it was never closed or reset and answered a
line sent after the failover was over.  new_conn_outage_s is the longest time
without a fresh connection served (between two served probes, the first
at or before the failure); gap_new_s is the time from the failure to the
end of that outage, outage_from_s its start (relative to the failure).
"""
import argparse
import json
import selectors
import signal
import socket
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--vip", required=True)
p.add_argument("--echo-port", type=int, default=9000)
p.add_argument("--http-port", type=int, default=80)
p.add_argument("--conns", type=int, default=100)
p.add_argument("--interval", type=float, default=0.1)
p.add_argument("--probe", type=float, default=0.2)
p.add_argument("--probe-timeout", type=float, default=1.0)
p.add_argument("--settle", type=float, default=3.0)
p.add_argument("--max-wait", type=float, default=90.0)
p.add_argument("--max-run", type=float, default=600.0, help="give up if no failure is signalled")
p.add_argument("--ready", help="file written once every session has answered once")
args = p.parse_args()

now = time.monotonic
T0 = now()
t_fail = None
t_moved = None  # SIGHUP: the failover is over (the VIP is on the other director)
stop = False


def on_fail(*_):
    global t_fail
    if t_fail is None:
        t_fail = now()


def on_moved(*_):
    global t_moved
    if t_moved is None:
        t_moved = now()


def on_stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGUSR1, on_fail)
signal.signal(signal.SIGUSR2, on_stop)
signal.signal(signal.SIGHUP, on_moved)


class Session:
    """One long-lived connection with at most one line in flight."""

    def __init__(self, idx, http):
        self.idx, self.http = idx, http
        self.sock = socket.create_connection((args.vip, args.http_port if http else args.echo_port), timeout=10)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.seq = 0
        self.buf = b""
        self.sent_at = None  # when the line in flight was sent
        self.last_ok = None
        self.answers = 0
        self.ok_after_fail = False
        self.max_stall = 0.0
        self.error = None
        self.server = ""

    def send(self, t):
        self.seq += 1
        if self.http:
            msg = b"GET /s%d HTTP/1.1\r\nHost: vip\r\n\r\n" % self.seq
        else:
            msg = b"c%d %d\n" % (self.idx, self.seq)
        self.expect = msg
        self.sent_at = t
        self.sock.send(msg)  # tiny; never blocks with one line in flight

    def on_readable(self, t):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by peer")
        self.buf += data
        if self.http:
            if b"\r\n\r\n" not in self.buf:
                return
            head, rest = self.buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            if len(rest) < length:
                return
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError("bad answer %r" % head[:40])
            self.server = rest[:length].decode(errors="replace").split(" ")[0]
            self.buf = rest[length:]
        else:
            if not self.buf.endswith(b"\n"):
                return
            if self.buf != self.expect:
                raise ConnectionError("wrong echo %r" % self.buf[:40])
            self.buf = b""
        if self.last_ok is not None:
            self.max_stall = max(self.max_stall, t - self.last_ok)
        self.last_ok = t
        self.answers += 1
        if t_moved is not None and self.sent_at >= t_moved:
            self.ok_after_fail = True
        self.sent_at = None


probes = []  # (start, end, ok, real server that answered)


def prober():
    while not stop:
        t = now()
        ok, server = False, ""
        try:
            with socket.create_connection((args.vip, args.http_port), timeout=args.probe_timeout) as s:
                s.settimeout(args.probe_timeout)
                s.sendall(b"GET /probe HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
                answer = s.recv(4096)
                ok = answer.startswith(b"HTTP/1.1 200")
                # the body: "server=NAME client=..."
                body = answer.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
                server = body.split(" ")[0].partition("=")[2] if ok else ""
        except OSError:
            pass
        probes.append((t, now(), ok, server))
        time.sleep(max(0.0, args.probe - (now() - t)))


def main():
    global stop
    sessions = []
    for i in range(args.conns):
        sessions.append(Session(i, False))
    sessions.append(Session(args.conns, True))
    sel = selectors.DefaultSelector()
    for s in sessions:
        sel.register(s.sock, selectors.EVENT_READ, s)
    threading.Thread(target=prober, daemon=True).start()
    ready = False
    done_at = None
    while not stop:
        t = now()
        for s in sessions:
            if s.error is None and s.sent_at is None and (s.last_ok is None or t - s.last_ok >= args.interval):
                try:
                    s.send(t)
                except OSError as e:
                    s.error = "send: %s" % e
                    sel.unregister(s.sock)
        for key, _ in sel.select(timeout=args.interval / 4):
            s = key.data
            try:
                s.on_readable(now())
            except (OSError, ValueError) as e:
                s.error = str(e) or type(e).__name__
                sel.unregister(s.sock)
        t = now()
        if not ready and all(s.answers > 0 or s.error for s in sessions):
            ready = True
            print("client: %d sessions open, %d answered, after %.1fs" % (len(sessions), sum(s.answers > 0 for s in sessions), t - T0), flush=True)
            if args.ready:
                with open(args.ready, "w") as f:
                    f.write("%d\n" % sum(s.answers > 0 for s in sessions))
        if t_fail is None:
            if t - T0 > args.max_run:
                break
            continue
        back = t_moved is not None and all(s.error or s.ok_after_fail for s in sessions) and any(ok and a >= t_moved for a, _, ok, _ in probes)
        if back and done_at is None:
            done_at = t + args.settle
        if (done_at is not None and t >= done_at) or t - t_fail > args.max_wait:
            break
    stop = True
    report(sessions)


def report(sessions):
    echo = [s for s in sessions if not s.http]
    http = sessions[-1]
    for s in sessions:
        print("conn %3d port %5d %-4s %s answers %4d max_stall %.2fs%s" % (
            s.idx, s.port, "http" if s.http else "echo",
            "survived" if (s.error is None and s.ok_after_fail) else "LOST", s.answers, s.max_stall,
            " error: %s" % s.error if s.error else ""))
    # The outage for new connections: the longest time without a fresh
    # connection served, among the windows that end after the failure
    # (a graceful standby keeps serving for a while after it is asked to).
    ends = sorted(e for _, e, ok, _ in probes if ok)
    gap_new = outage = outage_from = None
    if t_fail is not None:
        before = [e for e in ends if e < t_fail]
        after = [e for e in ends if e >= t_fail]
        prev = before[-1] if before else t_fail
        for e in after:
            if outage is None or e - prev > outage:
                outage, gap_new, outage_from = e - prev, e - t_fail, prev - t_fail
            prev = e
        # an outage still going on when the client stops has no end (gap_new_s null)
        t_end = now()
        if t_end - prev > args.probe + args.probe_timeout and (outage is None or t_end - prev > outage):
            outage, gap_new, outage_from = t_end - prev, None, prev - t_fail
    # The persistent client: the real servers that served the probes (fresh
    # connections from one client address) before the failure and after the
    # failover was over; with persistence synced, one and the same.
    before = sorted({srv for a, _, ok, srv in probes if ok and t_fail is not None and a < t_fail})
    after = sorted({srv for a, _, ok, srv in probes if ok and t_moved is not None and a >= t_moved})
    r = {
        "conns": len(echo),
        "survived": sum(1 for s in echo if s.error is None and s.ok_after_fail),
        "reset": sum(1 for s in echo if s.error),
        "stalled": sum(1 for s in echo if s.error is None and not s.ok_after_fail),
        "http_survived": http.error is None and http.ok_after_fail,
        "failure_signalled": t_fail is not None,
        "moved_after_s": round(t_moved - t_fail, 2) if t_moved is not None and t_fail is not None else None,
        "gap_new_s": round(gap_new, 2) if gap_new is not None else None,
        "new_conn_outage_s": round(outage, 2) if outage is not None else None,
        "outage_from_s": round(outage_from, 2) if outage_from is not None else None,
        "max_stall_s": round(max((s.max_stall for s in sessions), default=0.0), 2),
        "probes": len(probes),
        "probes_failed": sum(1 for p in probes if not p[2]),
        "run_s": round(now() - T0, 1),
        "probe_reals_before": before,
        "probe_reals_after": after,
        "persistent_same": len(before) == 1 and before == after,
        "http_real": http.server,
        "lost": [s.idx for s in echo if not (s.error is None and s.ok_after_fail)],
    }
    print("CLUSTER-RESULT " + json.dumps(r), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
