/* Internals of the function-name tree (codec/ftree.c) shared with its encoders
 * (codec/flamegraph.c, codec/flamebearer.c). Module-private: nothing outside codec/ includes it.
 *
 * Invariant every pass relies on: a node's index is larger than its parent's (a node is only ever
 * created as the child of an existing node), so a reverse index walk is a bottom-up walk and a
 * forward one visits parents first, without recursion. */
#ifndef SC_FTREE_INT_H
#define SC_FTREE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/ftree.h"

/* Child table slot: (parent, name) -> node; node == SC_FTREE_NONE marks an empty slot. The key
 * lives in the slot so a probe never touches the node array. */
typedef struct ft_cslot {
    uint32_t parent, name, node;
} ft_cslot_t;

/* Name table slot: id == SC_FTREE_NONE marks an empty slot; h is the low half of the name's
 * xxh3, kept to skip most byte compares and to rehash without reading the strings. */
typedef struct ft_nslot {
    uint32_t id, h;
} ft_nslot_t;

/* Chunked storage for name bytes: strings never move once copied (names[] points into it). */
typedef struct ft_chunk {
    struct ft_chunk *next;
    size_t cap, used;
    char data[];
} ft_chunk_t;

struct sc_ftree {
    sc_ftree_node_t *nodes;
    uint32_t n_nodes, cap_nodes;
    ft_cslot_t *ctab; /* holds n_nodes - 1 entries (every node but the root) */
    uint32_t ctab_cap;
    sc_str_t *names;
    uint32_t n_names, cap_names;
    ft_nslot_t *ntab;
    uint32_t ntab_cap;
    ft_chunk_t *chunks; /* newest first */
    uint32_t *scratch;  /* sc_ftree_merge's memo (src node and name -> dst), reused */
    size_t scratch_cap;
    size_t mem, mem_max;
    bool finished;
};

/* Signed sums that wrap instead of overflowing (values come from clients; an overflow must give
 * a wrong number, never undefined behaviour). */
static inline int64_t ft_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Look name s[0..n) up without interning it: its id, or SC_FTREE_NONE. */
uint32_t sc_ftree_find_name(const sc_ftree_t *t, const char *s, size_t n);

/* Merge src into dst like sc_ftree_merge and leave in *memo (dst's scratch, valid until dst
 * changes again) the dst node of every src node. */
SC_MUST_USE int sc_ftree_merge_memo(sc_ftree_t *dst, const sc_ftree_t *src, const uint32_t **memo);

#endif
