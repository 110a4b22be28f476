/* The `runs` part of status and stats answers (see runs_json.h). */
#include <sys/wait.h>

#include "superserverd/runs_json.h"

json_t *runs_json(struct scoreboard *sb)
{
	struct scoreboard_runs *r = &sb->counters.runs;
	int last = atomic_load(&r->last_status);
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "started",
	                      (json_int_t)atomic_load(&r->started), "running",
	                      (json_int_t)scoreboard_runs_running(sb), "exited_ok",
	                      (json_int_t)atomic_load(&r->exited_ok), "exited_error",
	                      (json_int_t)atomic_load(&r->exited_error), "killed",
	                      (json_int_t)atomic_load(&r->killed), "timeouts",
	                      (json_int_t)atomic_load(&r->timeouts), "run_usec_sum",
	                      (json_int_t)atomic_load(&r->run_usec_sum));

	if (!o)
		return NULL;
	json_object_set_new(o, "last_exit_status",
	                    last >= 0 && WIFEXITED(last) ? json_integer(WEXITSTATUS(last))
	                                                 : json_null());
	json_object_set_new(o, "last_signal",
	                    last >= 0 && WIFSIGNALED(last) ? json_integer(WTERMSIG(last))
	                                                   : json_null());
	return o;
}
