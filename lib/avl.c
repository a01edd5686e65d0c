/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * avl.c - the intrusive AVL tree of avl.h.
 *
 * Heights are kept exactly; after an insert or an erase the path to the
 * root is retraced and every node on it rebalanced with at most a double
 * rotation.
 */
#include <errno.h>
#include <stddef.h>

#include "avl.h"

static inline int height(const struct avl_node *n)
{
	return n ? n->height : 0;
}

static inline void update_height(struct avl_node *n)
{
	int l = height(n->left), r = height(n->right);

	n->height = (l > r ? l : r) + 1;
}

/* Make @parent (or the root) point at @new where it pointed at @old. */
static void replace_child(struct avl_root *root, struct avl_node *parent,
			  struct avl_node *old, struct avl_node *new)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

static struct avl_node *rotate_left(struct avl_root *root, struct avl_node *x)
{
	struct avl_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	replace_child(root, x->parent, x, y);
	y->left = x;
	x->parent = y;
	update_height(x);
	update_height(y);
	return y;
}

static struct avl_node *rotate_right(struct avl_root *root, struct avl_node *x)
{
	struct avl_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	replace_child(root, x->parent, x, y);
	y->right = x;
	x->parent = y;
	update_height(x);
	update_height(y);
	return y;
}

/* Restore the AVL property at @n; returns the subtree's new top. */
static struct avl_node *rebalance(struct avl_root *root, struct avl_node *n)
{
	int balance = height(n->left) - height(n->right);

	if (balance > 1) {
		if (height(n->left->left) < height(n->left->right))
			rotate_left(root, n->left);
		return rotate_right(root, n);
	}
	if (balance < -1) {
		if (height(n->right->right) < height(n->right->left))
			rotate_right(root, n->right);
		return rotate_left(root, n);
	}
	update_height(n);
	return n;
}

static void retrace(struct avl_root *root, struct avl_node *n)
{
	while (n) {
		n = rebalance(root, n);
		n = n->parent;
	}
}

int avl_insert(struct avl_root *root, struct avl_node *n)
{
	struct avl_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (n->key < parent->key)
			link = &parent->left;
		else if (n->key > parent->key)
			link = &parent->right;
		else
			return -EEXIST;
	}
	n->left = NULL;
	n->right = NULL;
	n->parent = parent;
	n->height = 1;
	*link = n;
	root->count++;
	retrace(root, parent);
	return 0;
}

void avl_erase(struct avl_root *root, struct avl_node *n)
{
	struct avl_node *fix;

	if (n->left && n->right) {
		/* Put the successor (leftmost of the right subtree) in n's place. */
		struct avl_node *s = n->right;

		while (s->left)
			s = s->left;
		if (s->parent != n) {
			struct avl_node *sp = s->parent;

			sp->left = s->right;
			if (s->right)
				s->right->parent = sp;
			s->right = n->right;
			n->right->parent = s;
			fix = sp;
		} else {
			fix = s;
		}
		s->left = n->left;
		n->left->parent = s;
		s->parent = n->parent;
		replace_child(root, n->parent, n, s);
		s->height = n->height;
	} else {
		struct avl_node *child = n->left ? n->left : n->right;

		if (child)
			child->parent = n->parent;
		replace_child(root, n->parent, n, child);
		fix = n->parent;
	}
	root->count--;
	n->left = n->right = n->parent = NULL;
	retrace(root, fix);
}

struct avl_node *avl_find(const struct avl_root *root, uint64_t key)
{
	struct avl_node *n = root->node;

	while (n) {
		if (key < n->key)
			n = n->left;
		else if (key > n->key)
			n = n->right;
		else
			return n;
	}
	return NULL;
}

struct avl_node *avl_floor(const struct avl_root *root, uint64_t key)
{
	struct avl_node *n = root->node, *best = NULL;

	while (n) {
		if (n->key == key)
			return n;
		if (n->key < key) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

struct avl_node *avl_ceil(const struct avl_root *root, uint64_t key)
{
	struct avl_node *n = root->node, *best = NULL;

	while (n) {
		if (n->key == key)
			return n;
		if (n->key > key) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

struct avl_node *avl_first(const struct avl_root *root)
{
	struct avl_node *n = root->node;

	if (n)
		while (n->left)
			n = n->left;
	return n;
}

struct avl_node *avl_next(const struct avl_node *n)
{
	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct avl_node *)n;
	}
	while (n->parent && n->parent->right == n)
		n = n->parent;
	return n->parent;
}

struct avl_node *avl_prev(const struct avl_node *n)
{
	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct avl_node *)n;
	}
	while (n->parent && n->parent->left == n)
		n = n->parent;
	return n->parent;
}

/* Check the subtree at @n; returns its height, or -1 if broken. */
static int check_subtree(const struct avl_node *n, const struct avl_node *parent,
			 const uint64_t *lo, const uint64_t *hi, uint64_t *count)
{
	int l, r;

	if (!n)
		return 0;
	if (n->parent != parent)
		return -1;
	if ((lo && n->key <= *lo) || (hi && n->key >= *hi))
		return -1;
	l = check_subtree(n->left, n, lo, &n->key, count);
	r = check_subtree(n->right, n, &n->key, hi, count);
	if (l < 0 || r < 0 || l - r > 1 || r - l > 1)
		return -1;
	if (n->height != (l > r ? l : r) + 1)
		return -1;
	(*count)++;
	return n->height;
}

int avl_check(const struct avl_root *root)
{
	uint64_t count = 0;

	if (check_subtree(root->node, NULL, NULL, NULL, &count) < 0)
		return -EINVAL;
	return count == root->count ? 0 : -EINVAL;
}
