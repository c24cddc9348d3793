#!/bin/sh
# Setup (a), the hot standby lvsd recommends: lvsd as a clone on both
# directors (the table programmed and checked on both), the VIP on one,
# syncdaemon=both in ldirectord.cf on both. Run once, on one node, with
# both nodes in the cluster, ldirectord.cf in place on both, and fencing
# configured (README.md).
#
#   VIP=192.0.2.100 NIC=eth0 conf/pacemaker/hot-standby.sh
#   PCS="pcs -f cib.xml" ... writes into a CIB file instead (the test bed)
set -eu
PCS=${PCS:-pcs}
VIP=${VIP:-192.0.2.100}
NIC=${NIC:-eth0}
CONFIG=${CONFIG:-/etc/ha.d/ldirectord.cf}
BINARY=${BINARY:-/usr/sbin/lvsd}

$PCS resource create VirtualIP ocf:heartbeat:IPaddr2 ip="$VIP" cidr_netmask=32 nic="$NIC" \
    op monitor interval=2s timeout=30s op start timeout=60s op stop timeout=60s
# migration-threshold=1: a node whose lvsd failed hands the VIP to the peer,
# whose lvsd is running and whose kernel already knows the connections;
# failure-timeout lets it take an instance again later (the VIP stays
# where it is: resource-stickiness).
$PCS resource create lvsd ocf:lvsd:lvsd config="$CONFIG" binary="$BINARY" \
    op start timeout=130s op stop timeout=130s \
    op monitor interval=5s timeout=30s \
    op monitor interval=30s timeout=30s OCF_CHECK_LEVEL=10 \
    meta migration-threshold=1 failure-timeout=120s \
    clone interleave=true
# The VIP only where lvsd runs, and only once lvsd has programmed the table.
$PCS constraint colocation add VirtualIP with lvsd-clone INFINITY
$PCS constraint order start lvsd-clone then start VirtualIP
