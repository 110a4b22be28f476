/*
 * The handler interface: the ABI between superserverd and the code that speaks a
 * service's protocol, whether built in or loaded from a shared object.
 *
 * A handler never touches the socket. It is told when a connection opens, when bytes
 * arrive and when buffered output has drained; it answers with ss_conn_write() (buffered,
 * never blocks) and ss_conn_end() (close once the output is flushed). The processing
 * model decides where and when the callbacks run; the same handler runs under all of them.
 *
 * Callbacks of one connection never run concurrently. Callbacks of different connections
 * may (threadpool), so state shared between connections must be thread-safe.
 *
 * ABI history:
 *   1.0  first version.
 *   1.1  `flags` at the end of struct ss_handler (SS_HANDLER_SILENT_CLIENTS). A 1.0
 *        module still loads: the fields it lacks read as zero.
 *   1.2  `datagram` at the end of struct ss_handler: answering datagrams on `udp:` and
 *        `unixgram:` listeners. A 1.0 or 1.1 module still loads and serves streams.
 *   1.3  ss_conn_relay(): a handler may hand its connection to the model's relay, which
 *        connects to a target and moves bytes both ways on its own (the `forward`
 *        built-in). No struct changes; a module that calls it needs a 1.3 daemon.
 *   1.4  ss_conn_tls_protocol(), _cipher(), _server_name(), _alpn(), _peer_subject():
 *        what a TLS connection negotiated (NULL on a plaintext one). No struct
 *        changes; a module that calls them needs a 1.4 daemon.
 */
#ifndef SUPERSERVERD_HANDLER_H
#define SUPERSERVERD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_HANDLER_ABI_MAJOR 1
#define SS_HANDLER_ABI_MINOR 4

/* The symbol a loadable module exports: `const struct ss_handler superserverd_handler`. */
#define SS_HANDLER_SYMBOL "superserverd_handler"

struct ss_conn; /* one client connection, owned by superserverd */
struct ss_args; /* the service's `args:` map from the configuration */

struct ss_handler {
	uint16_t abi_major;   /* SS_HANDLER_ABI_MAJOR the handler was built against */
	uint16_t abi_minor;   /* SS_HANDLER_ABI_MINOR the handler was built against */
	uint32_t struct_size; /* sizeof(struct ss_handler) the handler was built against */
	const char *name;

	/*
	 * Once per service process, after privileges are dropped. May store per-service
	 * state in *service_data_r (given to every connection through
	 * ss_conn_service_data()). On failure returns a negative errno and writes a
	 * message into err. Optional.
	 */
	int (*setup)(const struct ss_args *args, void **service_data_r, char *err, size_t errlen);
	/* Once when the service process stops. Optional. */
	void (*teardown)(void *service_data);

	/* A connection arrived. May write a greeting and may end it at once. Optional. */
	int (*open)(struct ss_conn *c);
	/* Bytes arrived from the peer. Optional: without it input is discarded. */
	int (*data)(struct ss_conn *c, const void *buf, size_t len);
	/*
	 * The output buffer drained below the low-water mark while the handler had asked
	 * for it with ss_conn_want_writable(). Optional.
	 */
	int (*writable)(struct ss_conn *c);
	/* The connection is gone (ended, peer closed, timeout or error). Exactly once. */
	void (*close)(struct ss_conn *c);

	/* SS_HANDLER_* flags below (ABI 1.1; 0 for a 1.0 module). */
	uint32_t flags;

	/*
	 * ABI 1.2. A datagram arrived on a datagram listener; there is no connection. The
	 * answer, if any, goes into REPLY, at most CAP bytes. CAP is already the
	 * amplification bound (by default the request's own length; see `limits:
	 * datagram_reply_max`), so the handler never decides how much it may send. Returns
	 * the answer's length (0 sends an empty datagram: echo's answer to an empty one),
	 * SS_DATAGRAM_NO_ANSWER to send nothing (counted as unanswered), -EMSGSIZE when the
	 * answer would not fit in CAP (the datagram is dropped and counted for its size),
	 * or another negative errno (counted as an error). Runs in the service process, one
	 * call at a time per thread.
	 * Optional: a handler without it cannot serve datagram listeners, which is an error
	 * when the service starts (for built-ins, when the configuration is loaded).
	 */
	ssize_t (*datagram)(void *service_data, const void *buf, size_t len,
	                    const struct sockaddr *peer, socklen_t peer_len, void *reply,
	                    size_t cap);
};

/*
 * The protocol's clients may rightly send nothing for as long as the connection lasts
 * (chargen: the client only reads), so silence on input is not idleness. The default
 * idle_timeout is then not applied; an idle_timeout the configuration gives still is.
 */
