/*
 * Reading one configuration file into a libyaml document within the load's bounds.
 *
 * libyaml's own loader (yaml_parser_load) has no bounds: its scanner takes time
 * quadratic in the nesting of flow collections (40 000 '[' cost seconds), its anchor
 * table is a list searched once per anchor and per alias, and it lets an alias name the
 * collection it sits in, making a cycle. So the file is read whole (up to its size
 * bound) and the document is composed here from the parser's events: nesting is counted
 * as it opens and refused past the bound before the scanner goes deep, anchors are kept
 * in a tree, and every alias counts as a copy of what it names against the load's
 * budget of values and text, so no number of aliases multiplies the loader's work.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "superserverd/yamlutil.h"

struct anchor {
	char *name;
	int node;
	bool open; /* its collection is still being read: an alias to it would be a cycle */
	struct diag_pos pos;
	size_t nodes, text; /* what an alias to it adds to the budget */
};

struct open_coll {
	int node;
	int key; /* a mapping's key waiting for its value; 0: none */
	struct anchor *anchor;
	size_t nodes_before, text_before;
};

struct composer {
	struct ydoc *yd;
	struct ybudget *b;
	struct diag *d;
	void *anchors; /* tsearch tree of struct anchor */
	struct open_coll stack[YDOC_MAX_DEPTH];
	int depth;
	bool failed;
};

/* "FILE:LINE:COL" of byte OFFSET in BUF, counting characters, not bytes. */
static struct diag_pos offset_position(const char *file, const unsigned char *buf, size_t len,
                                       size_t offset)
{
	struct diag_pos pos = {file, 1, 1};

	for (size_t i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			pos.line++;
			pos.col = 1;
		} else if ((buf[i] & 0xc0) != 0x80) { /* not a UTF-8 continuation byte */
			pos.col++;
		}
	}
	return pos;
}

static struct diag_pos mark_pos(const char *file, yaml_mark_t m)
{
	return (struct diag_pos){file, (int)m.line + 1, (int)m.column + 1};
}

static void parser_error(const yaml_parser_t *p, const unsigned char *buf, size_t len,
                         const char *file, struct diag *d)
{
	struct diag_pos pos = mark_pos(file, p->problem_mark);
	const char *problem = p->problem ? p->problem : "invalid YAML";

	/* The reader (bad encoding) reports a byte offset, not a mark. */
	if (p->error == YAML_READER_ERROR)
		pos = offset_position(file, buf, len, p->problem_offset);
	if (p->error == YAML_MEMORY_ERROR)
		diag_error(d, &pos, "out of memory");
	else if (p->context)
		diag_error(d, &pos, "%s (%s)", problem, p->context);
	else
		diag_error(d, &pos, "%s", problem);
}

