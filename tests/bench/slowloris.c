/*
 * ssloris: the slowloris benchmark's client (tests/bench/slowloris.sh). It opens
 * --connections connections from --attack-source to 127.0.0.1:--port and sends one byte
 * on each every --interval seconds, reopening (after a second) any the server closes,
 * for --attack seconds; then closes them all. Meanwhile, once a second, a probe from
 * --probe-source sends a line and waits up to --probe-timeout for its echo (a probe
 * still waiting then counts as not served, whenever it ends), and the
 * server's pool is counted (children of --pid). It prints a timeline and one summary
 * line of key=value pairs. Bounded in count (--connections <= 20000) and time
 * (--attack + --after <= 600 s); loopback only.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 20000

struct opts {
	int port;
	struct in_addr attack_src, probe_src;
	int connections;
	double interval, attack, after, probe_timeout;
	int pid, max_workers, rest;
};

enum cstate { C_CLOSED, C_CONNECTING, C_OPEN };

struct conn {
	int fd;
	enum cstate st;
	double next; /* the next byte (open), or the reopen time (closed) */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Processes whose parent is PID: the service's pool, with one service in the daemon. */
static int count_children(int pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[64], buf[512], *p;
		FILE *f;
		int ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p || !(p = strrchr(buf, ')')))
			continue;
		if (sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == pid)
			n++;
	}
	closedir(d);
	return n;
}

