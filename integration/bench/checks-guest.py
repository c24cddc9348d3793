#!/usr/bin/env python3
"""Guest part of integration/bench/checks: lvsd and keepalived HTTP checks on
the same N targets, one after the other, in one VM boot.

Each tool runs in a network namespace of its own holding nginx (listening on
every 127.1.x.y address of its loopback), the tool, and IPVS: one virtual
service with the N targets as reals, HTTP GET / every second, timeout T,
one failure takes a real out. Measured per tool, from /proc:
  - CPU seconds per wall second of the tool's whole process tree (utime,
    stime, and those of reaped children), over a steady window with every
    target up, and over the window after 10 % go dark;
  - RSS summed over the tree;
  - detection latency from the nft drop of 10 % of the targets to each dark
    real's disappearance from `ipvsadm -S -n` (polled; the poll period is
    printed, it is the resolution).

usage: checks-guest.py LVSD_BIN TARGETS TIMEOUT_S STEADY_S REPS [lvsd-NAME=LVSD_BIN]...

Other builds of lvsd given as lvsd-NAME=PATH (e.g. the main branch's as
lvsd-base) are measured too, in the same boot: a change is judged against
its baseline under the same conditions.
"""

import os
import subprocess
import sys
import tempfile
import time

PORT = 8080
VIP = "10.200.0.1"
TICK = os.sysconf("SC_CLK_TCK")


def target(i):
    n = 0x7F010000 + 1 + i  # 127.1.0.1 onwards, on lo without adding addresses
    return "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def netns(name):
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    # Short connections to many addresses: reuse TIME_WAIT, room to listen.
    for key, value in [("net/ipv4/tcp_tw_reuse", "1"), ("net/core/somaxconn", "65535"),
                       ("net/ipv4/tcp_max_syn_backlog", "65535")]:
        sh("ip", "netns", "exec", name, "sh", "-c", "echo %s > /proc/sys/%s" % (value, key))


def ns_popen(name, args, log):
    return subprocess.Popen(["ip", "netns", "exec", name] + args, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def start_nginx(ns, d):
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            "daemon off; master_process on; worker_processes 1; worker_rlimit_nofile 65536;\n"
            "pid %(d)s/nginx.pid; error_log %(d)s/error.log;\n"
            "events { worker_connections 16384; }\n"
            "http { access_log off; client_body_temp_path %(d)s/b; proxy_temp_path %(d)s/p;\n"
            "fastcgi_temp_path %(d)s/f; uwsgi_temp_path %(d)s/u; scgi_temp_path %(d)s/s;\n"
            "server { listen 0.0.0.0:%(port)d backlog=65535; "
            "location / { return 200 \"ok\\n\"; } } }\n" % {"d": d, "port": PORT})
    log = open(os.path.join(d, "nginx.out"), "w")
    p = ns_popen(ns, ["/usr/sbin/nginx", "-c", conf, "-e", os.path.join(d, "error.log")], log)
    t0 = time.time()
    while subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                          "import socket; socket.create_connection(('127.1.0.1', %d), 1)" % PORT],
                         stderr=subprocess.DEVNULL).returncode != 0:
        if time.time() - t0 > 60:
            sys.exit("nginx did not start")
        time.sleep(0.5)
    return p


def lvsd_config(n, timeout, d):
    path = os.path.join(d, "lvsd.cf")
    with open(path, "w") as f:
        f.write("checkinterval=1\nnegotiatetimeout=%d\nfailurecount=1\nquiescent=no\n" % timeout)
        f.write("virtual=%s:80\n\tscheduler=wlc\n\tprotocol=tcp\n" % VIP)
        f.write("\tchecktype=negotiate\n\tservice=http\n\trequest=\"/\"\n")
        for i in range(n):
            f.write("\treal=%s:%d masq 1\n" % (target(i), PORT))
    return path


