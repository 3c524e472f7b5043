/* The region table (see region.h): an AVL tree of non-overlapping page ranges
 * keyed by start address.  No parent pointers, to keep a region small: ordered
 * walks search from the root, which is O(log n) like the rest. */
#include "region.h"

#include <stdlib.h>
#include <string.h>

static int height(const struct wm_region *n) { return n ? n->height : 0; }

static void update(struct wm_region *n)
{
    int l = height(n->left), r = height(n->right);
    n->height = (int8_t)((l > r ? l : r) + 1);
}

static struct wm_region *rotate_right(struct wm_region *n)
{
    struct wm_region *l = n->left;
    n->left = l->right;
    l->right = n;
    update(n);
    update(l);
    return l;
}

static struct wm_region *rotate_left(struct wm_region *n)
{
    struct wm_region *r = n->right;
    n->right = r->left;
    r->left = n;
    update(n);
    update(r);
    return r;
}

static struct wm_region *rebalance(struct wm_region *n)
{
    update(n);
    int bal = height(n->left) - height(n->right);
    if (bal > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (bal < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

static struct wm_region *insert_node(struct wm_region *n, struct wm_region *r)
{
    if (!n)
        return r;
    if (r->start < n->start)
        n->left = insert_node(n->left, r);
    else
        n->right = insert_node(n->right, r);
    return rebalance(n);
}

/* Detach the minimum of subtree n into *min; returns the new subtree. */
static struct wm_region *remove_min(struct wm_region *n, struct wm_region **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return rebalance(n);
}

static struct wm_region *remove_node(struct wm_region *n, const struct wm_region *r)
{
    if (!n)
        return NULL;
    if (r->start < n->start) {
        n->left = remove_node(n->left, r);
    } else if (r->start > n->start) {
        n->right = remove_node(n->right, r);
    } else {
        struct wm_region *l = n->left, *rt = n->right, *min;
        if (!rt)
            return l;
        rt = remove_min(rt, &min);
        min->left = l;
        min->right = rt;
        return rebalance(min);
    }
    return rebalance(n);
}

struct wm_region *wm_region_find(const struct wm_region_table *t, uintptr_t addr)
{
    struct wm_region *n = t->root;
    while (n) {
        if (addr < n->start)
            n = n->left;
        else if (addr >= n->end)
            n = n->right;
        else
            return n;
    }
    return NULL;
}

struct wm_region *wm_region_first_from(const struct wm_region_table *t, uintptr_t addr)
{
    struct wm_region *n = t->root, *best = NULL;
    while (n) {
        if (n->end > addr) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

struct wm_region *wm_region_next(const struct wm_region_table *t, const struct wm_region *r)
{
    return wm_region_first_from(t, r->end);
}

struct wm_region *wm_region_prev(const struct wm_region_table *t, const struct wm_region *r)
{
    struct wm_region *n = t->root, *best = NULL;
    while (n) {
        if (n->start < r->start) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

int wm_region_overlaps(const struct wm_region_table *t, uintptr_t start, uintptr_t end)
{
    struct wm_region *r = wm_region_first_from(t, start);
    return r && r->start < end;
}

void wm_region_insert(struct wm_region_table *t, struct wm_region *r)
{
    r->left = r->right = NULL;
    r->height = 1;
    t->root = insert_node(t->root, r);
    t->count++;
}

void wm_region_remove(struct wm_region_table *t, struct wm_region *r)
{
    t->root = remove_node(t->root, r);
    r->left = r->right = NULL;
    t->count--;
}

struct wm_region *wm_region_split_at(struct wm_region_table *t, struct wm_region *r, uintptr_t addr)
{
    struct wm_region *hi = malloc(sizeof *hi);
    if (!hi)
        return NULL;
    *hi = *r;
    hi->start = addr;
    hi->offset = r->offset + (addr - r->start);
    r->end = addr;
    if (t->on_dup)
        t->on_dup(hi);
    wm_region_insert(t, hi);
    return hi;
}

int wm_region_try_merge_next(struct wm_region_table *t, struct wm_region *r,
                             void (*free_fn)(struct wm_region *))
{
    struct wm_region *n = wm_region_next(t, r);
    if (!n || n->start != r->end || n->backing != r->backing || n->vstart != r->vstart ||
        n->flags != r->flags || n->prot != r->prot || n->advice != r->advice ||
        n->offset != r->offset + (r->end - r->start))
        return 0;
    wm_region_remove(t, n);
    r->end = n->end;
    free_fn(n);
    return 1;
}

struct check_state {
    size_t page, count;
    uintptr_t last_end;
    int any;
    const char *err;
};

static int check_node(const struct wm_region *n, struct check_state *s)
{
    if (!n || s->err)
        return 0;
    int hl = check_node(n->left, s);
    if (s->err)
        return 0;
    if (n->start >= n->end)
        s->err = "empty or inverted region";
    else if (n->start % s->page || n->end % s->page)
        s->err = "region not page aligned";
    else if (s->any && n->start < s->last_end)
        s->err = "regions overlap or are out of order";
    s->last_end = n->end;
    s->any = 1;
    s->count++;
    int hr = check_node(n->right, s);
    int h = (hl > hr ? hl : hr) + 1;
    if (!s->err && (hl - hr > 1 || hr - hl > 1))
        s->err = "tree out of balance";
    if (!s->err && n->height != h)
        s->err = "stale height";
    return h;
}

const char *wm_region_check(const struct wm_region_table *t, size_t page)
{
    struct check_state s;
    memset(&s, 0, sizeof s);
    s.page = page;
    check_node(t->root, &s);
    if (!s.err && s.count != t->count)
        s.err = "count does not match the tree";
    return s.err;
}
