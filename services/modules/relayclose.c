/*
 * Test module (not installed): relays every connection to 127.0.0.1 on the port in
 * its `port` argument, and its close callback appends a line to the file named by
 * `mark`, so the tests see that a relayed connection's close callback runs, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <superserverd/handler.h>

struct relayclose {
	struct sockaddr_in to;
	char mark[256];
};

static int relayclose_setup(const struct ss_args *args, void **data, char *err, size_t errlen)
{
	const char *port = ss_args_get(args, "port"), *mark = ss_args_get(args, "mark");
	struct relayclose *s;

	if (!port || !mark || strlen(mark) >= sizeof(s->mark)) {
		snprintf(err, errlen, "args port and mark (a path) are required");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->to.sin_family = AF_INET;
	s->to.sin_port = htons((uint16_t)atoi(port));
	s->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	strcpy(s->mark, mark);
	*data = s;
	return 0;
}

static void relayclose_teardown(void *data)
{
	free(data);
}

static int relayclose_open(struct ss_conn *c)
{
	const struct relayclose *s = ss_conn_service_data(c);

	return ss_conn_relay(c, (const struct sockaddr *)&s->to, sizeof(s->to), NULL, 0,
	                     5 * 1000 * 1000);
}

static void relayclose_close(struct ss_conn *c)
{
	const struct relayclose *s = ss_conn_service_data(c);
	int fd = open(s->mark, O_WRONLY | O_APPEND | O_CLOEXEC);

	if (fd >= 0) {
		(void)!write(fd, "closed\n", 7);
		(void)close(fd);
	}
}

const struct ss_handler superserverd_handler = {
        SS_HANDLER_HEADER("relayclose"), .setup = relayclose_setup, .teardown = relayclose_teardown,
        .open = relayclose_open,         .close = relayclose_close,
};
