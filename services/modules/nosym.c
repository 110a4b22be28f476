/* Test module (not installed): a shared object that exports a handler under the wrong
 * name, the mistake a module author is most likely to make. Loading it must fail. */
#include <superserverd/handler.h>

const struct ss_handler handler = {
        SS_HANDLER_HEADER("nosym"),
};
