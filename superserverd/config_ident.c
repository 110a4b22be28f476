/*
 * User and group lookups for the configuration loader: "name" or a numeric id, each
 * asked of NSS once per load. A configuration may name one user or group in every
 * service, or (through aliases) a list of groups many times over: each NSS lookup
 * reads /etc/passwd or /etc/group again, so repeating them would cost the load seconds.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "superserverd/config_int.h"
#include "superserverd/units.h"

struct ident {
	bool group;
	char *text; /* as written */
	int err;    /* 0 found; -1 not found; else the errno of the lookup */
	char *name;
	uint32_t id, gid;
};

static int ident_cmp(const void *a, const void *b)
{
	const struct ident *x = a, *y = b;
	return x->group != y->group ? (int)x->group - (int)y->group : strcmp(x->text, y->text);
}

static void ident_free(void *p)
{
	struct ident *i = p;

	free(i->text);
	free(i->name);
	free(i);
}

void config_ident_free(struct loader *l)
{
	tdestroy(l->idents, ident_free);
	l->idents = NULL;
}

static bool not_found(int err)
{
	/* getpwnam(3) reports "no such entry" in several ways depending on the NSS module. */
	return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

static void ask_nss(struct ident *i)
{
	uint64_t id;
	bool numeric = units_parse_uint(i->text, UINT32_MAX - 1, &id) == 0;

	errno = 0;
	if (i->group) {
		struct group *gr = numeric ? getgrgid((gid_t)id) : getgrnam(i->text);
		if (gr && !(i->name = strdup(gr->gr_name)))
			i->err = ENOMEM;
		else if (gr)
			i->gid = i->id = gr->gr_gid;
		else
			i->err = not_found(errno) ? -1 : errno;
	} else {
		struct passwd *pw = numeric ? getpwuid((uid_t)id) : getpwnam(i->text);
		if (pw && !(i->name = strdup(pw->pw_name)))
			i->err = ENOMEM;
		else if (pw)
			i->id = pw->pw_uid, i->gid = pw->pw_gid;
		else
			i->err = not_found(errno) ? -1 : errno;
	}
}

/* The answer for TEXT, from the cache or NSS; NULL without memory. */
static const struct ident *lookup(struct loader *l, bool group, const char *text)
{
	struct ident key = {.group = group, .text = (char *)text}, *i, **slot;

	slot = tfind(&key, &l->idents, ident_cmp);
	if (slot)
		return *slot;
	if (!(i = calloc(1, sizeof(*i))) || !(i->text = strdup(text))) {
		free(i);
		return NULL;
	}
	i->group = group;
	ask_nss(i);
	if (!tsearch(i, &l->idents, ident_cmp)) {
		ident_free(i);
		return NULL;
	}
	return i;
}

static const struct ident *lookup_node(struct loader *l, struct ydoc *yd, yaml_node_t *v,
                                       const char *path, bool group)
{
	const char *s = ystring(yd, v, path, l->diag), *what = group ? "group" : "user";
	const struct ident *i;

	if (!s)
		return NULL;
	i = lookup(l, group, s);
	if (!i || i->err == ENOMEM)
		yerror(l->diag, yd, v, path, "out of memory");
	else if (i->err < 0)
		yerror(l->diag, yd, v, path, "unknown %s '%s'", what, s);
	else if (i->err)
		yerror(l->diag, yd, v, path, "cannot look up %s '%s': %s", what, s,
		       strerror(i->err));
	return i && !i->err ? i : NULL;
}

int config_lookup_user(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                       char **name_r, uid_t *uid_r, gid_t *gid_r)
{
	const struct ident *i = lookup_node(l, yd, v, path, false);

	if (!i)
		return -1;
	if (!(*name_r = strdup(i->name))) {
		yerror(l->diag, yd, v, path, "out of memory");
		return -1;
	}
	*uid_r = i->id;
	*gid_r = i->gid;
	return 0;
}

int config_lookup_group(struct loader *l, struct ydoc *yd, yaml_node_t *v, const char *path,
                        char **name_r, gid_t *gid_r)
{
	const struct ident *i = lookup_node(l, yd, v, path, true);

	if (!i)
		return -1;
	if (name_r && !(*name_r = strdup(i->name))) {
		yerror(l->diag, yd, v, path, "out of memory");
		return -1;
	}
	*gid_r = i->gid;
	return 0;
}

char *config_group_name(struct loader *l, gid_t gid)
{
	char text[16];
	const struct ident *i;

	snprintf(text, sizeof(text), "%u", (unsigned)gid);
	i = lookup(l, true, text);
	if (i && !i->err)
		return strdup(i->name);
	return i && i->err == ENOMEM ? NULL : strdup(text); /* no name: the number */
}
