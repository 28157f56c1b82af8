/* inflate: streaming decompression of HTTP content codings (gzip, deflate as zlib or raw)
 * and of permessage-deflate messages, with a hard cap on output (zip bombs). zlib inside. */
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
#endif
