/*
 * Numbers for people: durations, uptimes and byte counts in short human units, and
 * tolerant getters for the fields of the daemon's answers (a field an older daemon
 * does not send reads as 0 or "", never as a crash).
 */
#ifndef SUPERCTL_FORMAT_H
#define SUPERCTL_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* "0", "850us", "1.5ms", "12ms", "1.25s", "5s", "5m12s", "3h4m", "3d4h". */
const char *fmt_duration_usec(uint64_t usec, char *buf, size_t len);
/* "42s", "5m12s", "3h4m", "3d4h"; "-" for a negative value. */
const char *fmt_uptime(double sec, char *buf, size_t len);
/* "512 B", "1.5 KiB", "3.2 GiB". */
const char *fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* A Prometheus label value, escaped as the text format wants: backslash, double quote,
 * newline. */
void fmt_label_value(FILE *f, const char *s);
/* How `superctl metrics` writes a family's HELP and TYPE lines, and a sample's name and
 * labels (service, and EXTRA_NAME="EXTRA_VALUE" unless NULL) up to its value: handed to
 * the modules that add families of their own. */
typedef void fmt_family_fn(FILE *f, const char *name, const char *type, const char *help);
typedef void fmt_sample_fn(FILE *f, const char *name, const char *suffix, const json_t *svc,
                           const char *extra_name, const char *extra_value);

long long j_int(const json_t *o, const char *key);
double j_num(const json_t *o, const char *key);
const char *j_str(const json_t *o, const char *key);
/* j_int of a field of a nested object: j_int2(o, "workers", "busy"). */
long long j_int2(const json_t *o, const char *key, const char *sub);
/* Connections accepted plus datagrams received: a service's requests, whatever its
 * sockets; and connections turned away plus datagrams dropped. */
long long j_requests(const json_t *svc);
long long j_turned_away(const json_t *svc);

#endif
