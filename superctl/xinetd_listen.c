/*
 * xinetd's socket attributes: type (INTERNAL, UNLISTED; RPC and TCPMUX left out),
 * socket_type, protocol and wait, which decide the model; then the port (checked
 * against the services file as xinetd checks it), bind or interface, and flags, which
 * make the listen addresses.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "superctl/xinetd_map_int.h"

/* type: INTERNAL, UNLISTED; RPC and TCPMUX are not served. 0, or 1 to skip. */
int xi_map_type(struct xi_job *j)
{
	const struct xi_val *t = xi_val_of(j, XA_TYPE);
	for (size_t i = 0; t && i < t->v.n; i++) {
		const char *w = t->v.v[i];
		if (strcasecmp(w, "INTERNAL") == 0)
			j->internal = true;
		else if (strcasecmp(w, "UNLISTED") == 0)
			continue;
		else if (strcasecmp(w, "RPC") == 0) {
			xi_say(j, XA_TYPE, IMP_DROPPED,
			       "type RPC: superserverd serves no Sun RPC services (no portmapper "
			       "registration): not imported");
			return 1;
		} else if (strcasecmp(w, "TCPMUX") == 0 || strcasecmp(w, "TCPMUXPLUS") == 0) {
			xi_say(j, XA_TYPE, IMP_DROPPED,
			       "type %s: superserverd has no TCPMUX (RFC 1078) dispatcher: not "
			       "imported; "
			       "give the service a port of its own",
			       w);
			return 1;
		} else {
			xi_say(j, XA_TYPE, IMP_ERROR,
			       "unknown type '%s' (INTERNAL, UNLISTED, RPC, "
			       "TCPMUX, TCPMUXPLUS): not imported",
			       w);
			return 1;
		}
	}
	if (j->internal && xi_val_of(j, XA_SERVER))
		xi_say(j, XA_SERVER, IMP_NOTE, "type INTERNAL: server is not used");
	return 0;
}

/* socket_type, protocol, wait. 0, or 1 to skip. */
int xi_map_socket(struct xi_job *j)
{
	const char *st = xi_one(j, XA_SOCKET_TYPE), *proto = xi_one(j, XA_PROTOCOL),
	           *w = xi_one(j, XA_WAIT);
	if (!st) {
		if (!xi_val_of(j, XA_SOCKET_TYPE))
			xi_say(j, XA_SOCKET_TYPE, IMP_ERROR,
			       "socket_type is missing: not imported");
		return 1;
	}
	if (strcasecmp(st, "raw") == 0 || strcasecmp(st, "seqpacket") == 0) {
		xi_say(j, XA_SOCKET_TYPE, IMP_DROPPED,
		       "socket_type %s: superserverd serves stream and datagram sockets only: not "
		       "imported",
		       st);
		return 1;
	}
	if (strcasecmp(st, "stream") != 0 && strcasecmp(st, "dgram") != 0) {
		xi_say(j, XA_SOCKET_TYPE, IMP_ERROR,
		       "unknown socket_type '%s' (stream, dgram): not "
		       "imported",
		       st);
		return 1;
	}
	j->dgram = strcasecmp(st, "dgram") == 0;
	const char *want = j->dgram ? "udp" : "tcp";
	if (xi_val_of(j, XA_PROTOCOL) && (!proto || strcmp(proto, want) != 0)) {
		if (proto)
			xi_say(j, XA_PROTOCOL,
			       proto && (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0)
			               ? IMP_ERROR
			               : IMP_DROPPED,
			       "protocol %s with socket_type %s: superserverd serves %s only here: "
			       "not "
			       "imported",
			       proto, st, want);
		return 1;
	}
	if (!w) {
		if (!xi_val_of(j, XA_WAIT))
			xi_say(j, XA_WAIT, IMP_ERROR, "wait is missing (yes or no): not imported");
		return 1;
	}
	if (strcasecmp(w, "yes") != 0 && strcasecmp(w, "no") != 0) {
		xi_say(j, XA_WAIT, IMP_ERROR, "wait takes yes or no, not '%s': not imported", w);
		return 1;
	}
	j->wait = strcasecmp(w, "yes") == 0;
	return 0;
}

/* flags: what each one becomes. 0, or 1 to skip the service. */
static int map_flags(struct xi_job *j, bool *v4, bool *v6, bool *nodelay, bool *keepalive,
                     bool *nameinargs)
{
	const struct xi_val *f = xi_val_of(j, XA_FLAGS);
	for (size_t i = 0; f && i < f->v.n; i++) {
		const char *w = f->v.v[i];
		if (strcasecmp(w, "IPv4") == 0)
			*v4 = true;
		else if (strcasecmp(w, "IPv6") == 0)
			*v6 = true;
		else if (strcasecmp(w, "NODELAY") == 0)
			*nodelay = true;
		else if (strcasecmp(w, "KEEPALIVE") == 0)
			*keepalive = true;
		else if (strcasecmp(w, "NAMEINARGS") == 0)
			*nameinargs = true;
		else if (strcasecmp(w, "REUSE") == 0 || strcasecmp(w, "NOLIBWRAP") == 0 ||
		         strcasecmp(w, "DISABLE") == 0)
			continue; /* REUSE is always on; no libwrap either way */
		else if (strcasecmp(w, "SENSOR") == 0) {
			xi_say(j, XA_FLAGS, IMP_DROPPED,
			       "flags SENSOR: superserverd has no sensor that bans the addresses "
			       "that "
			       "touch a port (use a packet filter, e.g. nftables sets with a "
			       "timeout): "
			       "not imported");
			return 1;
		} else if (strcasecmp(w, "INTERCEPT") == 0 || strcasecmp(w, "IDONLY") == 0 ||
		           strcasecmp(w, "LABELED") == 0) {
			xi_say(j, XA_FLAGS, IMP_DROPPED, "flags %s: no equivalent, left out%s", w,
			       strcasecmp(w, "IDONLY") == 0 ? " (no RFC 1413 lookups)" : "");
		} else if (strcasecmp(w, "NORETRY") == 0) {
			xi_say(j, XA_FLAGS, IMP_NOTE,
			       "flags NORETRY: superserverd never retries a "
			       "failed fork for a client; it backs off a failing "
			       "service");
		} else {
			xi_say(j, XA_FLAGS, IMP_ERROR, "unknown flag '%s': left out", w);
		}
	}
	return 0;
}