/* The server closed it: an attacker opens another a second later. */
static void reopen_later(struct conn *c, double t, int *reopened)
{
	close(c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
	c->next = t + 1;
	(*reopened)++;
}

static int open_from(struct in_addr src, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr = src;
	to.sin_port = htons((uint16_t)port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Probes: clients that only want their line echoed, one started each second, each
 * given --probe-timeout (several may be waiting at once). */
#define MAX_PROBES 16

struct probe {
	int fd; /* -1: free */
	double start;
	bool sent;
	bool during; /* started while the attack was on */
	size_t got;
};

struct tally {
	int ok, total;
	double worst_ms, sum_ms;
	int failed_during_attack, total_during_attack, ok_during_attack;
};

static const char PROBE_LINE[] = "probe\n";

static void probe_end(struct probe *p, struct tally *y, bool ok, double t)
{
	bool attacking = p->during;
	double ms = (t - p->start) * 1e3;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	y->total++;
	if (attacking)
		y->total_during_attack++;
	if (!ok) {
		if (attacking)
			y->failed_during_attack++;
		return;
	}
	y->ok++;
	if (attacking)
		y->ok_during_attack++;
	y->sum_ms += ms;
	if (ms > y->worst_ms)
		y->worst_ms = ms;
}

static void probe_step(struct probe *p, struct tally *y, const struct opts *o, double t)
{
	char buf[64];

	if (p->fd < 0)
		return;
	if (t - p->start > o->probe_timeout) {
		probe_end(p, y, false, t);
		return;
	}
	if (!p->sent) {
		ssize_t n = send(p->fd, PROBE_LINE, sizeof(PROBE_LINE) - 1, MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof(PROBE_LINE) - 1)
			p->sent = true;
		else if (n < 0 && errno != EAGAIN && errno != ENOTCONN)
			probe_end(p, y, false, t);
		return;
	}
	ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0) {
		p->got += (size_t)n;
		if (p->got >= sizeof(PROBE_LINE) - 1)
			probe_end(p, y, true, t);
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		probe_end(p, y, false, t);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: ssloris --port P --pid MASTER [--connections 2000] [--interval 3]\n"
	                "  [--attack 25] [--after 60] [--attack-source 127.0.0.2]\n"
	                "  [--probe-source 127.0.0.1] [--probe-timeout 5] [--max-workers N]\n"
	                "  [--rest N: stop waiting after the attack once the pool is down to N]\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"port", 1, 0, 'p'},          {"pid", 1, 0, 'P'},
	        {"connections", 1, 0, 'n'},   {"interval", 1, 0, 'i'},
	        {"attack", 1, 0, 'a'},        {"after", 1, 0, 'A'},
	        {"attack-source", 1, 0, 's'}, {"probe-source", 1, 0, 'S'},
	        {"probe-timeout", 1, 0, 't'}, {"max-workers", 1, 0, 'm'},
	        {"rest", 1, 0, 'r'},          {0, 0, 0, 0}};
	int c;

	*o = (struct opts){.connections = 2000,
	                   .interval = 3,
	                   .attack = 25,
	                   .after = 60,
	                   .probe_timeout = 5,
	                   .max_workers = -1,
	                   .rest = -1};
	inet_pton(AF_INET, "127.0.0.2", &o->attack_src);
	inet_pton(AF_INET, "127.0.0.1", &o->probe_src);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->port = atoi(optarg);
			break;
		case 'P':
			o->pid = atoi(optarg);
			break;
		case 'n':
			o->connections = atoi(optarg);
			break;
		case 'i':
			o->interval = atof(optarg);
			break;
		case 'a':
			o->attack = atof(optarg);
			break;
		case 'A':
			o->after = atof(optarg);
			break;
		case 't':
			o->probe_timeout = atof(optarg);
			break;
		case 'm':
			o->max_workers = atoi(optarg);
			break;
		case 'r':
			o->rest = atoi(optarg);
			break;
		case 's':
		case 'S':
			if (inet_pton(AF_INET, optarg, c == 's' ? &o->attack_src : &o->probe_src) !=
			            1 ||
			    (ntohl((c == 's' ? o->attack_src : o->probe_src).s_addr) >> 24) != 127)
				return -1; /* loopback only */
			break;
		default:
			return -1;
		}
	}
	if (o->port <= 0 || o->port > 65535 || o->pid <= 0 || o->connections < 1 ||
	    o->connections > MAX_CONNS || o->interval <= 0 || o->attack <= 0 || o->after < 0 ||
	    o->attack + o->after > 600 || o->probe_timeout <= 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct rlimit rl;
	struct conn *cs;
	struct probe pr[MAX_PROBES];
	struct tally y = {0};
	double t0, next_sample, t_max = -1, t_rest = -1, t_end_attack;
	int held_max = 0, reopened = 0, pool_max = 0;
	bool attacking = true;

	if (parse(argc, argv, &o) < 0) {
		usage();
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!(cs = calloc((size_t)o.connections, sizeof(*cs))))
		return 1;
	for (int i = 0; i < o.connections; i++)
		cs[i].fd = -1;
	for (int i = 0; i < MAX_PROBES; i++)
		pr[i].fd = -1;
	t0 = now_s();
	next_sample = t0;
	t_end_attack = t0 + o.attack;
	printf("# t_s pool held_by_attack probe (ok/total) worst_probe_ms\n");
	for (;;) {
		double t = now_s();
		int held = 0;

		if (attacking && t >= t_end_attack) {
			for (int i = 0; i < o.connections; i++)
				if (cs[i].fd >= 0)
					close(cs[i].fd);
			attacking = false;
			printf("# %.1f attack over: every attacking connection closed\n", t - t0);
		}
		if (!attacking && t >= t_end_attack + o.after)
			break;
		for (int i = 0; attacking && i < o.connections; i++) {
			struct conn *c = &cs[i];
			if (c->st == C_CLOSED && t >= c->next) {
				if ((c->fd = open_from(o.attack_src, o.port)) >= 0) {
					c->st = C_CONNECTING;
					c->next = t;
				} else {
					c->next = t + 1;
				}
			}
			if (c->st == C_CLOSED)
				continue;
			if (t >= c->next) {
				/* Connected or not yet, the byte tells: EAGAIN/ENOTCONN while the
				 * handshake is pending, an error once the server has closed. */
				ssize_t n = send(c->fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (n == 1) {
					c->st = C_OPEN;
					c->next = t + o.interval;
				} else if (errno == EAGAIN || errno == ENOTCONN) {
					c->next = t + 0.2;
				} else {
					reopen_later(c, t, &reopened);
				}
			}
			/* A close by the server (idle_timeout, max_duration, per_source) shows as
			 * readable: reopen a second later, as an attacker would. */
			if (c->st == C_OPEN) {
				char b[64];
				ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
				if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
					reopen_later(c, t, &reopened);
				} else {
					held++;
				}
			}
		}
		for (int i = 0; i < MAX_PROBES; i++)
			probe_step(&pr[i], &y, &o, t);
		if (t >= next_sample) {
			int pool = count_children(o.pid);
			if (pool > pool_max)
				pool_max = pool;
			if (held > held_max)
				held_max = held;
			if (t_max < 0 && o.max_workers > 0 && pool >= o.max_workers)
				t_max = t - t0;
			if (!attacking && t_rest < 0 && o.rest >= 0 && pool <= o.rest)
				t_rest = t - t_end_attack;
			printf("%.1f %d %d %d/%d %.0f\n", t - t0, pool, held, y.ok, y.total,
			       y.worst_ms);
			fflush(stdout);
			if (t_rest >= 0)
				break;
			for (int i = 0; i < MAX_PROBES; i++) {
				if (pr[i].fd >= 0)
					continue;
				pr[i] = (struct probe){.start = t,
				                       .during = attacking,
				                       .fd = open_from(o.probe_src, o.port)};
				if (pr[i].fd < 0)
					probe_end(&pr[i], &y, false, t);
				break;
			}
			next_sample += 1;
		}
		poll(NULL, 0, 20);
	}
	for (int i = 0; i < MAX_PROBES; i++)
		if (pr[i].fd >= 0)
			close(pr[i].fd);
	printf("connections=%d interval_s=%g attack_s=%g pool_max=%d t_max_workers_s=%.1f "
	       "held_max=%d reopened=%d probes_during_attack=%d probes_ok_during_attack=%d "
	       "probes_ok=%d probes=%d probe_mean_ms=%.0f probe_worst_ms=%.0f "
	       "t_back_to_rest_s=%.1f\n",
	       o.connections, o.interval, o.attack, pool_max, t_max, held_max, reopened,
	       y.total_during_attack, y.ok_during_attack, y.ok, y.total,
	       y.ok ? y.sum_ms / y.ok : -1.0, y.worst_ms, t_rest);
	free(cs);
	return 0;
}
