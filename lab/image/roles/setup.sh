#!/bin/sh
# Runs during `docker build` of the roles layer (no systemd running, so no service starts).
set -eu
update-ca-certificates >/dev/null
apt-get update -qq
grep -v -e '^#' -e '^$' /tmp/matrixha-lab/packages.txt | sed 's/[[:space:]]*#.*//' \
  | xargs apt-get install -y -qq >/dev/null

# Packages enable their services; in the lab the roles decide what runs where, so a
# host boots with none of them (a patroni host must not start the stock 15/main cluster,
# a coturn host no redis). `systemctl disable` works without a running systemd.
for unit in postgresql.service patroni.service etcd.service pgbouncer.service \
  haproxy.service keepalived.service coturn.service redis-server.service \
  redis-sentinel.service prometheus-node-exporter.service; do
  if [ -e "/lib/systemd/system/$unit" ]; then
    systemctl disable "$unit" 2>/dev/null
  fi
done
# Apt lists are kept: a role's `apt: state=present` then works after the egress network
# is gone (the lab's "internet cut" step).
rm -rf /tmp/matrixha-lab /var/cache/apt/archives/*.deb /var/log/*.log
