/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_dirty.c - dirty-log.
 *
 * - Quiescent: in a dirty-logged slot no leaf above 4K is writable, except
 *   in manual-protect (initially-set) mode, where the kernel leaves the
 *   existing mappings alone until KVM_CLEAR_DIRTY_LOG protects each window
 *   (kvm_mmu_slot_apply_flags() returns early: everything counts as
 *   dirty); once the eager split that turned logging on has completed
 *   (tdpsim_checker_note_eager_split()), no huge leaf remains in the slot
 *   while it stays dirty-logged.
 * - At each transition, in every mode: no huge leaf is installed in a
 *   dirty-logged slot (kvm_mmu_hugepage_adjust() maps 4K only), and no
 *   huge leaf is made writable there (fast page fault refuses; make_spte()
 *   WARNs).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "check.h"

/* state_lock held. */
static struct ck_eager *eager_find(struct tdpsim_checker *c, uint32_t slot_id)
{
	for (unsigned int i = 0; i < c->nr_eager; i++) {
		if (c->eager[i].slot_id == slot_id)
			return &c->eager[i];
	}
	return NULL;
}

void tdpsim_checker_note_eager_split(struct tdpsim_checker *c, uint32_t slot_id,
				     bool completed)
{
	struct tdpsim_memslot_info info;
	struct ck_eager *e;
	bool found = false;

	if (!c)
		return;
	ck_enter();
	for (unsigned int i = 0; !tdpsim_vm_memslot_at(c->vm, i, &info); i++) {
		if (info.id == slot_id) {
			found = true;
			break;
		}
	}
	ck_leave();
	pthread_mutex_lock(&c->state_lock);
	e = eager_find(c, slot_id);
	if (!e) {
		if (c->nr_eager == c->cap_eager) {
			unsigned int cap = c->cap_eager ? 2 * c->cap_eager : 8;
			struct ck_eager *n = realloc(c->eager, cap * sizeof(*n));

			if (!n) {
				pthread_mutex_unlock(&c->state_lock);
				return;
			}
			c->eager = n;
			c->cap_eager = cap;
		}
		e = &c->eager[c->nr_eager++];
		e->slot_id = slot_id;
	}
	e->completed = completed;
	/* Look at the whole slot at the next check, touched or not. */
	if (found) {
		ck_ranges_add(&c->extra, TDPSIM_ROOT_DIRECT, info.base_gfn,
			      info.base_gfn + info.npages);
		ck_ranges_add(&c->extra, TDPSIM_ROOT_MIRROR, info.base_gfn,
			      info.base_gfn + info.npages);
	}
	pthread_mutex_unlock(&c->state_lock);
}

bool ck_eager_completed(struct tdpsim_checker *c, uint32_t slot_id)
{
	struct ck_eager *e;
	bool ret;

	pthread_mutex_lock(&c->state_lock);
	e = eager_find(c, slot_id);
	ret = e && e->completed;
	pthread_mutex_unlock(&c->state_lock);
	return ret;
}

void ck_eager_forget(struct tdpsim_checker *c, uint32_t slot_id)
{
	struct ck_eager *e;

	pthread_mutex_lock(&c->state_lock);
	e = eager_find(c, slot_id);
	if (e)
		*e = c->eager[--c->nr_eager];
	pthread_mutex_unlock(&c->state_lock);
}

void ck_dirty_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e)
{
	struct tdpsim_checker *c = w->c;
	tdpsim_gfn_t gfn = e->gfn, end = gfn + ck_pages(e->level);
	const struct tdpsim_memslot_info *s;
	struct ck_where where = ck_where_entry(w, e);

	if (e->level <= TDPSIM_LEVEL_4K)
		return;
	for (s = ck_slot_from(w->slots, gfn);
	     s && s < w->slots->s + w->slots->nr && s->base_gfn < end; s++) {
		if (!s->dirty_logging)
			continue;
		if ((e->spte & CK_SPTE_W) && !s->manual_protect)
			ck_report(c, CK_DIRTY_LOG, &where,
				  "writable huge leaf in dirty-logged slot %u", s->id);
		else if (ck_eager_completed(c, s->id))
			ck_report(c, CK_DIRTY_LOG, &where,
				  "huge leaf left in dirty-logged slot %u after its "
				  "eager split completed", s->id);
	}
}

void ck_dirty_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch)
{
	uint64_t old = ch->old_spte, new = ch->new_spte;
	struct tdpsim_memslot_info slot;
	bool install, to_writable;
	struct ck_where w = ck_where_change(ch);

	if (!ck_huge_leaf(new, ch->level))
		return;
	install = !ck_huge_leaf(old, ch->level) || ck_pfn(old) != ck_pfn(new);
	to_writable = (new & CK_SPTE_W) && !(old & CK_SPTE_W);
	if (!install && !to_writable)
		return;
	if (ck_slot_now(c, ch->gfn, &slot) || !slot.dirty_logging)
		return;
	ck_report(c, CK_DIRTY_LOG, &w, "huge leaf %s in dirty-logged slot %u",
		  install ? "installed" : "made writable", slot.id);
}
