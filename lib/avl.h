/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * avl.h - an intrusive AVL tree keyed by a 64-bit integer.
 *
 * The ordered map under guest_memfd's folios, bindings and attribute
 * ranges and under the host PFN allocator: what the kernel keeps in the
 * page cache's xarray and in maple trees. Objects embed a struct avl_node
 * and set its key before avl_insert(); keys are unique within a tree.
 * Every operation is O(log n); nothing allocates.
 *
 * No locking: the owner of the tree serialises access.
 */
#ifndef TDPSIM_AVL_H
#define TDPSIM_AVL_H

#include <stdbool.h>
#include <stdint.h>

struct avl_node {
	struct avl_node *left;
	struct avl_node *right;
	struct avl_node *parent;
	uint64_t key;			/* the sort key, set before insert */
	int height;			/* of the subtree rooted here; leaf 1 */
};

struct avl_root {
	struct avl_node *node;		/* NULL when empty */
	uint64_t count;			/* nodes in the tree */
};

#define AVL_ROOT_INIT { NULL, 0 }

/** Insert @n (its key set). Returns -EEXIST, leaving the tree unchanged,
 * if a node with the same key is already there; else 0. */
int avl_insert(struct avl_root *root, struct avl_node *n);

/** Remove @n, which must be in @root. */
void avl_erase(struct avl_root *root, struct avl_node *n);

/** The node with exactly @key, or NULL. */
struct avl_node *avl_find(const struct avl_root *root, uint64_t key);

/** The node with the greatest key <= @key, or NULL. */
struct avl_node *avl_floor(const struct avl_root *root, uint64_t key);

/** The node with the least key >= @key, or NULL. */
struct avl_node *avl_ceil(const struct avl_root *root, uint64_t key);

struct avl_node *avl_first(const struct avl_root *root);

/** In-order successor and predecessor, or NULL at the ends. */
struct avl_node *avl_next(const struct avl_node *n);
struct avl_node *avl_prev(const struct avl_node *n);

static inline bool avl_empty(const struct avl_root *root)
{
	return !root->node;
}

/*
 * avl_check() - verify ordering, parent links, heights, balance and the
 * count. For tests. Returns 0 or -EINVAL.
 */
int avl_check(const struct avl_root *root);

#endif /* TDPSIM_AVL_H */
