/*
 * superctl against the real daemon: exit codes scripts rely on (0, 1 refused, 2 usage,
 * 3 unreachable), the status table, --json, the Prometheus exposition (checked by a
 * small parser of the text format below), blocking stop/start/drain, reload errors,
 * check compared with superserverd --check-config, and top drawn in a tmux pane.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_ctl.h"

#define OUT_CAP (256 * 1024)

struct run {
	int status;        /* exit code, or -1 if killed or timed out */
	char out[OUT_CAP]; /* stdout */
	char err[OUT_CAP]; /* stderr */
};

static const char *superctl_path(void)
{
	const char *p = getenv("SUPERCTL");
	return p ? p : "./superctl";
}

/* Runs argv (NULL-terminated) with its output captured; kills it at the deadline. */
static void run_argv(struct run *r, const char *const *argv, int timeout_ms)
{
	int out[2], err[2];
	size_t n_out = 0, n_err = 0;

	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	long long end = h_now_ms() + timeout_ms;
	struct pollfd p[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
	bool killed = false;
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		long long left = end - h_now_ms();
		if (left <= 0 && !killed) {
			kill(pid, SIGKILL);
			killed = true;
		}
		if (poll(p, 2, left > 0 ? (int)left : 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char *buf = i ? r->err : r->out;
			size_t *n = i ? &n_err : &n_out;
			ssize_t k = read(p[i].fd, buf + *n, OUT_CAP - 1 - *n);
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else {
				*n += (size_t)k;
			}
		}
	}
	r->out[n_out] = '\0';
	r->err[n_err] = '\0';
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = !killed && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* superctl with these arguments (up to 8, NULL-terminated), --socket first if given. */
static struct run *ctl(struct daemon *d, const char *socket, ...)
{
	static struct run r;
	const char *argv[16];
	int n = 0;
	va_list ap;

	argv[n++] = superctl_path();
	if (socket) {
		argv[n++] = "--socket";
		argv[n++] = socket;
	}
	va_start(ap, socket);
	for (const char *a; n < 14 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	/* Actions make the daemon write to its notify socket: keep that from filling. */
	if (d)
		h_notify_clear(d);
	memset(&r, 0, sizeof(r));
	run_argv(&r, argv, 60000);
	return &r;
}

#define CTL(d, ...)     ctl((d), (d)->control, __VA_ARGS__, (const char *)NULL)
#define CTL_NOSOCK(...) ctl(NULL, NULL, __VA_ARGS__, (const char *)NULL)

static bool echo_works(int port)
{
	char buf[16];
	return h_exchange("127.0.0.1", port, "ping\n", true, buf, sizeof(buf), 5000) == 5;
}

#define TWO_SERVICES                                                                               \
	"services:\n"                                                                              \
	"  echo: {listen: ['127.0.0.1:%d', '127.0.0.1:%d'], builtin: echo, mpm: prefork}\n"        \
	"  daytime: {listen: ['127.0.0.1:%d'], builtin: daytime}\n"

static int start_two(struct daemon *d, int *p_echo, int *p_day)
{
	*p_echo = h_free_port();
	*p_day = h_free_port();
	return h_start(d, TWO_SERVICES, *p_echo, h_free_port(), *p_day);
}

START_TEST(unreachable_and_usage)
{
	struct run *r;
	char dir[] = "/tmp/ss-ctl.XXXXXX", path[128];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* No socket file. */
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	r = ctl(NULL, path, "status", (const char *)NULL);
	ck_assert_int_eq(r->status, 3);
	ck_assert_msg(strstr(r->err, path) != NULL, "stderr does not name the socket: %s", r->err);
	/* A socket file nobody listens on. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	r = ctl(NULL, path, "stats", (const char *)NULL);
	ck_assert_int_eq(r->status, 3);
	ck_assert(strstr(r->err, path) != NULL);
	/* One that listens and never answers: the timeout, then 3. */
	snprintf(path, sizeof(path), "%s/mute.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	long long t0 = h_now_ms();
	r = ctl(NULL, path, "--timeout", "0.5", "status", (const char *)NULL);
	ck_assert_int_eq(r->status, 3);
	ck_assert_int_lt(h_now_ms() - t0, 10000);
	ck_assert(strstr(r->err, path) != NULL);
	close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	unlink(path);
	rmdir(dir);

	/* Usage errors come before any connection: 2, with or without a daemon. */
	ck_assert_int_eq(CTL_NOSOCK("bogus")->status, 2);
	ck_assert_int_eq(ctl(NULL, NULL, (const char *)NULL)->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("start")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("drain")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("status", "extra")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("reload", "extra")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("stats", "a", "b")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("--timeout", "soon", "status")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("--timeout", "-1", "status")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("--iterations", "0", "top")->status, 2);
	ck_assert_int_eq(CTL_NOSOCK("--no-such-option", "status")->status, 2);
	r = CTL_NOSOCK("--help");
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "Usage: superctl"));
	r = CTL_NOSOCK("--version");
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "superctl "));
}
END_TEST

