/* PROFILE_FORMAT_DOT (spec §10.5.5): a Graphviz digraph of a merged function-name tree, in the
 * spirit of `go tool pprof -dot` (boxes with flat and cumulative values, caller -> callee edges
 * weighted by the callee's cumulative value). Works from the tree alone: no symbols beyond
 * function names, no I/O; memory is the caller's buffer plus temporary arrays freed here. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "net/querier.h"

#define DOT_DEFAULT_NODES 100

typedef struct dot_edge {
    uint32_t from, to; /* name ids */
    int64_t w;
} dot_edge_t;

typedef struct dot_ctx {
    const sc_ftree_node_t *nodes;
    uint32_t n_nodes, n_names;
    int64_t *flat, *cum;
    uint32_t *on_path; /* occurrences of each name on the current root path */
    dot_edge_t *edges;
    size_t n_edges;
    uint32_t *rank; /* name id -> node number in the output (0 = not shown) */
} dot_ctx_t;

static int edge_cmp(const void *x, const void *y)
{
    const dot_edge_t *a = x, *b = y;
    if (a->from != b->from) return a->from < b->from ? -1 : 1;
    if (a->to != b->to) return a->to < b->to ? -1 : 1;
    return 0;
}

/* Flat and cumulative value per function (a function recursing is counted once per path) and
 * the caller -> callee edges, by an iterative depth-first walk. */
static int walk(dot_ctx_t *c)
{
    uint32_t *stack = malloc(sizeof(*stack) * c->n_nodes);
    uint8_t *entered = calloc(c->n_nodes, 1);
    int rc = 0;
    if (!stack || !entered) {
        rc = -SC_E_NOMEM;
        goto out;
    }
    uint32_t top = 0;
    for (uint32_t ch = c->nodes[SC_FTREE_ROOT].first_child; ch != SC_FTREE_NONE;
         ch = c->nodes[ch].next_sibling)
        stack[top++] = ch;
    while (top > 0) {
        uint32_t i = stack[top - 1];
        const sc_ftree_node_t *nd = &c->nodes[i];
        if (entered[i]) { /* leaving the subtree */
            c->on_path[nd->name]--;
            top--;
            continue;
        }
        entered[i] = 1;
        c->flat[nd->name] += nd->self;
        uint32_t from = nd->parent != SC_FTREE_ROOT ? c->nodes[nd->parent].name : SC_FTREE_NONE;
        /* An edge counts once per path too: always into a function not yet on the path; a
         * direct self-call only from its first occurrence (a;a;a draws a -> a once). */
        bool edge = from != SC_FTREE_NONE &&
                    (c->on_path[nd->name] == 0 || (from == nd->name && c->on_path[from] == 1));
        if (edge)
            c->edges[c->n_edges++] = (dot_edge_t){.from = from, .to = nd->name, .w = nd->total};
        if (c->on_path[nd->name] == 0) c->cum[nd->name] += nd->total;
        c->on_path[nd->name]++;
        for (uint32_t ch = nd->first_child; ch != SC_FTREE_NONE; ch = c->nodes[ch].next_sibling)
            stack[top++] = ch; /* each node is pushed once: the stack never exceeds n_nodes */
    }
out:
    free(stack);
    free(entered);
    return rc;
}

static void dot_quote(sc_buf_t *out, sc_str_t s)
{
    for (uint32_t i = 0; i < s.len; i++) {
        char ch = s.p[i];
        if (ch == '"' || ch == '\\') {
            sc_buf_append(out, "\\", 1);
        } else if (ch == '\n') {
            sc_buf_puts(out, "\\n");
            continue;
        }
        sc_buf_append(out, &ch, 1);
    }
}

static double pct(int64_t v, int64_t total)
{
    return total ? 100.0 * (double)v / (double)total : 0.0;
}