def keepalived_config(n, timeout, d):
    path = os.path.join(d, "keepalived.conf")
    with open(path, "w") as f:
        f.write("global_defs {\n  router_id bench\n}\n")
        f.write("virtual_server %s 80 {\n  delay_loop 1\n  lb_algo wlc\n  lb_kind NAT\n"
                "  protocol TCP\n" % VIP)
        for i in range(n):
            # retry 0: one failure takes the real out, as failurecount=1.
            f.write("  real_server %s %d {\n    weight 1\n    HTTP_GET {\n"
                    "      url {\n        path /\n        status_code 200-299\n      }\n"
                    "      connect_timeout %d\n      retry 0\n      delay_before_retry 1\n"
                    "    }\n  }\n" % (target(i), PORT, timeout))
        f.write("}\n")
    return path


def proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s.rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); ppid is field 4, utime..cstime 14..17.
    return int(fields[1]), sum(int(v) for v in fields[11:15])


def tree(root):
    """The pids of root and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st:
                parents[int(entry)] = st[0]
    out, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p and child not in out:
                out.add(child)
                frontier.append(child)
    return out


def cpu_seconds(root):
    total = 0
    for pid in tree(root):
        st = proc_stat(pid)
        if st:
            total += st[1]
    return total / TICK


def rss_mib(root):
    total = 0
    for pid in tree(root):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def switches(root):
    """Context switches (voluntary and not) of the tree: each is a sleep and
    a wake-up, which cost far more than the syscalls around them."""
    total = 0
    for pid in tree(root):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:  # every thread: a process's own status counts one
            try:
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches:",
                                            "nonvoluntary_ctxt_switches:")):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def reals(ns):
    out = subprocess.run(["ip", "netns", "exec", ns, "ipvsadm", "-S", "-n"],
                         capture_output=True, text=True, check=True).stdout
    present = set()
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["-a"] and "-r" in parts:
            addr = parts[parts.index("-r") + 1].rsplit(":", 1)[0]
            present.add(addr)
    return present


def active_opens(ns):
    """TCP connections opened from the namespace so far: the tool's probes
    (nginx only accepts, IPVS talks netlink)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"],
                         capture_output=True, text=True, check=True).stdout
    head, values = [l.split() for l in out.splitlines() if l.startswith("Tcp:")][:2]
    return int(values[head.index("ActiveOpens")])


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1,
                             round(p / 100 * (len(sorted_values) - 1)))]


