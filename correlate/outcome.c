/* outcome: name tables for outcomes and verdicts (see outcome.h). */
#include "correlate/outcome.h"
#include <string.h>

static const char *const outcome_names[OW_OUTCOME_COUNT] = {
    "pending", "connected", "ws_refused", "ws_no_doc", "orphan", "undecided",
};

static const struct {
    const char *name, *meaning;
} verdicts[OW_VERDICT_COUNT] = {
    {NULL, NULL},
    {"pmtu_blackhole", "large server segments vanish on the path while small packets pass "
                       "(path-MTU black hole): the page or its scripts never arrived"},
    {"slow_pmtu_recovery",
     "the page connected, but only after the server's TCP fell back to "
     "smaller segments following a stall (PMTU black hole recovered by MTU probing)"},
    {"script_stalled", "a required script download stopped part-way (cut short or stalled)"},
    {"script_failed", "a required script was answered with an error status or reset"},
    {"ws_refused", "the websocket upgrade was answered with an error status"},
    {"token_expired", "the websocket opened but the server closed it at once: the session token "
                      "had expired"},
    {"render_failed", "the document was pulled but the browser never reported it ready"},
    {"ws_never_attempted", "the client fetched the scripts but never opened a websocket"},
    {"no_scripts_fetched", "the page was served but the client fetched nothing after it "
                           "(health check, crawler, preview, closed tab)"},
    {"ws_elsewhere", "the websocket for this session went to another server or port"},
    {"client_gone", "the client closed or reset the page connection early"},
    {"unknown", "no websocket followed and the wire shows no cause"},
};

const char *ow_outcome_name(ow_outcome o)
{
    return (unsigned)o < OW_OUTCOME_COUNT ? outcome_names[o] : "pending";
}

const char *ow_verdict_name(ow_verdict v)
{
    return (unsigned)v < OW_VERDICT_COUNT ? verdicts[v].name : NULL;
}

const char *ow_verdict_meaning(ow_verdict v)
{
    return (unsigned)v < OW_VERDICT_COUNT ? verdicts[v].meaning : NULL;
}

int ow_outcome_from_name(const char *s)
{
    for (int i = 0; s && i < OW_OUTCOME_COUNT; i++)
        if (strcmp(s, outcome_names[i]) == 0)
            return i;
    return -1;
}

int ow_verdict_from_name(const char *s)
{
    for (int i = 1; s && i < OW_VERDICT_COUNT; i++)
        if (strcmp(s, verdicts[i].name) == 0)
            return i;
    return -1;
}