static void emit(dot_ctx_t *c, const sc_ftree_t *t, sc_str_t sample_type, const uint32_t *order,
                 uint32_t shown, sc_buf_t *out)
{
    int64_t total = sc_ftree_total(t), shown_flat = 0, max_flat = 1;
    for (uint32_t k = 0; k < shown; k++) {
        shown_flat += c->flat[order[k]];
        if (c->flat[order[k]] > max_flat) max_flat = c->flat[order[k]];
    }
    sc_buf_puts(out, "digraph \"");
    dot_quote(out, sample_type);
    sc_buf_puts(out, "\" {\nnode [style=filled fillcolor=\"#f8f8f8\"]\n"
                     "subgraph cluster_L { \"Type: ");
    dot_quote(out, sample_type);
    sc_buf_puts(out, "\" [shape=box fontsize=16 label=\"Type: ");
    dot_quote(out, sample_type);
    sc_buf_printf(
        out, "\\lShowing nodes accounting for %" PRId64 ", %.2f%% of %" PRId64 " total\\l\"] }\n",
        shown_flat, pct(shown_flat, total), total);
    for (uint32_t k = 0; k < shown; k++) {
        uint32_t id = order[k];
        sc_str_t name = sc_ftree_name_str(t, id);
        int fontsize = 8 + (int)(16 * c->flat[id] / max_flat);
        sc_buf_printf(out, "N%u [label=\"", k + 1);
        dot_quote(out, name);
        sc_buf_printf(
            out,
            "\\n%" PRId64 " (%.2f%%)\\nof %" PRId64 " (%.2f%%)\" fontsize=%d shape=box tooltip=\"",
            c->flat[id], pct(c->flat[id], total), c->cum[id], pct(c->cum[id], total), fontsize);
        dot_quote(out, name);
        sc_buf_printf(out, " (%" PRId64 ")\"]\n", c->cum[id]);
    }
    for (size_t e = 0; e < c->n_edges; e++) {
        const dot_edge_t *ed = &c->edges[e];
        if (!c->rank[ed->from] || !c->rank[ed->to]) continue;
        int pen = 1 + (int)(5 * pct(ed->w, total) / 100.0);
        sc_buf_printf(out, "N%u -> N%u [label=\" %" PRId64 "\" weight=%d penwidth=%d]\n",
                      c->rank[ed->from], c->rank[ed->to], ed->w, 1 + (int)pct(ed->w, total), pen);
    }
    sc_buf_puts(out, "}\n");
}

typedef struct dot_rank {
    int64_t cum;
    uint32_t id;
} dot_rank_t;

static int cum_desc(const void *x, const void *y)
{
    const dot_rank_t *a = x, *b = y;
    if (a->cum != b->cum) return a->cum > b->cum ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int sc_querier_dot(const sc_ftree_t *t, sc_str_t sample_type, int64_t max_nodes, sc_buf_t *out)
{
    dot_ctx_t c = {0};
    c.nodes = sc_ftree_nodes(t, &c.n_nodes);
    if (c.n_nodes <= 1) return 0; /* no data: empty text */
    for (uint32_t i = 1; i < c.n_nodes; i++) {
        if (c.nodes[i].name + 1 > c.n_names) c.n_names = c.nodes[i].name + 1;
    }
    c.flat = calloc(c.n_names, sizeof(*c.flat));
    c.cum = calloc(c.n_names, sizeof(*c.cum));
    c.on_path = calloc(c.n_names, sizeof(*c.on_path));
    c.rank = calloc(c.n_names, sizeof(*c.rank));
    c.edges = malloc(sizeof(*c.edges) * c.n_nodes);
    uint32_t *order = malloc(sizeof(*order) * c.n_names);
    dot_rank_t *by_cum = malloc(sizeof(*by_cum) * c.n_names);
    int rc = -SC_E_NOMEM;
    if (!c.flat || !c.cum || !c.on_path || !c.rank || !c.edges || !order || !by_cum) goto out;
    if ((rc = walk(&c)) < 0) goto out;
    /* Merge parallel edges (the same caller -> callee under different paths). */
    qsort(c.edges, c.n_edges, sizeof(*c.edges), edge_cmp);
    size_t m = 0;
    for (size_t e = 0; e < c.n_edges; e++) {
        if (m && c.edges[m - 1].from == c.edges[e].from && c.edges[m - 1].to == c.edges[e].to) {
            c.edges[m - 1].w += c.edges[e].w;
        } else {
            c.edges[m++] = c.edges[e];
        }
    }
    c.n_edges = m;
    uint32_t n_used = 0;
    for (uint32_t id = 0; id < c.n_names; id++) {
        if (c.cum[id] || c.flat[id]) by_cum[n_used++] = (dot_rank_t){.cum = c.cum[id], .id = id};
    }
    qsort(by_cum, n_used, sizeof(*by_cum), cum_desc);
    for (uint32_t k = 0; k < n_used; k++)
        order[k] = by_cum[k].id;
    uint64_t limit = max_nodes > 0 ? (uint64_t)max_nodes : DOT_DEFAULT_NODES;
    uint32_t shown = n_used < limit ? n_used : (uint32_t)limit;
    for (uint32_t k = 0; k < shown; k++)
        c.rank[order[k]] = k + 1;
    emit(&c, t, sample_type, order, shown, out);
    rc = out->failed ? -SC_E_TOO_LARGE : 0;
out:
    free(c.flat);
    free(c.cum);
    free(c.on_path);
    free(c.rank);
    free(c.edges);
    free(order);
    free(by_cum);
    return rc;
}
