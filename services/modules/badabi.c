/* Test module (not installed): stamped with a handler ABI major nobody provides, so
 * loading it must fail with a message naming the file and both versions. */
#include <superserverd/handler.h>

const struct ss_handler superserverd_handler = {
        .abi_major = 99,
        .abi_minor = 0,
        .struct_size = sizeof(struct ss_handler),
        .name = "badabi",
};
