# integration/cluster/keepalived.sh - sourced by `director` for director
# keepalived: Debian's keepalived with its own VRRP instance holding the
# VIP and lvs_sync_daemon, conf/keepalived/keepalived.conf as it is (one
# file, @node-a/@node-b lines by config-id).  No corosync, no Pacemaker.
#
# No systemd in these VMs: keepalived runs as its unit runs it (-n, the
# pid file /run/keepalived.pid); `systemctl stop keepalived` is SIGTERM to
# that pid.  Its log goes to the console (-l -D), each line stamped with
# the wall clock (perl) so the first passed check of a real can be
# compared with the first weight the poller saw.

KA_CONF=$(realpath "$HERE/../../conf/keepalived/keepalived.conf")
KA_LOG=/var/log/keepalived.log

ka_start() {
    local t0
    t0=$(up)
    # stdbuf: line-buffered, so each line is stamped when keepalived logs it
    stdbuf -oL -eL keepalived -n -l -D -i "node-$NODE" -f "$KA_CONF" 2>&1 |
        perl -MTime::HiRes=time -ne '$| = 1; printf "%.3f %s", time, $_' > $KA_LOG &
    ka_pid() { [ -s /run/keepalived.pid ] && kill -0 "$(cat /run/keepalived.pid)" 2>/dev/null; }
    check "keepalived starts ($KA_CONF, config-id node-$NODE)" wait_for 60 ka_pid
    in_state() { grep -q "(VI_LVS) Entering $1 STATE" $KA_LOG; }
    if [ "$BOOT" != 1 ]; then
        # A, powered on again: nopreempt keeps the VIP on B
        check "keepalived: node-$NODE is BACKUP (nopreempt: the VIP stays on the peer)" wait_for 120 in_state BACKUP
        sleep 10   # five adverts: long enough to see a preemption if there were one
        check "the VIP stayed on the peer after $NODE's return (not on $NODE's eth0)" sh -c "! ip -4 addr show dev eth0 | grep -q ' $VIP/'"
        ka_show
        post rejoined-$NODE "$(since "$t0")"
        await done 600
        finish
    fi
    if [ "$NODE" = a ]; then
        check "keepalived: node-a is VRRP MASTER" wait_for 120 in_state MASTER
        check "node-a holds $VIP on eth0" wait_for 30 sh -c "ip -4 addr show dev eth0 | grep -q ' $VIP/'"
        say "    (VIP up $(since "$t0")s after keepalived started)"
    else
        check "keepalived: node-b is VRRP BACKUP" wait_for 120 in_state BACKUP
    fi
}

# B starts only once A is master: both start as BACKUP with nopreempt, so
# whichever node's keepalived came first would keep the VIP (a TCG boot
# can be tens of seconds late)
ka_cluster() {
    [ "$NODE" = a ] || await vip-a 300 || bad "A took the VIP"
    ka_start
    [ "$NODE" = b ] || post vip-a
}

ka_show() {
    say "    keepalived: VRRP $(grep -o '(VI_LVS) Entering [A-Z]* STATE' $KA_LOG | tail -n 1)"
    ipvsadm -L -n --daemon 2>/dev/null | sed 's/^/    sync: /'
}

# the failure on A: standby = keepalived's graceful stop (SIGTERM, what
# `systemctl stop keepalived` sends); poweroff: the host kills the VM
ka_fail() {
    local t0 pid
    [ "$SCENARIO" = standby ] || return 0
    t0=$(up) pid=$(cat /run/keepalived.pid 2>/dev/null)
    check "stop of keepalived on A (SIGTERM to pid ${pid:-none}, as systemctl stop keepalived)" kill -TERM "$pid"
    check "A gave up the VIP (not on eth0 any more)" wait_for 120 sh -c "! ip -4 addr show dev eth0 | grep -q ' $VIP/'"
    say "    (gone $(since "$t0")s after the SIGTERM)"
    check "keepalived exited" wait_for 60 sh -c "! kill -0 $pid 2>/dev/null"
    ipvsadm -Ln | sed 's/^/    A after the stop: /'
}

# ka_first_pass IP:PORT: wall clock of the first passed TCP_CHECK of that
# real here (keepalived names the real, not the virtual service; the two
# services' reals differ by port)
ka_first_pass() {
    grep -m1 -E "TCP connection to \[?${1%:*}\]?:(tcp:)?${1#*:} success" $KA_LOG | cut -d' ' -f1
}

ka_log() {
    grep -E 'VI_LVS|sync|Removing|Adding|success|failed|timeout|Stopp' $KA_LOG | sed 's/^/    keepalived: /' | tail -n 30
}
