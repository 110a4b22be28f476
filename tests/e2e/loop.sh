#!/bin/bash
# Runs inside the e2e container.
#   loop.sh PORT STOPFILE MAX
# Connects to the echo service on 127.0.0.1:PORT again and again, one connection at a
# time, until the file STOPFILE exists or after MAX connections, whichever comes first
# (the caller bounds it in time too); each connection sends "ping N" and waits up to
# 10 s for it to come back. Prints one line:
#   attempts=N ok=N refused=N unanswered=N wrong=N
# and before it, once the first connection was answered, a line "started".
# refused: connect() failed; unanswered: no line (timeout or closed); wrong: another line.
port=$1
stop=$2
max=$3
exec 2>/dev/null
n=0 ok=0 refused=0 unanswered=0 wrong=0
while [ "$n" -lt "$max" ] && [ ! -e "$stop" ]; do
	n=$((n + 1))
	if ! exec 3<>"/dev/tcp/127.0.0.1/$port"; then
		refused=$((refused + 1))
		continue
	fi
	printf 'ping %d\n' "$n" >&3
	if IFS= read -r -t 10 line <&3; then
		if [ "${line%$'\r'}" = "ping $n" ]; then
			ok=$((ok + 1))
			[ "$ok" = 1 ] && echo started
		else
			wrong=$((wrong + 1))
		fi
	else
		unanswered=$((unanswered + 1))
	fi
	exec 3>&-
done
echo "attempts=$n ok=$ok refused=$refused unanswered=$unanswered wrong=$wrong"
