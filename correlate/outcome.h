/* outcome: the names of page-load outcomes and verdicts, and the grace time. One place for
 * each: the correlator, the database, the report and the dashboard all use these strings.
 * They are a stable interface (jsonl, database, dashboard): add, never rename. */
#ifndef OW_OUTCOME_H
#define OW_OUTCOME_H

#define OW_DEFAULT_GRACE_S 15.0 /* page served -> websocket expected within this */

typedef enum ow_outcome {
    OW_OUTCOME_PENDING = 0, /* live: still inside the grace time */
    OW_OUTCOME_CONNECTED,   /* websocket 101 and a PULL-DOC exchange */
    OW_OUTCOME_WS_REFUSED,  /* upgrade answered with an error status */
    OW_OUTCOME_WS_NO_DOC,   /* 101 but no document pulled */
    OW_OUTCOME_ORPHAN,      /* no websocket for the session within the grace time */
    OW_OUTCOME_UNDECIDED,   /* capture ended inside the grace time */
    OW_OUTCOME_COUNT
} ow_outcome;

typedef enum ow_verdict {
    OW_VERDICT_NONE = 0,
    OW_VERDICT_PMTU_BLACKHOLE,
    OW_VERDICT_SLOW_PMTU_RECOVERY,
    OW_VERDICT_SCRIPT_STALLED,
    OW_VERDICT_SCRIPT_FAILED,
    OW_VERDICT_WS_REFUSED,
    OW_VERDICT_TOKEN_EXPIRED,
    OW_VERDICT_RENDER_FAILED,
    OW_VERDICT_WS_NEVER_ATTEMPTED,
    OW_VERDICT_NO_SCRIPTS_FETCHED,
    OW_VERDICT_WS_ELSEWHERE,
    OW_VERDICT_CLIENT_GONE,
    OW_VERDICT_UNKNOWN,
    OW_VERDICT_COUNT
} ow_verdict;

const char *ow_outcome_name(ow_outcome o); /* "connected", "orphan", ... ; "pending" */
const char *ow_verdict_name(ow_verdict v); /* "pmtu_blackhole", ... ; NULL for NONE */
int ow_outcome_from_name(const char *s);   /* -1 if unknown */
int ow_verdict_from_name(const char *s);   /* -1 if unknown */
/* One sentence: what the verdict means, for reports and the dashboard's help. */
const char *ow_verdict_meaning(ow_verdict v);
#endif