/* n connections counted as completed and none left active (a process's `active`
 * can trail `completed` by a moment). */
static bool settled(struct daemon *d, const char *service, long long n)
{
	json_t *j = hc_call(d, "stats", service);
	json_t *svc = hc_service(j, service);
	bool done = hc_int(svc, "completed") == n && hc_int(svc, "active") == 0;
	json_decref(j);
	return done;
}

START_TEST(status_stats_json)
{
	struct daemon d = {0};
	int pe, pd;
	struct run *r;
	json_error_t jerr;

	ck_assert_int_eq(start_two(&d, &pe, &pd), 0);
	ck_assert(echo_works(pe));

	r = CTL(&d, "status");
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "SERVICE"));
	ck_assert_ptr_nonnull(strstr(r->out, "BUSY/IDLE"));
	ck_assert_ptr_nonnull(strstr(r->out, "\necho "));
	ck_assert_ptr_nonnull(strstr(r->out, "\ndaytime "));
	ck_assert_ptr_nonnull(strstr(r->out, "prefork"));
	ck_assert_ptr_nonnull(strstr(r->out, "running"));
	char first[64];
	snprintf(first, sizeof(first), "127.0.0.1:%d+1", pe); /* the first address and "+1" */
	ck_assert_msg(strstr(r->out, first) != NULL, "no %s in\n%s", first, r->out);
	ck_assert_msg(strchr(r->out, '\033') == NULL, "colour on a pipe");

	r = CTL(&d, "--json", "status");
	ck_assert_int_eq(r->status, 0);
	json_t *j = json_loads(r->out, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON (%s): %s", jerr.text, r->out);
	ck_assert(hc_ok(j));
	ck_assert_int_eq(json_array_size(json_object_get(j, "services")), 2);
	ck_assert_int_eq(hc_int(j, "pid"), d.pid);
	json_decref(j);

	/* The client may see the end before the daemon has counted it. */
	ck_assert(H_DEADLINE_WAIT(settled(&d, "echo", 1), 10000));
	r = CTL(&d, "stats", "echo");
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "echo (prefork, running"));
	ck_assert_ptr_nonnull(strstr(r->out, "accepted 1, completed 1"));
	ck_assert_ptr_nonnull(strstr(r->out, "bytes            in 5, out 5\n"));
	ck_assert_ptr_nonnull(strstr(r->out, "p50 "));
	ck_assert_ptr_nonnull(strstr(r->out, "histogram"));
	ck_assert_ptr_nonnull(strstr(r->out, "SLOT"));
	/* The default idle_timeout is shown, not left to be guessed. */
	ck_assert_ptr_nonnull(
	        strstr(r->out, "limits           idle_timeout 1m0s, max_duration none\n"));
	ck_assert(strstr(r->out, "daytime") == NULL);

	r = CTL(&d, "stats");
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "echo (prefork"));
	ck_assert_ptr_nonnull(strstr(r->out, "daytime (fork"));

	r = CTL(&d, "stats", "--json", "daytime");
	ck_assert_int_eq(r->status, 0);
	j = json_loads(r->out, 0, &jerr);
	ck_assert_msg(j != NULL, "not JSON (%s): %s", jerr.text, r->out);
	ck_assert_str_eq(hc_str(json_array_get(json_object_get(j, "services"), 0), "name"),
	                 "daytime");
	json_decref(j);

	r = CTL(&d, "version", "--json");
	ck_assert_int_eq(r->status, 0);
	j = json_loads(r->out, 0, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(hc_int(j, "pid"), d.pid);
	json_decref(j);

	/* Refused: 1, with the daemon's reason. */
	r = CTL(&d, "stats", "nosuch");
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "no-such-service"));
	ck_assert_str_eq(r->out, "");
	r = CTL(&d, "--json", "stop", "nosuch");
	ck_assert_int_eq(r->status, 1);
	j = json_loads(r->out, 0, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(hc_str(j, "code"), "no-such-service");
	json_decref(j);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* One echo exchange on an open connection. */
static bool echo_on(int fd)
{
	char c[2];
	return h_write_all(fd, "e\n", 2) == 0 && h_read_n(fd, c, 2, 5000) == 0;
}

static struct run start_result;

/* superctl start echo, in a thread, so the test can act while it waits. */
static void *start_echo(void *arg)
{
	struct daemon *d = arg;
	const char *argv[] = {superctl_path(), "--socket", d->control, "start", "echo", NULL};
	run_argv(&start_result, argv, 30000);
	return NULL;
}

START_TEST(actions_block_until_done)
{
	struct daemon d = {0};
	int pe, pd;
	struct run *r;

	ck_assert_int_eq(start_two(&d, &pe, &pd), 0);

	/* stop returns once the sockets are closed: no waiting on the test's side. */
	r = CTL(&d, "stop", "echo");
	ck_assert_msg(r->status == 0, "stop: %s", r->err);
	ck_assert_str_eq(r->out, "echo: stopped\n");
	ck_assert_int_lt(h_connect("127.0.0.1", pe), 0);
	r = CTL(&d, "drain", "echo");
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "not-running"));
	r = CTL(&d, "start", "echo");
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->out, "echo: running\n");
	ck_assert(echo_works(pe));

	/* drain returns once drained: a new client waits unanswered until resume. */
	r = CTL(&d, "drain", "echo");
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->out, "echo: drained\n");
	int fd = h_connect("127.0.0.1", pe);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_write_all(fd, "q\n", 2), 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 300), 0);
	r = CTL(&d, "resume", "echo");
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->out, "echo: running\n");
	char c[2];
	ck_assert_int_eq(h_read_n(fd, c, 2, 10000), 0);
	close(fd);

	r = CTL(&d, "restart", "daytime");
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->out, "daytime: running\n");
	r = CTL(&d, "resume", "daytime");
	ck_assert_int_eq(r->status, 0); /* running already: nothing to undo */

	/* --no-block: the intermediate state is fine, and then it gets there anyway. */
	r = CTL(&d, "--no-block", "stop", "daytime");
	ck_assert_int_eq(r->status, 0);
	ck_assert_msg(!strcmp(r->out, "daytime: stopping\n") ||
	                      !strcmp(r->out, "daytime: stopped\n"),
	              "%s", r->out);
	ck_assert(hc_wait_state(&d, "daytime", "stopped", 10000));
	/* start while stopping: the daemon says busy; superctl waits for the stop, then
	 * starts. A held connection keeps the service stopping as long as we like. */
	int held = h_connect("127.0.0.1", pe);
	ck_assert_int_ge(held, 0);
	ck_assert(echo_on(held));
	r = CTL(&d, "--no-block", "stop", "echo");
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->out, "echo: stopping\n");
	r = CTL(&d, "--timeout", "0.3", "start", "echo");
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "busy"));
	int asked = h_count_in_file(d.log, "start echo requested");
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, start_echo, &d), 0);
	ck_assert(H_DEADLINE_WAIT(h_count_in_file(d.log, "start echo requested") > asked, 10000));
	ck_assert(hc_wait_state(&d, "echo", "stopping", 10000));
	close(held);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(start_result.status == 0, "start: %s", start_result.err);
	ck_assert_str_eq(start_result.out, "echo: running\n");
	/* Once refused, once started: the waiting in between asked only for the status. */
	ck_assert_int_eq(h_count_in_file(d.log, "start echo requested"), asked + 2);
	r = CTL(&d, "--json", "start", "daytime");
	ck_assert_int_eq(r->status, 0);
	json_t *j = json_loads(r->out, 0, NULL);
	ck_assert_str_eq(hc_str(j, "state"), "running");
	json_decref(j);
	ck_assert(echo_works(pe));

	/* reload: ok, then a broken file: 1 and every FILE:LINE:COL on stderr. */
	r = CTL(&d, "reload");
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->out, "reloaded\n");
	ck_assert_str_eq(r->err, "");
	/* A file that loads with a warning: reloaded, and the warning on stderr. */
	if (geteuid() == 0) {
		ck_assert_int_eq(h_write_config(&d,
		                                TWO_SERVICES
		                                "  rootprog: {listen: ['127.0.0.1:%d'], "
		                                "exec: [/bin/true], user: root}\n",
		                                pe, h_free_port(), pd, h_free_port()),
		                 0);
		r = CTL(&d, "reload");
		ck_assert_int_eq(r->status, 0);
		ck_assert_str_eq(r->out, "reloaded\n");
		ck_assert_msg(
		        strstr(r->err, "warning: service 'rootprog' runs its program as root") !=
		                NULL,
		        "no warning in: %s", r->err);
	}
	d.allowed_errors[0] = "superserverd.yaml:";
	d.allowed_errors[1] = "reload failed";
	ck_assert_int_eq(h_write_config(&d, TWO_SERVICES "  bad: {listen: [x], builtin: no}\n", pe,
	                                h_free_port(), pd),
	                 0);
	r = CTL(&d, "reload");
	ck_assert_int_eq(r->status, 1);
	char where[160];
	snprintf(where, sizeof(where), "%s:5:", d.config);
	ck_assert_msg(strstr(r->err, where) != NULL, "no %s in: %s", where, r->err);
	ck_assert_ptr_nonnull(strstr(r->err, "reload-failed"));
	ck_assert(echo_works(pe));
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* The Prometheus text format (0.0.4), as much of it as superctl may produce. -------- */