/* port from the port attribute or the services file; bind; flags: the listen list. */
int xi_map_listen(struct xi_job *j)
{
	bool v4 = false, v6 = false, nodelay = false, keepalive = false, nia = false;
	const char *proto = j->dgram ? "udp" : "tcp";
	char comment[160];
	int port = -1;

	if (map_flags(j, &v4, &v6, &nodelay, &keepalive, &nia))
		return 1;
	/* xinetd looks the name up with getservbyname, which knows names, not numbers. */
	bool digits = strspn(j->x->name, "0123456789") == strlen(j->x->name);
	int listed = digits ? -1 : imp_service_port(j->c->services, j->x->name, proto);
	bool unlisted = xi_has_word(xi_val_of(j, XA_TYPE), "UNLISTED");
	const char *ps = xi_one(j, XA_PORT);
	if (xi_val_of(j, XA_PORT) && !ps)
		return 1;
	if (ps) {
		long p;
		if (!xi_number(ps, 1, 65535, &p)) {
			xi_say(j, XA_PORT, IMP_ERROR,
			       "port must be 1..65535, not '%s': not imported", ps);
			return 1;
		}
		port = (int)p;
	}
	if (unlisted && port < 0) {
		xi_say(j, XA_TYPE, IMP_ERROR,
		       "type UNLISTED without a port: xinetd refuses it (an unlisted service must "
		       "have a port entry): not imported; add port = N");
		return 1;
	}
	if (!unlisted && listed < 0) {
		xi_say(j, XA_PORT, IMP_ERROR,
		       "'%s' is not a %s service of the services file and the service is not "
		       "UNLISTED: xinetd refuses it (service/protocol combination not in "
		       "/etc/services): not imported; add type = UNLISTED%s",
		       j->x->name, proto, ps ? "" : " and a port");
		return 1;
	}
	if (!unlisted && port > 0 && port != listed) {
		xi_say(j, XA_PORT, IMP_ERROR,
		       "port %d is not the port of %s/%s in the services file (%d) and the service "
		       "is not UNLISTED: xinetd refuses it (expects port %d, not %d): not "
		       "imported; "
		       "write port = %d, or add type = UNLISTED to keep port %d",
		       port, j->x->name, proto, listed, listed, port, listed, port);
		return 1;
	}
	if (port < 0)
		port = listed;
	imp_port_comment(j->c->services, port, proto, comment, sizeof(comment));

	/* xinetd_eval keeps at most one of the two names, the first. */
	enum xi_attr_id bind_attr = xi_val_of(j, XA_INTERFACE) ? XA_INTERFACE : XA_BIND;
	const char *bind = xi_one(j, bind_attr);
	if (xi_val_of(j, bind_attr) && !bind)
		return 1;
	const char *hosts[2] = {NULL, NULL};
	char numeric[64];
	if (bind) {
		const char *why;
		if (imp_resolve_host(bind, numeric, sizeof(numeric), &why) < 0) {
			xi_say(j, bind_attr, IMP_ERROR,
			       "%s %s: cannot resolve it (%s): not imported",
			       xi_attr_name(bind_attr), bind, why);
			return 1;
		}
		if (strcmp(numeric, bind) != 0)
			xi_say(j, bind_attr, IMP_NOTE, "%s %s is %s here: the address is written",
			       xi_attr_name(bind_attr), bind, numeric);
		hosts[0] = numeric;
	} else if (v6) {
		const char *v6only = xi_one(j, XA_V6ONLY);
		hosts[0] = "::";
		/* xinetd's IPv6 socket also takes IPv4 clients unless v6only = yes. */
		if (!v6only || strcasecmp(v6only, "yes") != 0)
			hosts[1] = "0.0.0.0";
	}
	for (int i = 0; i < 2; i++) {
		if (i == 1 && !hosts[1])
			break;
		struct imp_listen *l = imp_add_ip_listen(j->s, j->dgram, hosts[i], port, comment);
		if (!l)
			return -1;
		if (!j->dgram) {
			l->nodelay = nodelay;
			l->keepalive = keepalive;
		}
	}
	if (j->dgram && (nodelay || keepalive))
		xi_say(j, XA_FLAGS, IMP_NOTE,
		       "flags NODELAY and KEEPALIVE mean nothing on a "
		       "datagram socket (xinetd ignored them too)");
	return nia ? 2 : 0;
}
