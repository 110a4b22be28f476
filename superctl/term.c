/* The terminal for `superctl top` (see term.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "superctl/term.h"

#define ALT_SCREEN_ON  "\033[?1049h\033[?25l"
#define ALT_SCREEN_OFF "\033[?25h\033[?1049l"

/* Handlers only note what happened; term_wait acts on it (outside the handler). */
static volatile sig_atomic_t got_quit, got_winch, got_tstp;
static struct termios saved;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_quit = 1;
}

static int write_str(const char *s)
{
	size_t len = strlen(s), off = 0;
	while (off < len) {
		ssize_t n = write(STDOUT_FILENO, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

static int enter(struct term *t)
{
	if (t->in_tty && !t->raw) {
		struct termios raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
			return -errno;
		t->raw = true;
	}
	if (t->out_tty && !t->screen) {
		fflush(stdout);
		if (write_str(ALT_SCREEN_ON) < 0)
			return -errno;
		t->screen = true;
	}
	return 0;
}

static void leave(struct term *t)
{
	if (t->screen) {
		fflush(stdout);
		(void)write_str(ALT_SCREEN_OFF);
		t->screen = false;
	}
	if (t->raw) {
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		t->raw = false;
	}
}

int term_open(struct term *t, bool fullscreen)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP};
	struct sigaction sa;

	memset(t, 0, sizeof(*t));
	t->in_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	t->out_tty = fullscreen && isatty(STDOUT_FILENO);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must cut the wait short. */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	return enter(t);
}

void term_close(struct term *t)
{
	leave(t);
}

/* Ctrl-Z: give the terminal back, stop for real, take it again on SIGCONT. */
static void suspend(struct term *t)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, mine = {.sa_handler = on_signal};
	sigset_t set;

	leave(t);
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&mine.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	if (sigaction(SIGTSTP, &dfl, NULL) == 0) {
		(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
		(void)raise(SIGTSTP); /* returns once continued */
		(void)sigaction(SIGTSTP, &mine, NULL);
	}
	(void)enter(t);
}

enum term_event term_wait(struct term *t, int timeout_ms)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

	for (;;) {
		if (got_quit)
			return TERM_QUIT;
		if (got_tstp) {
			got_tstp = 0;
			suspend(t);
			return TERM_REDRAW;
		}
		if (got_winch) {
			got_winch = 0;
			return TERM_REDRAW;
		}
		/* Without a terminal on stdin there are no keys to read: only time and
		 * signals end the wait (stdin may be /dev/null or a closed pipe). */
		int n = poll(&p, t->in_tty ? 1 : 0, timeout_ms);
		if (n == 0)
			return TERM_TIMEOUT;
		if (n < 0) {
			if (errno == EINTR)
				continue; /* the flags say why */
			return TERM_QUIT;
		}
		char keys[64];
		ssize_t k = read(STDIN_FILENO, keys, sizeof(keys));
		if (k <= 0) /* the terminal is gone (hang-up) */
			return k < 0 && errno == EINTR ? TERM_REDRAW : TERM_QUIT;
		for (ssize_t i = 0; i < k; i++)
			if (keys[i] == 'q' || keys[i] == 'Q')
				return TERM_QUIT;
		/* Any other key: draw now rather than wait out the second. */
		return TERM_REDRAW;
	}
}

void term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = *cols = 0;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}
