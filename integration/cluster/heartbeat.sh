# integration/cluster/heartbeat.sh - sourced by `director` for director
# heartbeat: setup (c), Heartbeat v1 (haresources, no CRM) from
# conf/heartbeat/, with lvsd installed under the ldirectord name and driven
# by heartbeat's own resource.d/ldirectord.
#
# Debian's ldirectord package ships /etc/ha.d/resource.d/ldirectord as a
# symlink to /usr/sbin/ldirectord (the Perl daemon itself: heartbeat runs
# `resource.d/ldirectord ldirectord.cf start|stop|status`). The bed points
# that name at lvsd the way the .deb names it, /usr/lib/lvsd/ldirectord ->
# lvsd (conf/heartbeat/README.md: with dpkg-divert in production).

HB_CONF=$HERE/../../conf/heartbeat
HB_BIN=/usr/libexec/heartbeat/heartbeat

# hb_install: files in place, the backup sync thread, heartbeat not started
hb_install() {
    : "${LVSD_BIN:?not set: integration/cluster/run passes it}"
    mkdir -p /usr/lib/lvsd
    ln -sfn "$LVSD_BIN" /usr/lib/lvsd/ldirectord
    ln -sfn /usr/lib/lvsd/ldirectord /etc/ha.d/resource.d/ldirectord
    install -m 0644 "$HB_CONF/ha.cf" "$HB_CONF/haresources" "$HB_CONF/ldirectord.cf" /etc/ha.d/
    install -m 0600 "$HB_CONF/authkeys" /etc/ha.d/authkeys
    # tmpfiles.d/heartbeat.conf's directories (no systemd in these VMs)
    install -d -m 0750 -o hacluster -g haclient /run/heartbeat /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/crm
    mkdir -p /var/lib/heartbeat /var/lock/subsys
    # what lvsd-sync-backup.service runs at boot, outside heartbeat
    ipvsadm --start-daemon backup --mcast-interface eth0 --syncid "$SYNCID"
}

# hb_start: heartbeat on this node; A holds the group (lvsd, then the VIP)
hb_start() {
    local t0
    t0=$(up)
    check "heartbeat starts ($HB_BIN)" $HB_BIN
    peer_active() { cl_status nodestatus "node-$PEER" 2>/dev/null | grep -q active; }
    check "heartbeat: the peer node-$PEER is active" wait_slow 180 peer_active
    say "    (peer active $(since "$t0")s after heartbeat started)"
    if [ "$NODE" = a ]; then
        check "node-a holds $VIP on eth0 (haresources: lvsd, then the VIP)" \
            wait_for 240 sh -c "ip -4 addr show dev eth0 | grep -q ' $VIP/'"
        say "    (VIP up $(since "$t0")s after heartbeat started)"
        post vip-a
    else
        await vip-a 300 || bad "A took the resource group"
    fi
}

hb_show() {
    say "    heartbeat: $(cl_status hbstatus 2>&1 | head -n 1); resources here: $(cl_status rscstatus 2>&1)"
    ipvsadm -L -n --daemon 2>/dev/null | sed 's/^/    sync: /'
}

# the failure on A: standby (hb_standby) or stop-stack (heartbeat stopped)
hb_fail() {
    local t0
    t0=$(up)
    case "$SCENARIO" in
    standby) check "hb_standby on A" /usr/share/heartbeat/hb_standby ;;
    stop-stack) check "heartbeat -k on A (what /etc/init.d/heartbeat stop runs)" $HB_BIN -k ;;
    esac
    say "    (took $(since "$t0")s)"
    check "A gave up the VIP (not on eth0 any more)" wait_for 180 sh -c "! ip -4 addr show dev eth0 | grep -q ' $VIP/'"
    say "    (gone $(since "$t0")s after the command started)"
}

hb_log() {
    grep -hE 'ResourceManager|Running /etc/ha.d|standby|acquire|Releasing|Taking over' /var/log/ha-log 2>/dev/null |
        sed 's/^/    heartbeat: /' | tail -n 20
}
