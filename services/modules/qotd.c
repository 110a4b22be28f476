/*
 * qotd: Quote of the Day (RFC 865) as a loadable handler module, and the template for
 * writing one. On connect the client gets one quote, picked at random, and the
 * connection closes; anything the client sends is ignored.
 *
 *   module: {path: /usr/lib/x86_64-linux-gnu/superserverd/modules/qotd.so,
 *            args: {file: /etc/superserverd/quotes.txt}}
 *
 * The quotes file is either in fortune(6) format (quotes separated by lines holding
 * only "%") or, when no such line exists, one quote per line. Blank lines at the start
 * and end of a quote are dropped, as are empty quotes. Lines go out with CRLF endings.
 * RFC 865 asks for at most 512 characters: a longer quote is cut after its last line
 * that fits (a single line longer than that is cut at 510 bytes, on a UTF-8 character
 * boundary, plus CRLF).
 *
 * Build out of tree:
 *   cc -shared -fPIC -O2 $(pkg-config --cflags superserverd-handler) -o qotd.so qotd.c
 */
#define _DEFAULT_SOURCE /* arc4random_uniform (glibc 2.36) under -std=c11 too */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <superserverd/handler.h>

#define QOTD_MAX      512                /* RFC 865: bytes per quote, CRLFs included */
#define QOTD_FILE_MAX (16 * 1024 * 1024) /* far beyond any fortune file */

struct quote {
	char *text; /* CRLF line endings, not NUL-terminated */
	size_t len;
};

/* Per service process, built once in setup and only read afterwards: connections on
 * several threads (threadpool) may share it without locks. */
struct qotd {
	struct quote *quotes;
	size_t n, cap;
};

/* One quote being assembled, line by line, within the RFC 865 limit. */
struct builder {
	char text[QOTD_MAX];
	size_t len;
	unsigned blank; /* blank lines held back: kept only when text follows them */
	bool full;
};

static void builder_append(struct builder *b, const char *s, size_t n)
{
	if (b->full)
		return;
	if (b->len + n + 2 > QOTD_MAX) {
		b->full = true;
		if (b->len > 0)
			return; /* cut at the line boundary */
		/* One line longer than the limit: cut it, but not inside a UTF-8 sequence. */
		n = QOTD_MAX - 2;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(b->text + b->len, s, n);
	memcpy(b->text + b->len + n, "\r\n", 2);
	b->len += n + 2;
}

static void builder_line(struct builder *b, const char *line, size_t n)
{
	if (n == 0) {
		if (b->len > 0)
			b->blank++;
		return;
	}
	for (; b->blank > 0; b->blank--)
		builder_append(b, "", 0);
	builder_append(b, line, n);
}

/* Stores the assembled quote, if any, and starts the next. */
static int builder_finish(struct builder *b, struct qotd *q)
{
	struct quote *grown;
	char *text;

	if (b->len == 0)
		return 0;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		grown = realloc(q->quotes, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		q->quotes = grown;
		q->cap = cap;
	}
	text = malloc(b->len);
	if (!text)
		return -ENOMEM;
	memcpy(text, b->text, b->len);
	q->quotes[q->n++] = (struct quote){.text = text, .len = b->len};
	*b = (struct builder){0};
	return 0;
}

/* The next line of [*p, end) without "\n" or "\r\n"; false at the end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*n = (size_t)((nl ? nl : end) - *p);
	*p = nl ? nl + 1 : end;
	if (*n > 0 && (*line)[*n - 1] == '\r')
		(*n)--;
	return true;
}

static bool is_separator(const char *line, size_t n)
{
	return n == 1 && line[0] == '%';
}

static int parse_quotes(struct qotd *q, const char *buf, size_t len)
{
	const char *p, *end = buf + len, *line;
	struct builder b = {0};
	bool fortune = false;
	size_t n;
	int r;

	for (p = buf; !fortune && next_line(&p, end, &line, &n);)
		fortune = is_separator(line, n);
	for (p = buf; next_line(&p, end, &line, &n);) {
		if (fortune && is_separator(line, n)) {
			r = builder_finish(&b, q);
		} else {
			builder_line(&b, line, n);
			r = fortune ? 0 : builder_finish(&b, q);
		}
		if (r < 0)
			return r;
	}
	return builder_finish(&b, q);
}

static int read_file(const char *path, char **buf_r, size_t *len_r, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL, *grown;
	size_t len = 0, cap = 0, got;
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s%s", path, strerror(-r),
		         r == -EACCES ? " (the service's user must be able to read it)" : "");
		return r;
	}
	for (;;) {
		if (len == cap) {
			if (cap > QOTD_FILE_MAX) {
				snprintf(err, errlen, "%s is larger than %d MiB", path,
				         QOTD_FILE_MAX >> 20);
				r = -EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			grown = realloc(buf, cap);
			if (!grown) {
				snprintf(err, errlen, "%s: out of memory", path);
				r = -ENOMEM;
				break;
			}
			buf = grown;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				r = -EIO;
				snprintf(err, errlen, "cannot read %s", path);
			}
			break;
		}
	}
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	*buf_r = buf;
	*len_r = len;
	return 0;
}

static void qotd_teardown(void *service_data)
{
	struct qotd *q = service_data;

	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->quotes[i].text);
	free(q->quotes);
	free(q);
}

/* Runs once per service process, after the privilege drop: the file is read with the
 * service's identity, and a mistake here stops the service with this message. */
static int qotd_setup(const struct ss_args *args, void **service_data_r, char *err, size_t errlen)
{
	const char *file = ss_args_get(args, "file");
	struct qotd *q;
	char *buf = NULL;
	size_t len = 0;
	int r;

	/* A misspelt argument is a mistake worth stopping for, not a silent default. */
	for (size_t i = 0; i < ss_args_count(args); i++) {
		if (strcmp(ss_args_key(args, i), "file") != 0) {
			snprintf(err, errlen, "unknown argument '%s' (qotd takes: file)",
			         ss_args_key(args, i));
			return -EINVAL;
		}
	}
	if (!file) {
		snprintf(err, errlen, "qotd needs the quotes file: args: {file: /path/to/quotes}");
		return -EINVAL;
	}
	r = read_file(file, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	q = calloc(1, sizeof(*q));
	if (!q) {
		free(buf);
		return -ENOMEM;
	}
	r = parse_quotes(q, buf, len);
	free(buf);
	if (r == 0 && q->n == 0) {
		snprintf(err, errlen, "%s holds no quotes", file);
		r = -ENODATA;
	}
	if (r < 0) {
		qotd_teardown(q);
		return r;
	}
	*service_data_r = q;
	return 0;
}

static int qotd_open(struct ss_conn *c)
{
	const struct qotd *q = ss_conn_service_data(c);
	/* arc4random is thread-safe and fork-safe: no seed to share between threads, and
	 * under the fork model no state copied into every connection's process. */
	const struct quote *pick = &q->quotes[arc4random_uniform((uint32_t)q->n)];
	int r = ss_conn_write(c, pick->text, pick->len);

	if (r < 0)
		return r;
	/* Closes once the quote is flushed; the driver never blocks on our behalf. */
	ss_conn_end(c);
	return 0;
}

/* The one symbol superserverd looks for. No data callback: input is discarded. */
const struct ss_handler superserverd_handler = {
        SS_HANDLER_HEADER("qotd"),
        .setup = qotd_setup,
        .teardown = qotd_teardown,
        .open = qotd_open,
};
