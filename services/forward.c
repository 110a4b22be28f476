/*
 * forward: every connection is relayed to one target (xinetd's `redirect`,
 * systemd-socket-proxyd), optionally behind a PROXY header naming the real client. The
 * handler only decides where to and what to say first; moving the bytes is the
 * processing model's relay (ss_conn_relay).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/builtin_handlers.h"
#include "services/forward.h"
#include "superserverd/addr.h"
#include "superserverd/proxy.h"
#include "superserverd/units.h"

static int forward_target(const char *v, struct forward_conf *fc, char *err, size_t errlen)
{
	struct addr a;
	char why[256];

	if (addr_parse(v, &a, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "target: %s", why);
		return -EINVAL;
	}
	if (a.kind == ADDR_SYSTEMD || a.socktype != SOCK_STREAM) {
		snprintf(err, errlen,
		         "target '%s': a forward target is a stream address: HOST:PORT, [V6]:PORT "
		         "or unix:/path",
		         v);
		return -EINVAL;
	}
	if (a.kind == ADDR_INET && strncmp(v, "*:", 2) == 0) {
		snprintf(err, errlen,
		         "target '%s': '*' is for listening; name the target's address", v);
		return -EINVAL;
	}
	memcpy(&fc->target, &a.sa, a.salen);
	fc->target_len = a.salen;
	return 0;
}

int forward_parse_args(const struct ss_args *args, struct forward_conf *fc, const char **key_r,
                       char *err, size_t errlen)
{
	const char *v;

	*fc = (struct forward_conf){.connect_timeout_usec = FORWARD_CONNECT_TIMEOUT_DEFAULT};
	*key_r = NULL;
	for (size_t i = 0; i < ss_args_count(args); i++) {
		const char *k = ss_args_key(args, i);
		if (strcmp(k, "target") && strcmp(k, "connect_timeout") &&
		    strcmp(k, "proxy_protocol")) {
			*key_r = k;
			snprintf(err, errlen,
			         "unknown forward argument '%s' (expected target, connect_timeout "
			         "or "
			         "proxy_protocol)",
			         k);
			return -EINVAL;
		}
	}
	v = ss_args_get(args, "target");
	if (!v) {
		snprintf(err, errlen,
		         "forward needs args: {target: HOST:PORT} (or [V6]:PORT, unix:/path)");
		return -EINVAL;
	}
	*key_r = "target";
	if (forward_target(v, fc, err, errlen) < 0)
		return -EINVAL;
	v = ss_args_get(args, "connect_timeout");
	*key_r = "connect_timeout";
	if (v && (units_parse_duration(v, &fc->connect_timeout_usec) < 0 ||
	          fc->connect_timeout_usec == 0)) {
		snprintf(err, errlen,
		         "connect_timeout '%s': expected a duration above zero, e.g. 5s", v);
		return -EINVAL;
	}
	v = ss_args_get(args, "proxy_protocol");
	*key_r = "proxy_protocol";
	if (v && strcmp(v, "off") && strcmp(v, "v1") && strcmp(v, "v2")) {
		snprintf(err, errlen, "proxy_protocol '%s': expected off, v1 or v2", v);
		return -EINVAL;
	}
	fc->proxy_protocol = !v || !strcmp(v, "off") ? 0 : v[1] - '0';
	*key_r = NULL;
	return 0;
}

static int forward_setup(const struct ss_args *args, void **data_r, char *err, size_t errlen)
{
	struct forward_conf *fc = malloc(sizeof(*fc));
	const char *key;

	if (!fc)
		return -ENOMEM;
	if (forward_parse_args(args, fc, &key, err, errlen) < 0) {
		free(fc);
		return -EINVAL;
	}
	*data_r = fc;
	return 0;
}

static void forward_teardown(void *data)
{
	free(data);
}

static int forward_open(struct ss_conn *c)
{
	const struct forward_conf *fc = ss_conn_service_data(c);
	uint8_t hdr[PROXY_V1_MAX + PROXY_V2_FIXED + 36];
	int n = 0;

	if (fc->proxy_protocol) {
		socklen_t plen, llen;
		/* With a PROXY listener in front, these are the addresses its header named. */
		const struct sockaddr *peer = ss_conn_peer(c, &plen);
		const struct sockaddr *local = ss_conn_local(c, &llen);

		n = proxy_write(fc->proxy_protocol, peer, plen, local, llen, hdr, sizeof(hdr));
		if (n < 0)
			return -EINVAL;
	}
	return ss_conn_relay(c, (const struct sockaddr *)&fc->target, fc->target_len, hdr,
	                     (size_t)n, fc->connect_timeout_usec);
}

/* A forwarded client may rightly stay silent while the target talks; the relay counts
 * bytes either way as activity for an idle_timeout the configuration gives. */
const struct ss_handler builtin_forward = {
        SS_HANDLER_HEADER("forward"), .flags = SS_HANDLER_SILENT_CLIENTS,
        .setup = forward_setup,       .teardown = forward_teardown,
        .open = forward_open,
};
