/*
 * libFuzzer target for the configuration loader: YAML in, diagnostics out. Each input
 * is written to a file of its own directory and loaded as the main file, under ASan and
 * UBSan, with the loader's input bounds in force. Besides "never crash, leak or hang",
 * it checks the loader's contract: a configuration or errors, never both, and every
 * message about the file names it (FILE:LINE:COL or FILE: for the whole file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "superserverd/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64];
static char path[128];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_tmpdir(dir, sizeof(dir), "ss-fuzz-config");
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	atexit(remove_dir);
	return 0;
}

static bool has(const uint8_t *data, size_t size, const char *s)
{
	return memmem(data, size, s, strlen(s)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_load_opts opts = {.daemon_uid = 65534};
	struct config *cfg = (struct config *)&cfg;
	struct diag d;
	FILE *f;
	int r;

	/* An include pattern may name any file on the machine (/proc, a whole tree to
	 * glob): the fuzzer keeps to its own directory. Relative patterns stay in. */
	if (has(data, size, "include") && (has(data, size, "/") || has(data, size, "\\")))
		return -1;
	f = fopen(path, "we");
	CHECK(f);
	CHECK(fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);

	diag_init(&d);
	r = config_load(path, &opts, &cfg, &d);
	fuzz_check_load(r, cfg, &d, dir);
	config_unref(cfg);
	diag_free(&d);
	return 0;
}
