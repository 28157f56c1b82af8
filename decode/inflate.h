/* inflate: streaming decompression of HTTP content codings (gzip, deflate as zlib or raw)
 * and of permessage-deflate messages, with a hard cap on output (zip bombs). zlib inside.
 * An ow_inflate_budget bounds how many inflaters a set of decoders keeps at once (each costs
 * ~7 KB of zlib state plus a 32 KB window). */
#ifndef OW_INFLATE_H
#define OW_INFLATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { OW_INFLATE_GZIP, OW_INFLATE_ZLIB_OR_RAW, OW_INFLATE_RAW } ow_inflate_mode;

typedef struct ow_inflater ow_inflater;

ow_inflater *ow_inflater_new(ow_inflate_mode mode);
void ow_inflater_free(ow_inflater *z);
/* Decompresses in[0..in_len) appending to out (capacity out_cap, *out_len in/out). Output
 * beyond out_cap is discarded and counted in *dropped (never written). Returns 0 on success
 * (more input welcome), 1 at end of stream, -1 on corrupt data. */
int ow_inflater_feed(ow_inflater *z, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                     size_t *out_len, uint64_t *dropped);
void ow_inflater_reset(ow_inflater *z);

/* At most limit inflaters live at once among the decoders that share the budget (one budget
 * per owner, e.g. per correlator; no locking, like the decoders themselves). A decoder takes
 * a slot before ow_inflater_new and gives it back after ow_inflater_free. A NULL budget is
 * unbounded: take always succeeds, give does nothing. */
typedef struct ow_inflate_budget {
    size_t limit;     /* slots; 0 refuses every take */
    size_t live;      /* slots taken now */
    uint64_t skipped; /* messages left compressed for want of a slot (counted by decoders) */
} ow_inflate_budget;

void ow_inflate_budget_init(ow_inflate_budget *b, size_t limit);
bool ow_inflate_budget_take(ow_inflate_budget *b); /* false when every slot is taken */
void ow_inflate_budget_give(ow_inflate_budget *b);
#endif
