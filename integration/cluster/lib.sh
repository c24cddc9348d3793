# integration/cluster/lib.sh - sourced by the guest scripts of the
# two-director test bed (director, farm).  Addresses, flags, checks.
#
# The segment 192.0.2.0/24 (TEST-NET-1, never routed; it exists only on the
# qemu links between the VMs):
#   director A  eth0 192.0.2.1        director B  eth0 192.0.2.2
#   farm F      br0  192.0.2.3 (bridge of eth0 = cable to A, eth1 = cable to B)
#     netns cl  192.0.2.10            client
#     netns rs1 192.0.2.21, rs2 192.0.2.22: real servers, VIP on lo (DR)
#   VIP 192.0.2.100, held by whichever director Pacemaker puts it on.

[ "${IPVS_VM:-}" = 1 ] || { echo "integration/cluster: guest scripts run only inside the VMs that integration/cluster/run boots"; exit 2; }
: "${CLUSTER_STATE:?not set: start the bed with integration/cluster/run}"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
export VIP=192.0.2.100 ECHO_PORT=9000 HTTP_PORT=80 SYNCID=7
declare -A ADDR=([a]=192.0.2.1 [b]=192.0.2.2 [f]=192.0.2.3 [cl]=192.0.2.10 [rs1]=192.0.2.21 [rs2]=192.0.2.22)
export RS_LIST="${ADDR[rs1]} ${ADDR[rs2]}"
SCENARIO=${CLUSTER_SCENARIO:-standby}
BOOT=${CLUSTER_BOOT:-1}
FLAGS=$CLUSTER_STATE/flags
PY=/usr/bin/python3     # not a pyenv shim: that costs ~5 s per start under TCG

FAILS=0 CHECKS=0
up()    { cut -d' ' -f1 /proc/uptime; }
say()   { echo "$(up) $*"; }
ok()    { CHECKS=$((CHECKS + 1)); say "PASS - $*"; }
bad()   { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); say "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN{printf "%.1f", b-a}'; }

# Flags live in the host directory CLUSTER_STATE, shared read-write into
# every VM (9p; a new file shows in the other VMs within ~0.5 s).  The host
# reads some of them too: power-off-X / power-on-X.
post()  { mkdir -p "$FLAGS"; echo "${2:-1}" > "$FLAGS/.$1.$$" && mv "$FLAGS/.$1.$$" "$FLAGS/$1"; }
flag()  { cat "$FLAGS/$1" 2>/dev/null; }
# await NAME [SECS]: wait for a flag; status 1 on timeout
await() {
    local i
    for i in $(seq $((${2:-300} * 5))); do [ -e "$FLAGS/$1" ] && return 0; sleep 0.2; done
    say "(gave up waiting for flag '$1')" >&2; return 1
}
# wait_for SECS CMD...: retry CMD every 0.25 s
wait_for() { local i n=$(($1 * 4)); shift; for i in $(seq $n); do "$@" && return 0; sleep 0.25; done; return 1; }
# wait_slow SECS CMD...: the same every second, for costly commands (crm_mon,
# corosync-quorumtool): under TCG each costs ~0.3 s of a shared CPU
wait_slow() { local i; for i in $(seq "$1"); do "${@:2}" && return 0; sleep 1; done; return 1; }

# ESTABLISHED entries for the VIP in this kernel's IPVS connection table
vip_conns() { ipvsadm -Lnc 2>/dev/null | awk -v v="$VIP" '$1=="TCP" && $3=="ESTABLISHED" && index($5, v ":")==1' | wc -l; }

finish() {
    echo "node $NODE (boot $BOOT): $((CHECKS - FAILS)) of $CHECKS checks passed; uptime $(up)s; memory used $(free -m | awk '/^Mem:/{print $3}') MB"
    [ "$FAILS" -eq 0 ]; exit $?
}
