/*
 * The image a built-in's connection process is forked with. Under the fork model,
 * fork + exit is most of what a connection costs, and both scale with the number of
 * mappings and the anonymous pages in them. The daemon maps a dozen libraries, half
 * of them only because libsystemd links them for features the journal sender never
 * uses; a connection process runs the handler, the driver, the scoreboard, libc and at
 * most the journal sender and jansson. Leaving the others out of the child
 * (MADV_DONTFORK) made a built-in echo connection ~20% cheaper (tests/bench).
 *
 * What makes it safe: the child runs only our code, which the linker bound at start
 * (-z now), libsystemd (bound at start too) and libc and jansson, which bind lazily. A
 * lazy binding walks the global scope in order until the symbol is found, reading each
 * object's hash table; so a library is left out only if every kept library comes
 * before it. CMakeLists.txt links the kept ones first to make that so. And only when
 * the kept ones are exactly those: anything else loaded at start (a sanitizer runtime,
 * an LD_PRELOAD) may bind lazily, walk the list of objects (a sanitizer's report does)
 * or otherwise reach a left-out library, so then nothing is left out. Atfork handlers
 * are the other way a left-out library's code could run in the child: the caller
 * forks with _Fork(), which runs none (libsystemd's, which resets its cached pid, is
 * not needed: the journal sender does not use it).
 *
 * What a built-in's connection process must therefore not do: dlopen (directly, or
 * through NSS modules, iconv or backtrace()), walk the loaded objects (dladdr,
 * dl_iterate_phdr), or exit() instead of _exit(). The built-ins, the driver, the
 * scoreboard, the connection records and the log do none of these.
 */
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "superserverd/image.h"
#include "superserverd/log.h"

#define IMAGE_MAX_OBJECTS 128

/* The objects in the lookup scope a built-in's connection process uses, by name prefix
 * (the main program has an empty name); anything else loaded at start turns the trim
 * off. */
static const char *const kept[] = {
        "libc.so.", "ld-linux", "ld64.so.", "libsystemd.so.", "libjansson.so.",
};

/* Libraries a built-in's connection process never calls, by soname prefix. */
static const char *const leave_out[] = {
        "libyaml-0.so.", /* configuration: parsed by the master */
        "libcap.so.",    /* privileges: dropped before the acceptor runs */
        "libgcrypt.so.",
        "libgpg-error.so.",
        "liblzma.so.",
        "libzstd.so.",
        "liblz4.so.",
        /* TLS (mpm/tls_conn.c): called only for a connection with c->tls, which a
         * built-in's connection process of the fork model does not have yet. When the
         * fork model terminates TLS there, a TLS service's children must keep these
         * two (both bind at load: leaving them in is safe). */
        "libssl.so.",
        "libcrypto.so.",
};

static int start_objects = -1;

struct object {
	const char *name;
	ElfW(Addr) base;
	const ElfW(Phdr) * phdr;
	ElfW(Half) phnum;
	bool candidate;
	bool in_scope; /* loaded at start, so in the global lookup scope */
};

struct scan {
	size_t n;
	bool overflow;
	struct object obj[IMAGE_MAX_OBJECTS];
};

static int count_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(*(int *)data)++;
	return 0;
}

void image_note_start(void)
{
	int n = 0;

	dl_iterate_phdr(count_object, &n);
	start_objects = n;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool has_prefix(const char *name, const char *const *list, size_t n)
{
	const char *b = base_name(name);

	for (size_t i = 0; i < n; i++)
		if (strncmp(b, list[i], strlen(list[i])) == 0)
			return true;
	return false;
}

static bool is_candidate(const char *name)
{
	return has_prefix(name, leave_out, sizeof(leave_out) / sizeof(leave_out[0]));
}

static bool is_known_kept(const char *name)
{
	return name[0] == '\0' || has_prefix(name, kept, sizeof(kept) / sizeof(kept[0]));
}

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *s = data;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	struct object *o;

	if (s->n == IMAGE_MAX_OBJECTS) {
		s->overflow = true;
		return 1;
	}
	o = &s->obj[s->n];
	*o = (struct object){.name = name,
	                     .base = info->dlpi_addr,
	                     .phdr = info->dlpi_phdr,
	                     .phnum = info->dlpi_phnum,
	                     .candidate = is_candidate(name),
	                     .in_scope = start_objects < 0 || (int)s->n < start_objects};
	/* The vDSO is in the list of objects but not in the lookup scope. */
	if (strncmp(base_name(name), "linux-vdso", 10) == 0 ||
	    strncmp(base_name(name), "linux-gate", 10) == 0)
		o->in_scope = false;
	s->n++;
	return 0;
}

/* Applies advice to every loaded segment of o; stops at the first failure. */
static int advise(const struct object *o, int advice)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	for (ElfW(Half) i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *ph = &o->phdr[i];
		uintptr_t start, end;

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		start = (o->base + ph->p_vaddr) & ~(page - 1);
		end = (o->base + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
		if (madvise((void *)start, end - start, advice) < 0)
			return -errno;
	}
	return 0;
}

int image_trim_for_children(const char *who)
{
	static struct scan s;
	size_t last_kept = 0, n = 0;
	int r = 0;

	s.n = 0;
	s.overflow = false;
	dl_iterate_phdr(collect, &s);
	if (s.overflow)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!s.obj[i].in_scope || s.obj[i].candidate)
			continue;
		if (!is_known_kept(s.obj[i].name)) {
			log_debug(who,
			          "connection processes leave out 0 of %zu loaded objects (%s is "
			          "loaded)",
			          s.n, base_name(s.obj[i].name));
			return 0;
		}
		last_kept = i;
	}
	for (size_t i = last_kept + 1; i < s.n; i++) {
		if (!s.obj[i].candidate || !s.obj[i].in_scope)
			continue;
		r = advise(&s.obj[i], MADV_DONTFORK);
		if (r < 0)
			break;
		n++;
	}
	if (r < 0) {
		/* All or nothing: the caller forks as usual, atfork handlers and all. */
		for (size_t i = last_kept + 1; i < s.n; i++)
			if (s.obj[i].candidate && s.obj[i].in_scope)
				(void)advise(&s.obj[i], MADV_DOFORK);
		log_warning(who,
		            "madvise(MADV_DONTFORK): %s; connection processes get every library",
		            strerror(-r));
		return r;
	}
	log_debug(who, "connection processes leave out %zu of %zu loaded objects", n, s.n);
	return (int)n;
}
