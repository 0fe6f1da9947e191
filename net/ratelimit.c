/* Token buckets per tenant, per core. */
#include <string.h>

#include "base/hash.h"
#include "net/ratelimit.h"

void sc_ratelimit_init(sc_ratelimit_t *rl, double rate_bps, double burst_bytes)
{
    memset(rl, 0, sizeof(*rl));
    rl->rate_bps = rate_bps;
    rl->burst = burst_bytes;
}

static sc_rl_bucket_t *bucket(sc_ratelimit_t *rl, const char *tenant, int64_t now_ns)
{
    size_t len = strlen(tenant);
    uint64_t h = sc_hash64(tenant, len) | 1; /* never 0: 0 marks a free slot */
    uint32_t start = (uint32_t)h % SC_RATELIMIT_TENANTS;
    sc_rl_bucket_t *lru = NULL;
    /* Probe a short window: tenants are few; a full window recycles its least recently used. */
    for (uint32_t k = 0; k < 16; k++) {
        sc_rl_bucket_t *b = &rl->buckets[(start + k) % SC_RATELIMIT_TENANTS];
        if (b->hash == h && strcmp(b->tenant, tenant) == 0) return b;
        if (b->hash == 0) {
            lru = b;
            break;
        }
        if (!lru || b->last_ns < lru->last_ns) lru = b;
    }
    lru->hash = h;
    memcpy(lru->tenant, tenant, len + 1);
    lru->tokens = rl->burst;
    lru->last_ns = now_ns;
    return lru;
}

int sc_ratelimit_take(sc_ratelimit_t *rl, const char *tenant, uint64_t n, int64_t now_ns,
                      int64_t *retry_after_s)
{
    if (rl->rate_bps <= 0) return 0;
    sc_rl_bucket_t *b = bucket(rl, tenant, now_ns);
    if (now_ns > b->last_ns) {
        b->tokens += rl->rate_bps * (double)(now_ns - b->last_ns) / 1e9;
        if (b->tokens > rl->burst) b->tokens = rl->burst;
    }
    b->last_ns = now_ns;
    double need = (double)n;
    if (need <= b->tokens) {
        b->tokens -= need;
        return 0;
    }
    double wait = need > rl->burst ? 1.0 : (need - b->tokens) / rl->rate_bps;
    int64_t s = (int64_t)wait + 1;
    *retry_after_s = s < 1 ? 1 : s;
    return -SC_E_LIMITED;
}
