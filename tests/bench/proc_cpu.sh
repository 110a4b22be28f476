# shellcheck shell=bash
# Sourced by the bench parts that start one server at a time (forward.sh, tls.sh): waiting
# for its port, the CPU its whole process tree used (from /proc), and the median of a
# row's rounds. Needs SSBENCH set (free_port).

free_port() { "$SSBENCH" --mode free-port; }

wait_port() { # PORT: until it accepts, at most 10 s
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

tree_pids() { # PID: it and its descendants
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}

cpu_ticks() { # PID: user+system ticks of its tree, reaped children included
	local sum=0 p f
	for p in $(tree_pids "$1"); do
		f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
		f=${f##*) }
		# after "pid (comm) ": state is field 1, utime..cstime fields 12..15
		# shellcheck disable=SC2086 # the fields are wanted split
		set -- $f
		sum=$((sum + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$sum"
}

median() { # the median of the numbers on stdin, separated by blanks (0 if none)
	tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'
}
