/* nids_hash: the hash libnids files its TCP streams under, replaced by a cheaper one.
 * libnids 1.26 hashes a stream's address tuple with mkhash: twelve byte steps through a random
 * permutation, each with a division (~190 instructions), once per client-to-server packet and
 * twice per server-to-client one: 7 % of the packet thread on a large capture. libnids.so calls
 * mkhash through its PLT, so the definition exported by the executable (CMakeLists.txt:
 * --export-dynamic-symbol=mkhash) is the one it uses: ELF symbol interposition, only built
 * against the shared library (libnids.a would define it twice).
 * Any function of the tuple keeps libnids correct: it only picks the bucket searched. The
 * addresses libnids sees are our stand-ins (standin.c), numbered by flow slot: the bucket is that
 * slot, read from the source address (either end's names the same slot, so both directions of
 * a stream search one bucket). The flow table holds one flow per slot and hands out the slots
 * freed last first, so the chains hold one stream (two while a slot's previous stream lingers)
 * and the buckets in use are few and together. A keyed mix of the tuple spread them over the
 * whole table (87,000 buckets for 65,536 streams): a cache miss for nearly every packet, and
 * read 3 % slower. A source outside the stand-in range (libnids never sees one) takes that mix,
 * keyed with a random value set at start-up. */
#include "capture/nids_priv.h"
#include <arpa/inet.h>
#include <sys/random.h>

#ifdef OW_NIDS_HASH
_Static_assert(OW_MAX_STREAMS_LIMIT <= 1 << 24, "a slot is a bucket index libnids can hold");

static uint64_t hash_key = 0x6a09e667f3bcc908ULL; /* replaced at start-up when possible */
uint64_t nids_hash_calls;

void nids_hash_init(void)
{
    uint64_t k;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) == (ssize_t)sizeof k)
        hash_key = k;
}

/* libnids' prototype (hash.h): u_int mkhash(u_int src, u_short sport, u_int dest,
 * u_short dport), addresses in network order, ports in host order. Its result is below 2^24
 * (a remainder of 0xff100f), and tcp.c stores it in an int before taking the bucket: so is
 * this one's, or the bucket index would go negative. */
__attribute__((used, visibility("default"))) unsigned int
mkhash(unsigned int src, unsigned short sport, unsigned int dest, unsigned short dport)
{
    nids_hash_calls++;
    uint32_t a = ntohl(src);
    if ((a & 0xF0000000u) == STANDIN_BASE)
        return (a - STANDIN_BASE) / 2; /* the slot: below OW_MAX_STREAMS_LIMIT, 2^24 */
    uint64_t x = ((uint64_t)src << 32 | dest) ^ hash_key;
    x ^= ((uint64_t)sport << 16 | dport) * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    return (unsigned int)(x >> 40);
}
#else
void nids_hash_init(void) {}
#endif
