#!/bin/bash
# Runs inside the e2e container (bash's /dev/tcp; no other client is installed there).
#   client.sh PORT [TEXT]
# Connects to 127.0.0.1:PORT, sends TEXT and a newline when TEXT is given, prints the
# first line received. Exit 0 a line arrived, 2 the connection failed (refused),
# 3 no line within 5 s or the peer closed first.
port=$1
text=${2-}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 2
if [ -n "$text" ]; then
	printf '%s\n' "$text" >&3
fi
IFS= read -r -t 5 line <&3 || exit 3
printf '%s\n' "${line%$'\r'}"
