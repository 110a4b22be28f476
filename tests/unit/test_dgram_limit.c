/* Packet rates on datagram listeners: per-source and service-wide token buckets, the
 * defaults and a process's share, prefixes, and a table that never grows while a
 * spoofed flood still meets the service-wide rate. */
#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "mpm/admit.h"
#include "mpm/dgram_limit.h"

#define T0 1000000ULL /* any monotonic start; 0 means "never" to a bucket */

static struct limits_conf conf(double rate, double burst, double ps_rate, double ps_burst)
{
	return (struct limits_conf){.rate = rate,
	                            .burst = burst,
	                            .per_source_rate = ps_rate,
	                            .per_source_burst = ps_burst,
	                            .ipv4_prefix = 32,
	                            .ipv6_prefix = 64};
}

static void key4(uint32_t a, uint8_t key[16])
{
	memset(key, 0, 16);
	key[0] = (uint8_t)(a >> 24);
	key[1] = (uint8_t)(a >> 16);
	key[2] = (uint8_t)(a >> 8);
	key[3] = (uint8_t)a;
}

static enum dgram_verdict take4(struct dgram_limit *dl, uint32_t a, uint64_t now)
{
	uint8_t key[16];

	key4(a, key);
	return dgram_limit_take(dl, AF_INET, key, now);
}

