#!/usr/bin/env bash
# The one list of the Debian packages superserverd needs, by purpose, and their installer.
#
#   scripts/deps.sh GROUP...          install the packages of GROUPs that are missing
#   scripts/deps.sh --list GROUP...   print them, one a line (.ci/run installs these itself)
#
# Groups: build (compile and run superserverd and superctl: quickstart.sh), package (the
# man pages and the .deb's computed dependencies), test (everything scripts/test.sh runs:
# Check, systemd-analyze, tmux, clang's libFuzzer, the e2e container tools, the programs
# the import tests run, xinetd to compare their answers with, and the openssl command,
# socat and curl the TLS tests make certificates with and connect with).
# Installing uses apt-get, through sudo when not root.
set -euo pipefail

group() {
	case $1 in
	build) echo cmake gcc libc6-dev make pkg-config libyaml-dev libsystemd-dev libcap-dev libjansson-dev libssl-dev ;;
	package) echo scdoc dpkg-dev file ;;
	test) echo check libsubunit-dev systemd procps tmux clang libclang-rt-14-dev systemd-container debootstrap tftpd-hpa tftp-hpa rsync git xinetd openssl socat curl ;;
	*)
		echo "deps.sh: unknown group '$1' (build, package or test)" >&2
		return 2
		;;
	esac
}

list=0
if [ "${1:-}" = --list ]; then
	list=1
	shift
fi
if [ $# -eq 0 ]; then
	echo "usage: scripts/deps.sh [--list] GROUP... (groups: build, package, test)" >&2
	exit 2
fi
packages=()
for g in "$@"; do
	words=$(group "$g") || exit 2
	read -ra ws <<<"$words"
	packages+=("${ws[@]}")
done
if [ $list = 1 ]; then
	printf '%s\n' "${packages[@]}" | sort -u
	exit 0
fi

missing=()
for p in $(printf '%s\n' "${packages[@]}" | sort -u); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
		echo "deps.sh: install them as root (apt-get install ${missing[*]}), or install sudo" >&2
		exit 1
	fi
	sudo=(sudo)
fi
echo "deps.sh: installing the missing Debian packages: ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
