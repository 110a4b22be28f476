/*
 * The `forward` built-in's arguments (target, connect_timeout, proxy_protocol): parsed
 * the same way when the configuration is loaded, where a mistake names its key, and in
 * the service process.
 */
#ifndef SUPERSERVERD_FORWARD_H
#define SUPERSERVERD_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "services/handler.h"

#define FORWARD_CONNECT_TIMEOUT_DEFAULT (5u * 1000u * 1000u)

struct forward_conf {
	struct sockaddr_storage target;
	socklen_t target_len;
	uint64_t connect_timeout_usec;
	int proxy_protocol; /* 0 (off), 1 or 2 */
};

/* Returns 0, or -EINVAL with a message in ERR and the key at fault in *KEY_R (NULL when
 * a required key is missing). */
int forward_parse_args(const struct ss_args *args, struct forward_conf *fc, const char **key_r,
                       char *err, size_t errlen);

#endif
