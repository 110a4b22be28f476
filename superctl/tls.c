/* A service's TLS in superctl's views (see tls.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "superctl/format.h"
#include "superctl/tls.h"

static void print_cert(const json_t *cert)
{
	const json_t *names = json_object_get(cert, "names");
	time_t at = (time_t)j_int(cert, "not_after");
	long long left = j_int(cert, "days_left"), days = left < 0 ? -left : left;
	struct tm tm;
	char when[32] = "?";

	if (gmtime_r(&at, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("    %-14s %s\n", "certificate", j_str(cert, "subject"));
	printf("    %-14s %s\n", "file", j_str(cert, "path"));
	if (json_array_size(names) > 0) {
		printf("    %-14s", "sni names");
		for (size_t i = 0; i < json_array_size(names); i++)
			printf("%s%s", i ? ", " : " ", json_string_value(json_array_get(names, i)));
		putchar('\n');
	}
	printf("    %-14s %s (%lld day%s %s)\n", "expires", when, days, days == 1 ? "" : "s",
	       left < 0 ? "ago" : "left");
}

void tls_print_stats(const json_t *svc)
{
	const json_t *t = json_object_get(svc, "tls"), *listeners, *failures, *v;
	long long done;
	const char *reason;
	char mean[32];
	bool any = false;

	if (!json_is_object(t))
		return;
	done = j_int(t, "handshakes");
	printf("  %-16s %lld handshakes, %lld resumed", "tls", done, j_int(t, "resumed"));
	if (done > 0)
		printf(", mean %s",
		       fmt_duration_usec((uint64_t)(j_int(t, "handshake_usec_sum") / done), mean,
		                         sizeof(mean)));
	putchar('\n');
	failures = json_object_get(t, "failures");
	printf("  %-16s", "tls failures");
	json_object_foreach((json_t *)failures, reason, v)
	{
		if (json_integer_value(v) == 0)
			continue;
		printf("%s%s %lld", any ? ", " : " ", reason, (long long)json_integer_value(v));
		any = true;
	}
	printf("%s\n", any ? "" : " none");
	listeners = json_object_get(t, "listeners");
	for (size_t i = 0; i < json_array_size(listeners); i++) {
		const json_t *l = json_array_get(listeners, i),
		             *certs = json_object_get(l, "certificates");
		printf("  %-16s %s (%s)\n", "tls listener", j_str(l, "address"), j_str(l, "path"));
		for (size_t k = 0; k < json_array_size(certs); k++)
			print_cert(json_array_get(certs, k));
	}
}

/* The expiry gauge: one sample per certificate of each TLS listener. */
static void put_expiry(FILE *f, const json_t *svc, const json_t *l)
{
	const json_t *certs = json_object_get(l, "certificates");

	for (size_t k = 0; k < json_array_size(certs); k++) {
		const json_t *c = json_array_get(certs, k);
		fputs("superserverd_tls_certificate_expiry_seconds{service=\"", f);
		fmt_label_value(f, j_str(svc, "name"));
		fputs("\",listener=\"", f);
		fmt_label_value(f, j_str(l, "address"));
		fputs("\",certificate=\"", f);
		fmt_label_value(f, j_str(c, "path"));
		fprintf(f, "\"} %lld\n", j_int(c, "not_after"));
	}
}

void tls_put_metrics(FILE *f, const json_t *services, fmt_family_fn *family, fmt_sample_fn *sample)
{
	static const struct {
		const char *name, *field, *help;
	} plain[] = {
	        {"tls_handshakes_total", "handshakes", "TLS handshakes completed."},
	        {"tls_handshakes_resumed_total", "resumed",
	         "TLS handshakes completed by resuming a session (a ticket)."},
	};
	const json_t *svc, *t, *v;
	const char *reason;

	family(f, "tls_certificate_expiry_seconds", "gauge",
	       "When a TLS listener's certificate expires (notAfter), in seconds since the epoch.");
	for (size_t i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		t = json_object_get(svc, "tls");
		for (size_t j = 0; j < json_array_size(json_object_get(t, "listeners")); j++)
			put_expiry(f, svc, json_array_get(json_object_get(t, "listeners"), j));
	}
	for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
		family(f, plain[k].name, "counter", plain[k].help);
		for (size_t i = 0; i < json_array_size(services); i++) {
			svc = json_array_get(services, i);
			t = json_object_get(svc, "tls");
			if (!json_is_object(t))
				continue;
			sample(f, plain[k].name, "", svc, NULL, NULL);
			fprintf(f, "%lld\n", j_int(t, plain[k].field));
		}
	}
	family(f, "tls_handshake_failures_total", "counter",
	       "TLS handshakes that failed, by reason.");
	for (size_t i = 0; i < json_array_size(services); i++) {
		svc = json_array_get(services, i);
		t = json_object_get(svc, "tls");
		json_object_foreach((json_t *)json_object_get(t, "failures"), reason, v)
		{
			sample(f, "tls_handshake_failures_total", "", svc, "reason", reason);
			fprintf(f, "%lld\n", (long long)json_integer_value(v));
		}
	}
}