static bool metric_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

struct family {
	char name[128], type[16];
	bool help, closed; /* closed: its samples are over; more would be an error */
};

struct sample {
	char name[128];
	char service[128], le[32];
	double value;
};

/* Parses `name{l="v",...} value`; returns NULL or a message. */
static const char *parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n = strcspn(p, "{ ");

	memset(s, 0, sizeof(*s));
	if (!metric_name_ok(p, n) || n >= sizeof(s->name))
		return "bad metric name";
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = strcspn(p, "=");
			if (ln == 0 || !(isalpha((unsigned char)p[0]) || p[0] == '_'))
				return "bad label name";
			for (size_t i = 1; i < ln; i++)
				if (!(isalnum((unsigned char)p[i]) || p[i] == '_'))
					return "bad label name";
			char lname[64] = "", value[256] = "";
			if (ln >= sizeof(lname))
				return "label name too long";
			memcpy(lname, p, ln);
			p += ln + 1;
			if (*p++ != '"')
				return "label value not quoted";
			size_t vn = 0;
			while (*p != '"') {
				if (!*p || *p == '\n')
					return "unterminated label value";
				if (*p == '\\') {
					p++;
					if (*p != '\\' && *p != '"' && *p != 'n')
						return "bad escape in a label value";
				}
				if (vn + 1 < sizeof(value))
					value[vn++] = *p;
				p++;
			}
			p++;
			if (!strcmp(lname, "service"))
				snprintf(s->service, sizeof(s->service), "%s", value);
			if (!strcmp(lname, "le"))
				snprintf(s->le, sizeof(s->le), "%s", value);
			if (*p == ',')
				p++;
			else if (*p != '}')
				return "expected , or } after a label";
		}
		p++;
	}
	if (*p++ != ' ')
		return "expected one space before the value";
	char *end;
	s->value = strtod(p, &end);
	if (end == p || (*end && *end != ' '))
		return "bad value";
	if (!s->service[0])
		return "no service label";
	return NULL;
}

