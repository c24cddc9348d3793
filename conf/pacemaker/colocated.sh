#!/bin/sh
# Setup (b), ldirectord's: one lvsd primitive that follows the VIP. This is
# how ldirectord runs under Pacemaker, and what users migrate from; it keeps
# the connections only if the backup thread runs on the other node without
# lvsd (README.md: "Setup (b)").
#
#   VIP=192.0.2.100 NIC=eth0 conf/pacemaker/colocated.sh
set -eu
PCS=${PCS:-pcs}
VIP=${VIP:-192.0.2.100}
NIC=${NIC:-eth0}
CONFIG=${CONFIG:-/etc/ha.d/ldirectord.cf}
BINARY=${BINARY:-/usr/sbin/lvsd}

$PCS resource create VirtualIP ocf:heartbeat:IPaddr2 ip="$VIP" cidr_netmask=32 nic="$NIC" \
    op monitor interval=2s timeout=30s op start timeout=60s op stop timeout=60s
$PCS resource create director ocf:lvsd:lvsd config="$CONFIG" binary="$BINARY" \
    op start timeout=130s op stop timeout=130s op monitor interval=5s timeout=30s \
    meta migration-threshold=1 failure-timeout=120s
$PCS constraint colocation add director with VirtualIP INFINITY
$PCS constraint order VirtualIP then director