/* The file's bytes, at most its share of the budget plus one to tell that it is over. */
static int read_bounded(const char *path, const char *file, bool regular_only, struct ybudget *b,
                        unsigned char **buf_r, size_t *len_r, struct diag *d)
{
	struct diag_pos fpos = {file, 0, 0};
	size_t left = YDOC_MAX_TOTAL_BYTES - b->bytes, cap, len = 0;
	unsigned char *buf = NULL;
	struct stat st;
	int fd, r = -1;

	cap = left < YDOC_MAX_FILE_BYTES ? left : YDOC_MAX_FILE_BYTES;
	/* O_NONBLOCK: a FIFO or device named by an include pattern must not hang the load;
	 * regular files ignore it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular_only ? O_NONBLOCK : 0));
	if (fd < 0) {
		diag_error(d, &fpos, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		diag_error(d, &fpos, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		diag_error(d, &fpos, "cannot open: %s", strerror(EISDIR));
		goto out;
	}
	if (regular_only && !S_ISREG(st.st_mode)) {
		diag_error(d, &fpos, "not a regular file");
		goto out;
	}
	if (!(buf = malloc(cap + 1))) {
		diag_error(d, &fpos, "out of memory");
		goto out;
	}
	while (len <= cap) {
		ssize_t n = read(fd, buf + len, cap + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			diag_error(d, &fpos, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > cap) {
		struct diag_pos pos = offset_position(file, buf, len, cap);
		if (cap == YDOC_MAX_FILE_BYTES)
			diag_error(d, &pos,
			           "the file goes on past %u bytes, the most a configuration file "
			           "may hold",
			           YDOC_MAX_FILE_BYTES);
		else
			diag_error(
			        d, &pos,
			        "the configuration goes on past %u bytes, the most the main file "
			        "and its includes may hold together",
			        YDOC_MAX_TOTAL_BYTES);
		goto out;
	}
	b->bytes += len;
	*buf_r = buf;
	*len_r = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

static int anchor_cmp(const void *a, const void *b)
{
	return strcmp(((const struct anchor *)a)->name, ((const struct anchor *)b)->name);
}

static void anchor_free(void *p)
{
	struct anchor *a = p;

	free(a->name);
	free(a);
}

static void fail(struct composer *c, yaml_mark_t m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fail(struct composer *c, yaml_mark_t m, const char *fmt, ...)
{
	struct diag_pos pos = mark_pos(c->yd->file, m);
	va_list ap;

	va_start(ap, fmt);
	diag_verror(c->d, &pos, fmt, ap);
	va_end(ap);
	c->failed = true;
}

/* Counts NODES values and TEXT bytes against the budget; false once it is spent. */
static bool spend(struct composer *c, size_t nodes, size_t text, yaml_mark_t m, bool alias)
{
	c->b->nodes += nodes;
	c->b->text += text;
	if (c->b->nodes > YDOC_MAX_NODES) {
		fail(c, m, "%s more than %u values (lists, maps and strings)%s",
		     alias ? "this alias makes the configuration" : "the configuration has",
		     YDOC_MAX_NODES, alias ? ", an alias counting as a copy of what it names" : "");
		return false;
	}
	if (c->b->text > YDOC_MAX_TEXT_BYTES) {
		fail(c, m, "%s more than %u bytes of strings%s",
		     alias ? "this alias makes the configuration" : "the configuration has",
		     YDOC_MAX_TEXT_BYTES,
		     alias ? ", an alias counting as a copy of what it names" : "");
		return false;
	}
	return true;
}

static bool add_anchor(struct composer *c, const yaml_char_t *name, int node, yaml_mark_t m,
                       struct anchor **a_r)
{
	struct anchor *a = calloc(1, sizeof(*a)), **slot;

	*a_r = NULL;
	if (!name) {
		free(a);
		return true;
	}
	if (!a || !(a->name = strdup((const char *)name))) {
		free(a);
		fail(c, m, "out of memory");
		return false;
	}
	a->node = node;
	a->pos = mark_pos(c->yd->file, m);
	slot = tsearch(a, &c->anchors, anchor_cmp);
	if (!slot) {
		anchor_free(a);
		fail(c, m, "out of memory");
		return false;
	}
	if (*slot != a) {
		/* libyaml refused a second anchor of one name, and so do we: it is a mistake
		 * more often than a deliberate redefinition. */
		fail(c, m, "anchor '&%s' is defined twice (first at %d:%d)", a->name,
		     (*slot)->pos.line, (*slot)->pos.col);
		anchor_free(a);
		return false;
	}
	*a_r = a;
	return true;
}

/* Attaches NODE to the open collection, or leaves it as the root. */
static bool attach(struct composer *c, int node, yaml_mark_t m)
{
	struct open_coll *top;
	int ok;

	if (c->depth == 0)
		return true; /* the root: the document's first node */
	top = &c->stack[c->depth - 1];
	if (ynode(c->yd, top->node)->type == YAML_SEQUENCE_NODE) {
		ok = yaml_document_append_sequence_item(&c->yd->doc, top->node, node);
	} else if (!top->key) {
		top->key = node;
		ok = 1;
	} else {
		ok = yaml_document_append_mapping_pair(&c->yd->doc, top->node, top->key, node);
		top->key = 0;
	}
	if (!ok)
		fail(c, m, "out of memory");
	return ok;
}

static void set_marks(struct composer *c, int node, const yaml_event_t *e)
{
	yaml_node_t *n = ynode(c->yd, node);

	n->start_mark = e->start_mark;
	n->end_mark = e->end_mark;
}

/* libyaml's loader gives "!" the default tag too. */
static const yaml_char_t *tag_of(const yaml_char_t *tag)
{
	return tag && strcmp((const char *)tag, "!") != 0 ? tag : NULL;
}

static void on_scalar(struct composer *c, const yaml_event_t *e)
{
	struct anchor *a;
	int node;

	if (!spend(c, 1, e->data.scalar.length, e->start_mark, false))
		return;
	if (e->data.scalar.length > (size_t)INT32_MAX)
		return fail(c, e->start_mark, "the string is too long");
	node = yaml_document_add_scalar(&c->yd->doc, tag_of(e->data.scalar.tag),
	                                e->data.scalar.value, (int)e->data.scalar.length,
	                                e->data.scalar.style);
	if (!node)
		return fail(c, e->start_mark, "cannot store this value (out of memory)");
	set_marks(c, node, e);
	if (!add_anchor(c, e->data.scalar.anchor, node, e->start_mark, &a))
		return;
	if (a) {
		a->nodes = 1;
		a->text = e->data.scalar.length;
	}
	attach(c, node, e->start_mark);
}

static void on_start(struct composer *c, const yaml_event_t *e)
{
	bool seq = e->type == YAML_SEQUENCE_START_EVENT;
	const yaml_char_t *anchor =
	        seq ? e->data.sequence_start.anchor : e->data.mapping_start.anchor;
	struct open_coll *oc;
	int node;

	if (c->depth == YDOC_MAX_DEPTH)
		return fail(c, e->start_mark,
		            "lists and maps nest more than %d deep here, the most a configuration "
		            "may",
		            YDOC_MAX_DEPTH);
	if (!spend(c, 1, 0, e->start_mark, false))
		return;
	node = seq ? yaml_document_add_sequence(&c->yd->doc, tag_of(e->data.sequence_start.tag),
	                                        e->data.sequence_start.style)
	           : yaml_document_add_mapping(&c->yd->doc, tag_of(e->data.mapping_start.tag),
	                                       e->data.mapping_start.style);
	if (!node)
		return fail(c, e->start_mark, "out of memory");
	set_marks(c, node, e);
	/* Attached before its items, so that node ids follow the text (the root is 1). */
	if (!attach(c, node, e->start_mark))
		return;
	oc = &c->stack[c->depth++];
	*oc = (struct open_coll){node, 0, NULL, c->b->nodes - 1, c->b->text};
	if (!add_anchor(c, anchor, node, e->start_mark, &oc->anchor))
		return;
	if (oc->anchor)
		oc->anchor->open = true;
}

static void on_end(struct composer *c, const yaml_event_t *e)
{
	struct open_coll *oc = &c->stack[--c->depth];

	ynode(c->yd, oc->node)->end_mark = e->end_mark;
	if (oc->anchor) {
		oc->anchor->open = false;
		oc->anchor->nodes = c->b->nodes - oc->nodes_before;
		oc->anchor->text = c->b->text - oc->text_before;
	}
}

static void on_alias(struct composer *c, const yaml_event_t *e)
{
	struct anchor key = {.name = (char *)e->data.alias.anchor};
	struct anchor **slot = tfind(&key, &c->anchors, anchor_cmp);
	struct anchor *a;

	if (!slot)
		return fail(c, e->start_mark, "found undefined alias");
	a = *slot;
	if (a->open)
		return fail(c, e->start_mark,
		            "alias '*%s' is inside the list or map it names (at %d:%d)", a->name,
		            a->pos.line, a->pos.col);
	if (!spend(c, a->nodes, a->text, e->start_mark, true))
		return;
	attach(c, a->node, e->start_mark);
}

/* Composes the one document of the stream into yd->doc. */
static void compose(struct composer *c, yaml_parser_t *p, const unsigned char *buf, size_t len)
{
	bool done = false;

	while (!done && !c->failed) {
		yaml_event_t e;

		if (!yaml_parser_parse(p, &e)) {
			parser_error(p, buf, len, c->yd->file, c->d);
			c->failed = true;
			break;
		}
		switch (e.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (c->yd->loaded) {
				fail(c, e.start_mark,
				     "a configuration file holds one YAML document, found a "
				     "second");
				break;
			}
			if (!yaml_document_initialize(&c->yd->doc, NULL, NULL, NULL, 1, 1)) {
				fail(c, e.start_mark, "out of memory");
				break;
			}
			c->yd->loaded = true;
			c->yd->doc.start_mark = e.start_mark;
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(c, &e);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			on_start(c, &e);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(c, &e);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(c, &e);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default: /* stream start, document end */
			break;
		}
		yaml_event_delete(&e);
	}
	/* An empty stream is a document without a root, as libyaml's loader gives it. */
	if (!c->failed && !c->yd->loaded) {
		if (yaml_document_initialize(&c->yd->doc, NULL, NULL, NULL, 1, 1))
			c->yd->loaded = true;
		else
			fail(c, (yaml_mark_t){0}, "out of memory");
	}
}

int ydoc_load(struct ydoc *yd, const char *path, const char *file, bool included, struct ybudget *b,
              struct diag *d)
{
	struct composer c = {.yd = yd, .b = b, .d = d};
	struct diag_pos fpos = {file, 0, 0};
	unsigned char *buf = NULL;
	yaml_parser_t parser;
	size_t len = 0;

	memset(yd, 0, sizeof(*yd));
	yd->file = file;
	if (read_bounded(path, file, included, b, &buf, &len, d) < 0)
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		diag_error(d, &fpos, "out of memory");
		free(buf);
		return -1;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	compose(&c, &parser, buf, len);
	yaml_parser_delete(&parser);
	tdestroy(c.anchors, anchor_free);
	free(buf);
	if (!c.failed &&
	    !(yd->checked = calloc((size_t)(yd->doc.nodes.top - yd->doc.nodes.start) + 1, 1))) {
		diag_error(d, &fpos, "out of memory");
		c.failed = true;
	}
	if (c.failed) {
		ydoc_free(yd);
		return -1;
	}
	return 0;
}