/* The family a sample belongs to: itself, or a histogram's name without its suffix. */
static struct family *family_of(struct family *fams, int n, const char *sample)
{
	for (int i = 0; i < n; i++) {
		size_t len = strlen(fams[i].name);
		if (!strcmp(fams[i].name, sample))
			return &fams[i];
		if (!strcmp(fams[i].type, "histogram") && !strncmp(fams[i].name, sample, len) &&
		    (!strcmp(sample + len, "_bucket") || !strcmp(sample + len, "_sum") ||
		     !strcmp(sample + len, "_count")))
			return &fams[i];
	}
	return NULL;
}

/* Stops the check with a message naming what is wrong. */
#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(err, errlen, __VA_ARGS__);                                        \
			free(copy);                                                                \
			return false;                                                              \
		}                                                                                  \
	} while (0)

/* Checks a whole exposition; false with the line at fault in err. */
static bool check_exposition(const char *text, int *n_families, int *n_samples, char *err,
                             size_t errlen)
{
	enum { MAXF = 64 };
	static struct family fams[MAXF];
	struct family *current = NULL;
	char *copy = strdup(text), *save = NULL;
	int nf = 0, ns = 0, lineno = 0;
	/* Histogram state for the service being read. */
	double last_le = -INFINITY, last_count = -1, inf_count = -1;
	char hist_service[128] = "";

	EXPECT(copy != NULL, "out of memory");
	EXPECT(text[0] && text[strlen(text) - 1] == '\n', "must end with a newline");
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
			bool help = line[2] == 'H';
			char *name = line + 7;
			size_t n = strcspn(name, " ");
			EXPECT(metric_name_ok(name, n) && name[n] == ' ',
			       "line %d: bad %s line: %s", lineno, help ? "HELP" : "TYPE", line);
			name[n] = '\0';
			struct family *f = NULL;
			for (int i = 0; i < nf; i++)
				if (!strcmp(fams[i].name, name))
					f = &fams[i];
			if (!f) {
				EXPECT(nf < MAXF, "too many families");
				f = &fams[nf++];
				memset(f, 0, sizeof(*f));
				snprintf(f->name, sizeof(f->name), "%s", name);
			}
			EXPECT(!f->closed, "line %d: %s announced after its samples", lineno, name);
			if (current && current != f)
				current->closed = true;
			current = f;
			if (help) {
				EXPECT(!f->help, "line %d: second HELP for %s", lineno, name);
				f->help = true;
			} else {
				const char *type = name + n + 1;
				EXPECT(!f->type[0], "line %d: second TYPE for %s", lineno, name);
				EXPECT(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
				               !strcmp(type, "histogram"),
				       "line %d: type %s", lineno, type);
				snprintf(f->type, sizeof(f->type), "%s", type);
				if (!strcmp(type, "counter"))
					EXPECT(n > 6 && !strcmp(name + n - 6, "_total"),
					       "line %d: counter %s without _total", lineno, name);
			}
			continue;
		}
		EXPECT(line[0] != '#', "line %d: unknown comment: %s", lineno, line);
		EXPECT(line[0] != '\0', "line %d: empty line", lineno);
		struct sample s;
		const char *why = parse_sample(line, &s);
		EXPECT(why == NULL, "line %d: %s: %s", lineno, why, line);
		struct family *f = family_of(fams, nf, s.name);
		EXPECT(f != NULL, "line %d: %s has no HELP/TYPE before it", lineno, s.name);
		EXPECT(f->help && f->type[0], "line %d: %s lacks HELP or TYPE", lineno, f->name);
		EXPECT(f == current && !f->closed, "line %d: %s's samples are not in one group",
		       lineno, f->name);
		EXPECT(strncmp(s.name, "superserverd_", 13) == 0, "line %d: prefix", lineno);
		ns++;
		if (strcmp(f->type, "histogram") != 0)
			continue;
		size_t len = strlen(f->name);
		const char *suffix = s.name + len;
		if (!strcmp(suffix, "_bucket")) {
			if (strcmp(hist_service, s.service) != 0) {
				EXPECT(hist_service[0] == '\0' || inf_count < 0 ||
				               last_le == INFINITY,
				       "line %d: buckets of %s did not end with +Inf", lineno,
				       hist_service);
				snprintf(hist_service, sizeof(hist_service), "%s", s.service);
				last_le = -INFINITY;
				last_count = -1;
				inf_count = -1;
			}
			EXPECT(s.le[0], "line %d: a bucket without le", lineno);
			double le = !strcmp(s.le, "+Inf") ? INFINITY : strtod(s.le, NULL);
			EXPECT(le > last_le, "line %d: le not increasing", lineno);
			EXPECT(s.value >= last_count, "line %d: buckets not cumulative", lineno);
			last_le = le;
			last_count = s.value;
			if (le == INFINITY)
				inf_count = s.value;
		} else if (!strcmp(suffix, "_count")) {
			EXPECT(!strcmp(hist_service, s.service) && last_le == INFINITY,
			       "line %d: _count before the +Inf bucket", lineno);
			EXPECT(s.value == inf_count, "line %d: _count %g != the +Inf bucket %g",
			       lineno, s.value, inf_count);
		} else {
			EXPECT(s.value >= 0, "line %d: negative _sum", lineno);
		}
	}
	for (int i = 0; i < nf; i++)
		EXPECT(fams[i].help && fams[i].type[0], "%s lacks HELP or TYPE", fams[i].name);
	free(copy);
	*n_families = nf;
	*n_samples = ns;
	return true;
}