def measure(tool, ns, root, n, timeout, steady):
    """Wait until every target is in the table, then measure; returns a dict."""
    t0 = time.time()
    while len(reals(ns)) < n:
        if time.time() - t0 > 300:
            sys.exit("%s: only %d of %d reals in the table after 300 s" % (tool, len(reals(ns)), n))
        time.sleep(1)
    up_after = time.time() - t0
    time.sleep(5)  # past start-up work
    c0, s0, o0, w0 = cpu_seconds(root), switches(root), active_opens(ns), time.time()
    time.sleep(steady)
    wall = time.time() - w0
    cpu = (cpu_seconds(root) - c0) / wall
    cs = (switches(root) - s0) / wall
    # A tool that falls behind probes less often and so uses less CPU per
    # second: judge the work done too.
    rate = (active_opens(ns) - o0) / wall
    rss = rss_mib(root)
    flaps = n - len(reals(ns))

    dark = [target(i) for i in range(0, n, 10)]
    rules = ("table inet bench {\n set dark {\n  type ipv4_addr\n  elements = { %s }\n }\n"
             " chain in {\n  type filter hook input priority 0; policy accept;\n"
             "  ip daddr @dark tcp dport %d drop\n }\n}\n" % (", ".join(dark), PORT))
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
        f.write(rules)
    c1 = cpu_seconds(root)
    sh("ip", "netns", "exec", ns, "nft", "-f", f.name)
    t_dark = time.time()  # the drop is in force once nft has committed
    os.unlink(f.name)
    pending, latency, polls = set(dark), [], []
    end = t_dark + 1 + timeout + 30
    while pending and time.time() < end:
        p0 = time.time()
        gone = pending - reals(ns)
        polls.append(time.time() - p0)
        for addr in gone:
            latency.append((time.time() - t_dark) * 1000)
        pending -= gone
        time.sleep(0.05)
    dark_cpu = (cpu_seconds(root) - c1) / (time.time() - t_dark)
    latency.sort()
    wrong = n - len(dark) - len(reals(ns) - set(dark))
    sh("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "bench")
    return {"tool": tool, "up_after": up_after, "cpu": cpu, "cs": cs, "rss": rss, "flaps": flaps,
            "rate": rate, "per_k": cpu / rate * 1e6 if rate else float("nan"),
            "dark": len(dark), "detected": len(latency), "wrong": wrong,
            "p50": pct(latency, 50), "p99": pct(latency, 99),
            "max": latency[-1] if latency else float("nan"),
            "poll": sum(polls) / max(1, len(polls)) * 1000 + 50, "dark_cpu": dark_cpu}


def stop(p):
    try:
        os.killpg(p.pid, 15)
    except ProcessLookupError:
        return
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.wait()


def main():
    lvsd, n, timeout, steady, reps = sys.argv[1], *map(int, sys.argv[2:6])
    others = dict(a.split("=", 1) for a in sys.argv[6:])
    tools = ["lvsd", "keepalived"] + list(others)
    print("targets %d, interval 1 s, timeout %d s, steady window %d s, %d CPU(s)"
          % (n, timeout, steady, os.cpu_count()), flush=True)
    os.environ["LVSD_RUN_DIR"] = "/tmp/lvsd-run"
    os.makedirs("/tmp/lvsd-run", exist_ok=True)
    results = []
    for rep in range(reps):
        # Rotate which tool goes first, so none always meets a VM that has
        # just been busy.
        k = rep % len(tools)
        for tool in tools[k:] + tools[:k]:
            ns = "%s%d" % (tool, rep)
            d = tempfile.mkdtemp(prefix=ns)
            netns(ns)
            nginx = start_nginx(ns, d)
            log = open(os.path.join(d, "tool.out"), "w")
            if tool.startswith("lvsd"):
                cmd = [others.get(tool, lvsd), "run", lvsd_config(n, timeout, d)]
            else:
                cmd = ["keepalived", "--check", "--dont-fork", "--log-console", "--no-syslog",
                       "--pid", os.path.join(d, "k.pid"), "--checkers_pid",
                       os.path.join(d, "kc.pid"), "-f", keepalived_config(n, timeout, d)]
            p = ns_popen(ns, cmd, log)
            try:
                r = measure(tool, ns, p.pid, n, timeout, steady)
            finally:
                stop(p)
                stop(nginx)
                log.close()
                subprocess.run(["ip", "netns", "del", ns])
            r["rep"] = rep + 1
            results.append(r)
            print("rep %(rep)d %(tool)-10s all up in %(up_after).0f s; steady CPU %(cpu).3f s/s, "
                  "%(rate).0f checks/s, %(per_k).0f ms CPU per 1,000 checks, "
                  "%(cs).0f context switches/s, "
                  "RSS %(rss).1f MiB, %(flaps)d reals missing at the end of the window; "
                  "%(detected)d/%(dark)d dark detected (%(wrong)d others lost): p50 %(p50).0f ms, "
                  "p99 %(p99).0f ms, max %(max).0f ms (poll period %(poll).0f ms); "
                  "CPU while dark %(dark_cpu).3f s/s" % r, flush=True)
            time.sleep(3)
    for tool in tools:
        rs = sorted(r["cpu"] for r in results if r["tool"] == tool)
        ks = sorted(r["per_k"] for r in results if r["tool"] == tool)
        cs = sorted(r["rate"] for r in results if r["tool"] == tool)
        print("%s steady CPU over %d runs: median %.3f s/s, range %.3f-%.3f; "
              "checks/s median %.0f (%.0f-%.0f); CPU per 1,000 checks median %.0f ms (%.0f-%.0f)"
              % (tool, len(rs), pct(rs, 50), rs[0], rs[-1], pct(cs, 50), cs[0], cs[-1],
                 pct(ks, 50), ks[0], ks[-1]))

    def median(tool, key):
        return pct(sorted(r[key] for r in results if r["tool"] == tool), 50)

    for other in ["keepalived"] + list(others):
        for key, what in [("cpu", "CPU per second"), ("per_k", "CPU per check")]:
            lv, ot = median("lvsd", key), median(other, key)
            print("ratio lvsd / %s, %s (medians): %.2f"
                  % (other, what, lv / ot if ot else float("nan")))


main()
