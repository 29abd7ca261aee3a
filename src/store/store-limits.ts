/** Bounds shared by both store implementations. */

/** Watch events retained for resuming watchers; older versions answer RESOURCE_VERSION_TOO_OLD. */
export const historyLimitDefault = 10_000;

/** Events read from history per request while a watcher catches up. */
export const watchHistoryPageSize = 1000;

/** A two-phase delete without `expectedResourceVersion` retries this often when it races a writer. */
export const deletionAttemptsMax = 5;
