#!/bin/bash
# Runs in the e2e root *without* booting it (systemd-nspawn --as-pid2; no systemd is
# running, as in a chroot, a debootstrap or an image build). The package must install
# (users created, nothing started, no error from the guarded systemd calls) and purge.
#   nosystemd.sh DEB
set -u
deb=$1
fail() {
	echo "FAIL: $*"
	exit 1
}
[ -d /run/systemd/system ] && fail "/run/systemd/system exists: is systemd running?"
apt-get install -y --no-install-recommends "$deb" || fail "apt-get install failed"
getent passwd _superserverd >/dev/null || fail "postinst did not create the user _superserverd"
getent group superserverd >/dev/null || fail "postinst did not create the group superserverd"
[ -d /run/superserverd ] && fail "postinst ran systemd-tmpfiles without a running systemd"
find /etc/systemd/system -name 'superserverd.*' | grep -q . && fail "something enabled superserverd"
superserverd --check-config || fail "the shipped configuration does not pass --check-config"
apt-get purge -y superserverd || fail "apt-get purge failed"
[ -e /etc/superserverd ] && fail "/etc/superserverd is left after purge"
[ -e /usr/sbin/superserverd ] && fail "/usr/sbin/superserverd is left after purge"
echo "nosystemd: install and purge without systemd: ok"
exit 0
