/*
 * The capability checks of the loader: a service may keep only capabilities the
 * daemon holds (else every process of it would fail its privilege drop at run time),
 * and a program run as root with no capabilities at all is probably a mistake.
 */
#include <unistd.h>

#include "superserverd/config_int.h"
#include "superserverd/privs.h"

/* Judged against the process doing the load: the daemon itself at start and on reload;
 * --check-config and `superctl check` against the limits they run under (a shell has
 * the full bounding set; the unit's ExecReload= has the unit's). A process judging
 * for a root daemon without being root can only see the bounding set. */
static void check_held(struct loader *l, const struct service_conf *sc, const struct svc_part *caps)
{
	bool permitted = geteuid() == 0;

	for (int c = 0; c < 64; c++) {
		const char *why;
		char name[64];

		if (!(sc->capabilities & (1ULL << c)) || !(why = privs_cap_missing(c, permitted)))
			continue;
		privs_cap_name(c, name, sizeof(name));
		diag_error(l->diag, &caps->f_caps.pos,
		           "service '%s': capability %s is %s, so no process of the service "
		           "could keep it: remove it from capabilities:, or let "
		           "superserverd hold it (under systemd: add it to CapabilityBoundingSet= "
		           "in a drop-in for superserverd.service)",
		           sc->name, name, why);
	}
}

void config_caps_check(struct loader *l, const struct service_conf *sc, const struct svc_part *caps,
                       const struct svc_part *user)
{
	if (caps && caps->f_caps.st == FIELD_SET)
		check_held(l, sc, caps);
	/* What an inetd migrant writes for sshd or an ftpd: root, but without the
	 * capabilities that make root useful to such a program (changing user, chroot). */
	if (sc->kind == HANDLER_EXEC && sc->uid == 0 && !(caps && caps->f_caps.st == FIELD_SET) &&
	    user && user->f_user.st == FIELD_SET)
		diag_warning(l->diag, &user->f_user.pos,
		             "service '%s' runs its program as root with no capabilities: it "
		             "cannot change user or group, chroot or override file permissions as "
		             "a root program such as sshd or an ftp server expects; list what it "
		             "needs (e.g. capabilities: [CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT]), "
		             "or write capabilities: [] if it needs none",
		             sc->name);
}
