#!/usr/bin/env bash
# Installs the Debian packages superserverd needs to build and test, if any is missing.
# Sourced or run by quickstart.sh and test.sh; .ci/run installs the same list itself.
set -euo pipefail
SS_PACKAGES=(cmake gcc libc6-dev make pkg-config libyaml-dev libsystemd-dev libcap-dev check
	libsubunit-dev libjansson-dev scdoc systemd procps tmux clang libclang-rt-14-dev systemd-container debootstrap dpkg-dev file)

missing=()
for p in "${SS_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing missing packages: ${missing[*]}" >&2
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