#undef EXPECT

/* The checker must catch what it is there to catch. */
static bool exposition_rejected(const char *text)
{
	char err[256];
	int nf, ns;
	return !check_exposition(text, &nf, &ns, err, sizeof(err));
}

START_TEST(metrics_exposition)
{
	struct daemon d = {0};
	int pe, pd, nf, ns;
	struct run *r;
	char buf[64], err[512];

	ck_assert(exposition_rejected("superserverd_up{service=\"a\"} 1\n"));
	ck_assert(exposition_rejected("# HELP superserverd_x_total x\n# TYPE superserverd_x_total "
	                              "counter\nsuperserverd_x_total{service=\"a\"} one\n"));
	ck_assert(exposition_rejected("# HELP superserverd_x x\n# TYPE superserverd_x counter\n"
	                              "superserverd_x{service=\"a\"} 1\n"));
	ck_assert(exposition_rejected(
	        "# HELP superserverd_h h\n# TYPE superserverd_h histogram\n"
	        "superserverd_h_bucket{service=\"a\",le=\"1\"} 2\n"
	        "superserverd_h_bucket{service=\"a\",le=\"+Inf\"} 1\n"
	        "superserverd_h_sum{service=\"a\"} 1\nsuperserverd_h_count{service=\"a\"} 1\n"));
	ck_assert(!exposition_rejected("# HELP superserverd_h h\n# TYPE superserverd_h histogram\n"
	                               "superserverd_h_bucket{service=\"a\\\"b\",le=\"1\"} 1\n"
	                               "superserverd_h_bucket{service=\"a\\\"b\",le=\"+Inf\"} 2\n"
	                               "superserverd_h_sum{service=\"a\\\"b\"} 1.5\n"
	                               "superserverd_h_count{service=\"a\\\"b\"} 2\n"));

	ck_assert_int_eq(start_two(&d, &pe, &pd), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(echo_works(pe));
	ck_assert_int_eq(h_exchange("127.0.0.1", pd, NULL, false, buf, sizeof(buf), 5000), 26);
	/* Wait until the daemon has counted what the clients saw end. */
	ck_assert(H_DEADLINE_WAIT(settled(&d, "echo", 3), 10000));
	r = CTL(&d, "metrics");
	ck_assert_int_eq(r->status, 0);
	ck_assert_msg(check_exposition(r->out, &nf, &ns, err, sizeof(err)), "%s", err);
	ck_assert_int_ge(nf, 15);
	static const char *const expected[] = {
	        "superserverd_up{service=\"echo\"} 1\n",
	        "superserverd_up{service=\"daytime\"} 1\n",
	        "superserverd_connections_accepted_total{service=\"echo\"} 3\n",
	        "superserverd_connections_completed_total{service=\"echo\"} 3\n",
	        "superserverd_bytes_received_total{service=\"echo\"} 15\n",
	        "superserverd_bytes_sent_total{service=\"echo\"} 15\n",
	        "superserverd_connections_rejected_total{service=\"echo\",reason=\"rate\"} 0\n",
	        "superserverd_connections_active{service=\"echo\"} 0\n",
	        "superserverd_handler_errors_total{service=\"echo\"} 0\n",
	        "superserverd_timeouts_total{service=\"echo\"} 0\n",
	        "superserverd_process_restarts_total{service=\"echo\"} 0\n",
	        "superserverd_process_crashes_total{service=\"echo\"} 0\n",
	        "superserverd_processes{service=\"echo\",state=\"idle\"} ",
	        "superserverd_listen_queue_depth{service=\"daytime\",address=\"127.0.0.1:",
	        "superserverd_connection_duration_seconds_bucket{service=\"echo\",le=\"+Inf\"} 3\n",
	        "superserverd_connection_duration_seconds_count{service=\"echo\"} 3\n",
	        "superserverd_connection_duration_seconds_bucket{service=\"echo\",le=\"0.0001\"} ",
	        "superserverd_connection_duration_seconds_sum{service=\"echo\"} ",
	        "# TYPE superserverd_connection_duration_seconds histogram\n",
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		ck_assert_msg(strstr(r->out, expected[i]) != NULL, "missing: %s", expected[i]);

	/* A stopped service is down, and still described. */
	ck_assert_int_eq(CTL(&d, "stop", "daytime")->status, 0);
	r = CTL(&d, "metrics");
	ck_assert_int_eq(r->status, 0);
	ck_assert_msg(check_exposition(r->out, &nf, &ns, err, sizeof(err)), "%s", err);
	ck_assert_ptr_nonnull(strstr(r->out, "superserverd_up{service=\"daytime\"} 0\n"));

	r = CTL(&d, "metrics", "--json");
	ck_assert_int_eq(r->status, 0);
	json_t *j = json_loads(r->out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(check_matches_check_config)
{
	char dir[] = "/tmp/ss-ctl.XXXXXX", good[128], bad[128];
	static struct run a, b;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(good, sizeof(good), "%s/good.yaml", dir);
	snprintf(bad, sizeof(bad), "%s/bad.yaml", dir);
	write_file(good, "defaults: {user: nobody}\nservices:\n"
	                 "  e: {listen: ['127.0.0.1:7'], builtin: echo}\n"
	                 "  d: {listen: ['127.0.0.1:13'], builtin: daytime}\n");
	write_file(bad, "defaults: {user: nobody}\nservices:\n"
	                "  e: {listen: ['127.0.0.1:7'], builtin: echo, bogus: 1}\n"
	                "  d: {listen: [nowhere], builtin: nosuch}\n");
	const char *files[] = {good, bad};
	for (int i = 0; i < 2; i++) {
		const char *ca[] = {superctl_path(), "check", files[i], NULL};
		const char *da[] = {h_binary(), "--check-config", "-c", files[i], NULL};
		run_argv(&a, ca, 30000);
		run_argv(&b, da, 30000);
		ck_assert_int_eq(a.status, i == 0 ? 0 : 1);
		ck_assert_int_eq(a.status, b.status);
		ck_assert_str_eq(a.out, b.out);
		ck_assert_str_eq(a.err, b.err);
	}
	ck_assert_ptr_nonnull(strstr(b.err, "bad.yaml:3:"));
	ck_assert_ptr_nonnull(strstr(b.err, "bad.yaml:4:"));
	ck_assert_ptr_nonnull(strstr(a.err, "errors"));
	const char *ca[] = {superctl_path(), "check", good, NULL};
	run_argv(&a, ca, 30000);
	ck_assert_ptr_nonnull(strstr(a.out, "configuration OK (2 services)"));
	/* No daemon is needed, nor asked: a bogus --socket changes nothing. */
	const char *cs[] = {superctl_path(), "--socket", "/nonexistent", "check", good, NULL};
	run_argv(&a, cs, 30000);
	ck_assert_int_eq(a.status, 0);
	unlink(good);
	unlink(bad);
	rmdir(dir);
}
END_TEST

START_TEST(top_in_scripts)
{
	struct daemon d = {0};
	int pe, pd;

	ck_assert_int_eq(start_two(&d, &pe, &pd), 0);
	struct run *r = CTL(&d, "top", "--iterations", "2");
	ck_assert_int_eq(r->status, 0);
	/* Two frames, each with its header and both services. */
	char *second = strstr(r->out, "SERVICE");
	ck_assert_ptr_nonnull(second);
	second = strstr(second + 1, "SERVICE");
	ck_assert_ptr_nonnull(second);
	ck_assert_ptr_nonnull(strstr(second, "\necho "));
	ck_assert_ptr_nonnull(strstr(second, "\ndaytime "));
	ck_assert_ptr_nonnull(strstr(second, "CONN/S"));
	ck_assert(strchr(r->out, '\033') == NULL);

	/* --json: one status answer per line, each service with its rate from the 2nd on. */
	r = CTL(&d, "top", "--json", "-n", "2");
	ck_assert_int_eq(r->status, 0);
	char *nl = strchr(r->out, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_str_eq(nl + 1 + strcspn(nl + 1, "\n"), "\n");
	json_t *first = json_loadb(r->out, (size_t)(nl - r->out), 0, NULL);
	json_t *last = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_nonnull(last);
	ck_assert(json_is_null(json_object_get(hc_service(first, "echo"), "conn_per_sec")));
	ck_assert(json_is_real(json_object_get(hc_service(last, "echo"), "conn_per_sec")));
	ck_assert(json_is_real(json_object_get(hc_service(last, "daytime"), "conn_per_sec")));
	json_decref(first);
	json_decref(last);
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

/* tmux, driven through its command line with a private server socket. ------------- */

static const char *find_tmux(void)
{
	static const char *const dirs[] = {"/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (access(dirs[i], X_OK) == 0)
			return dirs[i];
	return NULL;
}

/* tmux -S sock -f /dev/null ARGS... (NULL-terminated) */
static struct run *tmux_v(const char *sock, ...)
{
	static struct run r;
	const char *argv[16] = {find_tmux(), "-S", sock, "-f", "/dev/null"};
	int n = 5;
	va_list ap;

	va_start(ap, sock);
	for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	memset(&r, 0, sizeof(r));
	run_argv(&r, argv, 10000);
	return &r;
}
#define tmux(sock, ...) tmux_v((sock), __VA_ARGS__, (const char *)NULL)

START_TEST(top_in_tmux)
{
	struct daemon d = {0};
	int pe, pd;
	char sock[160], cmd[512], rc_path[160];

	if (!find_tmux()) {
		fprintf(stderr, "SKIP: tmux is not installed (apt-get install tmux)\n");
		return;
	}
	ck_assert_int_eq(start_two(&d, &pe, &pd), 0);
	snprintf(sock, sizeof(sock), "%s/tmux.sock", d.dir);
	/* TERM for the pane's programs; the server needs none of the test's terminal. */
	setenv("TERM", "xterm-256color", 0);
	unsetenv("NO_COLOR");
	unsetenv("TMUX");
	/* The shell keeps superctl's exit status: tmux's #{pane_dead_status} is not
	 * reliable (a pane can be marked dead at the pty's end, before the status). */
	snprintf(rc_path, sizeof(rc_path), "%s/top.rc", d.dir);
	snprintf(cmd, sizeof(cmd), "%s --socket %s top; echo $? > %s", superctl_path(), d.control,
	         rc_path);
	struct run *r = tmux(sock, "new-session", "-d", "-x", "120", "-y", "30");
	ck_assert_msg(r->status == 0, "tmux new-session: %s", r->err);
	r = tmux(sock, "set-option", "-g", "remain-on-exit", "on");
	ck_assert_int_eq(r->status, 0);
	r = tmux(sock, "new-window", "-d", "-n", "top", cmd);
	ck_assert_msg(r->status == 0, "tmux new-window: %s", r->err);

	/* The frame shows both services, the state in colour. */
	bool drawn =
	        H_DEADLINE_WAIT(({
		                        r = tmux(sock, "capture-pane", "-p", "-e", "-t", ":top");
		                        strstr(r->out, "echo ") && strstr(r->out, "daytime ") &&
		                                strstr(r->out, "CONN/S");
	                        }),
	                        10000);
	ck_assert_msg(drawn, "top never drew its table:\n%s", r->out);
	ck_assert_msg(strstr(r->out, "\033[32mrunning") != NULL, "no green state:\n%s", r->out);
	/* A second frame, with rates. */
	ck_assert(H_DEADLINE_WAIT(({
		                          r = tmux(sock, "capture-pane", "-p", "-t", ":top");
		                          strstr(r->out, "conn/s 0.0") != NULL;
	                          }),
	                          10000));

	r = tmux(sock, "send-keys", "-t", ":top", "q");
	ck_assert_int_eq(r->status, 0);
	char rc[16] = "";
	bool gone = H_DEADLINE_WAIT(({
		                            FILE *f = fopen(rc_path, "re");
		                            if (f) {
			                            if (!fgets(rc, sizeof(rc), f))
				                            rc[0] = '\0';
			                            fclose(f);
		                            }
		                            strchr(rc, '\n') != NULL;
	                            }),
	                            10000);
	ck_assert_msg(gone, "top did not quit on q");
	ck_assert_str_eq(rc, "0\n");
	ck_assert(H_DEADLINE_WAIT(({
		                          r = tmux(sock, "list-panes", "-t", ":top", "-F",
		                                   "#{pane_dead}");
		                          !strcmp(r->out, "1\n");
	                          }),
	                          10000));
	/* The screen is given back: the alternate screen is gone with the table. */
	r = tmux(sock, "capture-pane", "-p", "-t", ":top");
	ck_assert_msg(strstr(r->out, "CONN/S") == NULL, "the table is still there:\n%s", r->out);
	tmux(sock, "kill-server");
	ck_assert_int_eq(h_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("superctl");
	TCase *tc = tcase_create("superctl");
	tcase_add_test(tc, unreachable_and_usage);
	tcase_add_test(tc, status_stats_json);
	tcase_add_test(tc, actions_block_until_done);
	tcase_add_test(tc, metrics_exposition);
	tcase_add_test(tc, check_matches_check_config);
	tcase_add_test(tc, top_in_scripts);
	tcase_add_test(tc, top_in_tmux);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