START_TEST(per_source_burst_then_refill)
{
	struct limits_conf l = conf(1e6, 1e6, 10, 4);
	struct dgram_limit dl;

	ck_assert_int_eq(dgram_limit_init(&dl, &l, 1), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(take4(&dl, 0x7f000002, T0), DGRAM_PASS);
	ck_assert_int_eq(take4(&dl, 0x7f000002, T0), DGRAM_OVER_SOURCE);
	/* Another source has a bucket of its own. */
	ck_assert_int_eq(take4(&dl, 0x7f000003, T0), DGRAM_PASS);
	/* 10/s: one more after 100 ms, not before. */
	ck_assert_int_eq(take4(&dl, 0x7f000002, T0 + 50000), DGRAM_OVER_SOURCE);
	ck_assert_int_eq(take4(&dl, 0x7f000002, T0 + 100000), DGRAM_PASS);
	ck_assert_int_eq(take4(&dl, 0x7f000002, T0 + 100000), DGRAM_OVER_SOURCE);
	dgram_limit_free(&dl);
}
END_TEST

/* A source over its own rate does not spend the tokens other sources need. */
START_TEST(flooder_spares_service_tokens)
{
	struct limits_conf l = conf(1, 10, 1, 2);
	struct dgram_limit dl;

	ck_assert_int_eq(dgram_limit_init(&dl, &l, 1), 0);
	for (int i = 0; i < 1000; i++)
		take4(&dl, 0x0a000001, T0);
	for (uint32_t s = 0; s < 8; s++)
		ck_assert_int_eq(take4(&dl, 0x0a000100 + s, T0), DGRAM_PASS);
	dgram_limit_free(&dl);
}
END_TEST

/* Spoofed sources, each with a full bucket of its own, far more than the table holds:
 * what passes is bounded by the service-wide bucket alone, and every packet is judged
 * (the table is fixed; the overflow evicts). */
START_TEST(spoofed_flood_meets_service_rate)
{
	struct limits_conf l = conf(100, 200, 20, 40);
	struct dgram_limit dl;
	unsigned pass = 0, over_service = 0;
	const unsigned n = 20 * DGRAM_LIMIT_TABLE;

	ck_assert_int_eq(dgram_limit_init(&dl, &l, 1), 0);
	/* One second of flood: the burst plus one second's rate, whatever the sources. */
	for (unsigned i = 0; i < n; i++) {
		enum dgram_verdict v = take4(&dl, 0xc0000000u + i, T0 + (uint64_t)i * 1000000 / n);
		pass += v == DGRAM_PASS;
		over_service += v == DGRAM_OVER_SERVICE;
	}
	ck_assert_uint_le(pass, 200 + 100 + 1);
	ck_assert_uint_ge(pass, 200);
	ck_assert_uint_eq(pass + over_service, n);
	ck_assert_uint_gt(dl.evictions, 0);
	dgram_limit_free(&dl);
}
END_TEST

/* Refilled entries are reused before live ones are evicted: sources that come back
 * slowly never evict one another. */
START_TEST(stale_entries_reused)
{
	struct limits_conf l = conf(1e9, 1e9, 1000, 1);
	struct dgram_limit dl;

	ck_assert_int_eq(dgram_limit_init(&dl, &l, 1), 0);
	for (unsigned round = 0; round < 4; round++)
		for (unsigned i = 0; i < 4 * DGRAM_LIMIT_TABLE; i++)
			ck_assert_int_eq(take4(&dl, 0x0b000000u + i,
			                       T0 + (uint64_t)round * 10000000 + i * 10),
			                 DGRAM_PASS);
	ck_assert_uint_eq(dl.evictions, 0);
	dgram_limit_free(&dl);
}
END_TEST

START_TEST(defaults_and_share)
{
	struct limits_conf none = conf(0, 0, 0, 0), mine = conf(300, 30, 10, 8);
	struct dgram_limit dl;

	ck_assert_int_eq(dgram_limit_init(&dl, &none, 1), 0);
	ck_assert(dl.rate == DGRAM_LIMIT_RATE && dl.burst == DGRAM_LIMIT_BURST);
	ck_assert(dl.ps_rate == DGRAM_LIMIT_PS_RATE && dl.ps_burst == DGRAM_LIMIT_PS_BURST);
	dgram_limit_free(&dl);
	/* Three processes read the socket: each a third of each rate and burst. */
	ck_assert_int_eq(dgram_limit_init(&dl, &mine, 3), 0);
	ck_assert(dl.rate == 100 && dl.burst == 10 && dl.ps_burst > 2.6 && dl.ps_burst < 2.7);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(take4(&dl, 0x7f000009, T0), DGRAM_PASS);
	ck_assert_int_eq(take4(&dl, 0x7f000009, T0), DGRAM_OVER_SOURCE);
	dgram_limit_free(&dl);
	/* A burst never drops below one packet. */
	ck_assert_int_eq(dgram_limit_init(&dl, &mine, 1000), 0);
	ck_assert(dl.burst == 1 && dl.ps_burst == 1);
	dgram_limit_free(&dl);
}
END_TEST

/* Sources are masked like the streams' per-source limits: one /24 is one source. */
START_TEST(prefix_is_one_source)
{
	struct limits_conf l = conf(1e6, 1e6, 1, 2);
	struct dgram_limit dl;
	uint8_t a[16], b[16], ka[16], kb[16];

	l.ipv4_prefix = 24;
	ck_assert_int_eq(dgram_limit_init(&dl, &l, 1), 0);
	key4(0xc0a80101, a);
	key4(0xc0a801fe, b);
	admit_source_key(&l, AF_INET, a, ka);
	admit_source_key(&l, AF_INET, b, kb);
	ck_assert_int_eq(dgram_limit_take(&dl, AF_INET, ka, T0), DGRAM_PASS);
	ck_assert_int_eq(dgram_limit_take(&dl, AF_INET, kb, T0), DGRAM_PASS);
	ck_assert_int_eq(dgram_limit_take(&dl, AF_INET, ka, T0), DGRAM_OVER_SOURCE);
	/* The same bytes as IPv6 are another source. */
	ck_assert_int_eq(dgram_limit_take(&dl, AF_INET6, ka, T0), DGRAM_PASS);
	/* Without an address (a unix peer): the service-wide bucket only. */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(dgram_limit_take(&dl, 0, NULL, T0), DGRAM_PASS);
	dgram_limit_free(&dl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dgram_limit");
	TCase *tc = tcase_create("buckets");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, per_source_burst_then_refill);
	tcase_add_test(tc, flooder_spares_service_tokens);
	tcase_add_test(tc, spoofed_flood_meets_service_rate);
	tcase_add_test(tc, stale_entries_reused);
	tcase_add_test(tc, defaults_and_share);
	tcase_add_test(tc, prefix_is_one_source);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
