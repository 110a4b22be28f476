#!/bin/bash
# Runs inside the e2e container (bash's /dev/udp and coreutils; no other client is
# installed there).
#   udp_client.sh PORT TEXT
# Sends TEXT and a newline in one datagram to 127.0.0.1:PORT and prints the answer (without
# its final newline). Exit 0 an answer arrived, 2 the socket could not be made, 3 no answer
# within 5 s (a datagram may be lost: the caller retries).
port=$1
text=$2
exec 3<>"/dev/udp/127.0.0.1/$port" || exit 2
printf '%s\n' "$text" >&3
# One read of the whole datagram: bash's read takes a byte at a time, and the rest of a
# datagram is gone after the first.
answer=$(timeout 5 dd bs=65536 count=1 status=none <&3) || exit 3
[ -n "$answer" ] || exit 3
printf '%s\n' "$answer"
