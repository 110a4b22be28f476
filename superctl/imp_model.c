/* The importer's model of services: constructors, destructors and small list helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "superctl/imp_model.h"

int imp_strv_push(struct imp_strv *sv, const char *s)
{
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 8;
		char **v = realloc(sv->v, cap * sizeof(*v));
		if (!v)
			return -1;
		sv->v = v;
		sv->cap = cap;
	}
	char *c = strdup(s);
	if (!c)
		return -1;
	sv->v[sv->n++] = c;
	return 0;
}

int imp_strv_pushf(struct imp_strv *sv, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return imp_strv_push(sv, buf);
}

bool imp_strv_has(const struct imp_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

bool imp_strv_has_nocase(const struct imp_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcasecmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void imp_strv_remove(struct imp_strv *sv, const char *s)
{
	size_t j = 0;
	for (size_t i = 0; i < sv->n; i++) {
		if (strcmp(sv->v[i], s) == 0)
			free(sv->v[i]);
		else
			sv->v[j++] = sv->v[i];
	}
	sv->n = j;
}

void imp_strv_remove_at(struct imp_strv *sv, size_t i)
{
	if (i >= sv->n)
		return;
	free(sv->v[i]);
	memmove(sv->v + i, sv->v + i + 1, (sv->n - i - 1) * sizeof(sv->v[0]));
	sv->n--;
}

void imp_strv_clear(struct imp_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	*sv = (struct imp_strv){0};
}

int imp_strv_copy(struct imp_strv *dst, const struct imp_strv *src)
{
	imp_strv_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		if (imp_strv_push(dst, src->v[i]) < 0)
			return -1;
	return 0;
}

int imp_set_str(char **dst, const char *src)
{
	char *c = NULL;
	if (src && !(c = strdup(src)))
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

struct imp_svc *imp_svc_new(const char *name, const char *file, int line)
{
	struct imp_svc *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->umask = -1;
	s->mpm = "fork";
	s->line = line;
	if (imp_set_str(&s->name, name) < 0 || imp_set_str(&s->file, file) < 0) {
		imp_svc_free(s);
		return NULL;
	}
	return s;
}

static void free_kv(struct imp_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void imp_svc_free(struct imp_svc *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->file);
	imp_strv_clear(&s->comments);
	for (size_t i = 0; i < s->n_listen; i++) {
		free(s->listen[i].address);
		free(s->listen[i].comment);
		free(s->listen[i].receive_buffer);
		free(s->listen[i].send_buffer);
	}
	free(s->listen);
	imp_strv_clear(&s->exec);
	free(s->builtin);
	free(s->forward_target);
	free(s->forward_comment);
	free(s->user);
	free(s->group);
	imp_strv_clear(&s->groups);
	imp_strv_clear(&s->capabilities);
	free(s->capabilities_comment);
	free_kv(s->env, s->n_env);
	imp_strv_clear(&s->pass_env);
	free_kv(s->rlimits, s->n_rlimits);
	free(s->rate);
	free(s->rate_comment);
	imp_strv_clear(&s->allow);
	imp_strv_clear(&s->deny);
	imp_strv_clear(&s->allow_comments);
	imp_strv_clear(&s->deny_comments);
	free(s->banner);
	free(s->banner_success);
	free(s->banner_fail);
	free(s);
}

struct imp_listen *imp_svc_add_listen(struct imp_svc *s, const char *address, const char *comment)
{
	struct imp_listen *l = realloc(s->listen, (s->n_listen + 1) * sizeof(*l));
	if (!l)
		return NULL;
	s->listen = l;
	l = &s->listen[s->n_listen];
	*l = (struct imp_listen){0};
	if (imp_set_str(&l->address, address) < 0 || imp_set_str(&l->comment, comment) < 0) {
		free(l->address);
		return NULL;
	}
	s->n_listen++;
	return l;
}

int imp_svc_set_kv(struct imp_kv **kv, size_t *n, const char *key, const char *value)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*kv)[i].key, key) == 0)
			return imp_set_str(&(*kv)[i].value, value);
	struct imp_kv *v = realloc(*kv, (*n + 1) * sizeof(*v));
	if (!v)
		return -1;
	*kv = v;
	v[*n] = (struct imp_kv){0};
	if (imp_set_str(&v[*n].key, key) < 0 || imp_set_str(&v[*n].value, value) < 0) {
		free(v[*n].key);
		return -1;
	}
	(*n)++;
	return 0;
}

int imp_set_add(struct imp_set *set, struct imp_svc *s)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct imp_svc **v = realloc(set->svc, cap * sizeof(*v));
		if (!v) {
			imp_svc_free(s);
			return -1;
		}
		set->svc = v;
		set->cap = cap;
	}
	set->svc[set->n++] = s;
	return 0;
}

struct imp_svc *imp_set_find(const struct imp_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->svc[i]->name, name) == 0)
			return set->svc[i];
	return NULL;
}

void imp_set_free(struct imp_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		imp_svc_free(set->svc[i]);
	free(set->svc);
	*set = (struct imp_set){0};
}
