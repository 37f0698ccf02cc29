#!/bin/sh
# Runs inside the debootstrapped tree (chroot) to make it a container image that boots
# systemd as PID 1. Part of the base recipe: editing it changes the base image's hash.
set -eu

# Plain HTTP mirror: containers reach it through the lab's egress network; apt verifies
# the archive signatures, so no TLS is needed for it.
cat > /etc/apt/sources.list <<'SRC'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC

# Keep images small and installs fast: no recommends, no documentation.
cat > /etc/apt/apt.conf.d/90matrixha-lab <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
cat > /etc/dpkg/dpkg.cfg.d/90matrixha-lab-nodoc <<'DPKG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
DPKG

# Units that make no sense in a container (no consoles, no kernel modules, no udev, the
# root file system is Docker's) are masked so the boot ends in "running", not "degraded".
for unit in \
  getty.target console-getty.service serial-getty@.service \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-udev-trigger.service systemd-modules-load.service systemd-remount-fs.service \
  systemd-firstboot.service sys-kernel-debug.mount sys-kernel-tracing.mount \
  sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
  systemd-ask-password-wall.path systemd-ask-password-console.path \
  systemd-hwdb-update.service systemd-journald-audit.socket systemd-resolved.service \
  apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done

# systemd invents a machine id at boot when the file is empty (per container).
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# Service sandboxing that needs a user namespace (PrivateUsers=yes, e.g. Debian's
# redis-server.service) fails in these containers with status 226/NAMESPACE because
# they run without the capability to create one. One drop-in for every service turns
# it off in the lab only; production hosts keep the packaged hardening.
mkdir -p /etc/systemd/system/service.d
cat > /etc/systemd/system/service.d/10-matrixha-lab.conf <<'UNIT'
# matrixha lab only: containers cannot create user namespaces (see lab/README.md).
[Service]
PrivateUsers=no
UNIT

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/tmp/* /var/log/*.log
