/*
 * Service names in listening addresses ("0.0.0.0:rsync", "udp:[::]:tftp"): looked up in
 * the services file for the socket's protocol. The file is read on the first name of a
 * load and kept until the load ends, so a reload sees an edited file.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "superserverd/config_int.h"
#include "superserverd/svcnames.h"

void config_names_free(struct loader *l)
{
	svcnames_free(l->svcnames);
	l->svcnames = NULL;
}

int config_port_lookup(void *loader, const char *name, int socktype, unsigned *port_r, char *err,
                       size_t errlen)
{
	struct loader *l = loader;
	const char *proto = socktype == SOCK_DGRAM ? "udp" : "tcp";
	const char *other = socktype == SOCK_DGRAM ? "tcp" : "udp";

	if (!l->svcnames && !l->svcnames_err)
		l->svcnames_err = svcnames_load(l->services_path, &l->svcnames);
	if (l->svcnames_err) {
		snprintf(err, errlen, "cannot read %s to look up the service name '%s': %s",
		         l->services_path, name, strerror(-l->svcnames_err));
		return -1;
	}
	switch (svcnames_lookup(l->svcnames, name, proto, port_r)) {
	case SVCNAMES_FOUND:
		return 0;
	case SVCNAMES_OTHER_PROTO:
		snprintf(err, errlen, "%s knows the service '%s' only for %s, not %s",
		         l->services_path, name, other, proto);
		return -1;
	case SVCNAMES_UNKNOWN:
		break;
	}
	snprintf(err, errlen, "unknown service name '%s' (not in %s)", name, l->services_path);
	return -1;
}
