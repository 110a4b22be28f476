/*
 * ssdaytime: the benchmark's tiny exec'd program, a daytime server in the inetd
 * convention (the connection on fd 1): one line of UTC time, then exit. Linked
 * statically where the toolchain can, so an exec costs the kernel's work alone, with
 * no dynamic linking: it measures what a superserver spends per spawned program
 * rather than what the program spends starting.
 */
#include <time.h>
#include <unistd.h>

int main(void)
{
	char line[64];
	struct tm tm;
	time_t now = time(NULL);
	size_t n;

	if (!gmtime_r(&now, &tm))
		return 1;
	n = strftime(line, sizeof(line), "%a %b %e %H:%M:%S %Y UTC\r\n", &tm);
	if (n == 0)
		return 1;
	return write(STDOUT_FILENO, line, n) == (ssize_t)n ? 0 : 1;
}