#define SS_HANDLER_SILENT_CLIENTS (1u << 0)

/* The datagram callback's "nothing to send": below every negative errno, so that no
 * error is taken for it. */
#define SS_DATAGRAM_NO_ANSWER ((ssize_t)-65536)
/* A negative return from open, data or writable is a handler error: the connection is
 * closed without flushing and the error is counted. */

#define SS_HANDLER_HEADER(handler_name)                                                            \
	.abi_major = SS_HANDLER_ABI_MAJOR, .abi_minor = SS_HANDLER_ABI_MINOR,                      \
	.struct_size = sizeof(struct ss_handler), .name = (handler_name)

/* Output buffered beyond this many bytes makes the driver stop reading from the peer. */
#define SS_CONN_HIGH_WATER (64 * 1024)
/* The writable callback runs once pending output is below this many bytes. */
#define SS_CONN_LOW_WATER (16 * 1024)

/*
 * Queue bytes for the peer. Returns 0, or -ENOBUFS when the connection already holds
 * far more output than any well-behaved handler produces (see SS_CONN_HIGH_WATER), or
 * -EPIPE once the connection has ended.
 */
int ss_conn_write(struct ss_conn *c, const void *buf, size_t len);
/* Close the connection once everything queued has been sent. */
void ss_conn_end(struct ss_conn *c);
/* Ask for (or stop asking for) the writable callback. */
void ss_conn_want_writable(struct ss_conn *c, int on);
/* Bytes queued and not yet sent. */
size_t ss_conn_pending(const struct ss_conn *c);

/*
 * ABI 1.3. From `open` only: hand the connection over to the processing model's relay.
 * Output already queued (the handler's, or the rest of a banner) reaches the client
 * first, once the target is connected. The relay connects to TARGET without blocking (giving up
 * after CONNECT_TIMEOUT_USEC), sends the LEN bytes of PREFIX to the target first (a
 * PROXY header, say; copied), then moves bytes both ways until both directions have
 * ended: an end of input on one side shuts down the other side's write half, reading
 * from a side stops while its peer cannot take more, and the model may splice(2)
 * between the sockets. A target that cannot be reached closes the client at once
 * (counted as an upstream failure in the service's statistics). The data and writable
 * callbacks are not called again; close is, once, at the end. Returns 0, -EINVAL (not
 * from open, after ss_conn_end, a bad address or a second call), -EOPNOTSUPP (a TLS
 * connection: not relayed yet) or -ENOMEM.
 */
int ss_conn_relay(struct ss_conn *c, const struct sockaddr *target, socklen_t target_len,
                  const void *prefix, size_t len, uint64_t connect_timeout_usec);

void *ss_conn_get_data(const struct ss_conn *c);
void ss_conn_set_data(struct ss_conn *c, void *data);
void *ss_conn_service_data(const struct ss_conn *c);

/* Peer and local address; *len is set to the address length (0 if unknown). */
const struct sockaddr *ss_conn_peer(const struct ss_conn *c, socklen_t *len);
const struct sockaddr *ss_conn_local(const struct ss_conn *c, socklen_t *len);

/*
 * ABI 1.4. On a connection that arrived on a `tls:` listener, what its handshake
 * negotiated; NULL on a plaintext connection, and for what was not negotiated. The
 * handler sees plaintext either way. The strings live as long as the connection.
 *   protocol:     "TLSv1.2", "TLSv1.3"
 *   cipher:       OpenSSL's name, e.g. "TLS_AES_128_GCM_SHA256"
 *   server_name:  the name the client asked for (SNI)
 *   alpn:         the ALPN protocol chosen
 *   peer_subject: the client certificate's subject in RFC 2253 form
 *                 ("CN=alice,O=Example", as mod_ssl's SSL_CLIENT_S_DN), only once the
 *                 certificate was verified
 */
const char *ss_conn_tls_protocol(const struct ss_conn *c);
const char *ss_conn_tls_cipher(const struct ss_conn *c);
const char *ss_conn_tls_server_name(const struct ss_conn *c);
const char *ss_conn_tls_alpn(const struct ss_conn *c);
const char *ss_conn_tls_peer_subject(const struct ss_conn *c);

/* A value of the service's `args:` map, or NULL. Nested values are not exposed. */
const char *ss_args_get(const struct ss_args *args, const char *key);
/* Number of entries and the i-th key, for handlers that take free-form arguments. */
size_t ss_args_count(const struct ss_args *args);
const char *ss_args_key(const struct ss_args *args, size_t i);

#ifdef __cplusplus
}
#endif
#endif
