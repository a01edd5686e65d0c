/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check.c - the invariant checker's core: creating it and hooking it into
 * the VM as its observer, per-thread state, reporting, and the three kinds
 * of check (all, touched, leak). The invariants themselves live in the
 * other check_*.c files (see check.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdpsim/check.h>

#include "check.h"

/* ---- invariant IDs (../shared/spec/invariants.md) ---- */

static const struct {
	const char *name;
	bool active;			/* checked by this build */
} invariants[CK_INV_NR] = {
	[CK_SPTE_FORMAT] = { "spte-format", true },
	[CK_PFN_STABLE] = { "pfn-stable", true },
	[CK_PT_LINKAGE] = { "pt-linkage", true },
	[CK_ATTR_ROOT] = { "attr-root", true },
	[CK_ATTR_UNIFORM] = { "attr-uniform", true },
	[CK_GMEM_BACKING] = { "gmem-backing", true },
	[CK_LPAGE] = { "lpage", true },
	[CK_LPAGE_INFO] = { "lpage-info", true },
	[CK_BOUNDARY] = { "boundary", true },		/* mirror roots */
	[CK_ACCEPT_LEVEL] = { "accept-level", true },
	[CK_DIRTY_LOG] = { "dirty-log", true },
	[CK_TLB] = { "tlb", true },
	[CK_MIRROR_SYNC] = { "mirror-sync", true },
	[CK_SEAMCALL] = { "seamcall", true },
	[CK_PAMT] = { "pamt", true },
	[CK_HKID] = { "hkid", true },
	[CK_LOCK] = { "lock", true },
	[CK_NO_SLEEP] = { "no-sleep", true },
	[CK_RCU] = { "rcu", true },
	[CK_LEAK] = { "leak", true },
	[CK_PROGRESS] = { "progress", true },
};

const char *ck_inv_name(enum ck_inv inv)
{
	return (unsigned int)inv < CK_INV_NR ? invariants[inv].name : "?";
}

int tdpsim_invariant_lookup(const char *id, bool *ret_active)
{
	if (!id)
		return -ENOENT;
	for (unsigned int i = 0; i < CK_INV_NR; i++) {
		if (!strcmp(invariants[i].name, id)) {
			if (ret_active)
				*ret_active = invariants[i].active;
			return 0;
		}
	}
	return -ENOENT;
}

const char *tdpsim_invariant_name(unsigned int idx)
{
	return idx < CK_INV_NR ? invariants[idx].name : NULL;
}

/* ---- per-thread state ---- */

static _Atomic uint64_t next_uid = 1;

/* The last checker this thread reported to, and its state there. */
static _Thread_local uint64_t tl_uid;
static _Thread_local struct ck_thread *tl_thread;
/* Depth of the checker's own calls into the VM on this thread. */
static _Thread_local unsigned int tl_inside;

void ck_enter(void)
{
	tl_inside++;
}

void ck_leave(void)
{
	tl_inside--;
}

bool ck_inside(void)
{
	return tl_inside > 0;
}

static struct ck_thread *thread_new(struct tdpsim_checker *c)
{
	struct ck_thread *t;

	if (c->nr_threads == c->cap_threads) {
		unsigned int cap = c->cap_threads ? 2 * c->cap_threads : 8;
		struct ck_thread **v = realloc(c->threads, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->threads = v;
		c->cap_threads = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (pthread_mutex_init(&t->lock, NULL)) {
		free(t);
		return NULL;
	}
	t->self = pthread_self();
	t->nr = c->nr_threads;
	c->threads[c->nr_threads++] = t;
	return t;
}

struct ck_thread *ck_self(struct tdpsim_checker *c)
{
	struct ck_thread *t = NULL;

	if (tl_uid == c->uid)
		return tl_thread;
	pthread_mutex_lock(&c->threads_lock);
	for (unsigned int i = 0; i < c->nr_threads; i++) {
		if (pthread_equal(c->threads[i]->self, pthread_self())) {
			t = c->threads[i];
			break;
		}
	}
	if (!t)
		t = thread_new(c);
	pthread_mutex_unlock(&c->threads_lock);
	if (!t) {
		atomic_store(&c->lost, true);
		return NULL;
	}
	tl_uid = c->uid;
	tl_thread = t;
	return t;
}

static void thread_free(struct ck_thread *t)
{
	pthread_mutex_destroy(&t->lock);
	ck_ranges_free(&t->tlb);
	ck_ranges_free(&t->touched);
	ck_lpents_free(&t->lpage);
	free(t);
}

/* ---- reporting ---- */

void ck_report(struct tdpsim_checker *c, enum ck_inv inv,
	       const struct ck_where *w, const char *fmt, ...)
{
	struct tdpsim_violation v;
	size_t len, cap = sizeof(v.what);
	va_list ap;

	memset(&v, 0, sizeof(v));
	v.id = ck_inv_name(inv);
	va_start(ap, fmt);
	vsnprintf(v.what, cap, fmt, ap);
	va_end(ap);
	if (w) {
		v.gfn = w->gfn;
		v.level = w->level;
		v.role = w->role;
		v.old_spte = w->old_spte;
		v.new_spte = w->new_spte;
		v.transition = w->transition;
		len = strlen(v.what);
		if (w->level && len < cap)
			len += snprintf(v.what + len, cap - len,
					", gfn 0x%" PRIx64 " level %s",
					w->gfn, tdpsim_level_name(w->level));
		if (w->has_root && len < cap)
			len += snprintf(v.what + len, cap - len, ", %s root",
					ck_role_name(w->role));
		if (w->has_old && len < cap)
			len += snprintf(v.what + len, cap - len,
					" (old 0x%016" PRIx64 ", new 0x%016" PRIx64 ")",
					w->old_spte, w->new_spte);
		else if (w->has_spte && len < cap)
			snprintf(v.what + len, cap - len, " (spte 0x%016" PRIx64 ")",
				 w->new_spte);
	}
	atomic_fetch_add(&c->nr_total, 1);
	atomic_fetch_add(&c->nr_since, 1);
	if (!c->fn)
		return;
	pthread_mutex_lock(&c->report_lock);
	c->fn(c->opaque, &v);
	pthread_mutex_unlock(&c->report_lock);
}

uint64_t tdpsim_checker_violations(const struct tdpsim_checker *c)
{
	return c ? atomic_load(&((struct tdpsim_checker *)c)->nr_total) : 0;
}

/* ---- the observer ---- */

static void obs_spte_changed(void *opaque, const struct tdpsim_spte_change *ch)
{
	struct tdpsim_checker *c = opaque;
	struct ck_thread *t;

	if (ck_inside())
		return;
	ck_enter();
	t = ck_self(c);
	if (t) {
		pthread_mutex_lock(&t->lock);
		ck_ranges_add(&t->touched, ch->role, ch->gfn,
			      ch->gfn + ck_pages(ch->level > 0 ? ch->level : 1));
		pthread_mutex_unlock(&t->lock);
		ck_lock_spte_changed(c, t, ch);
	}
	ck_spte_transition(c, ch);
	ck_lpage_install(c, ch);
	ck_dirty_transition(c, ch);
	ck_tdx_transition(c, ch);
	ck_leave();
}

const struct tdpsim_observer ck_observer_ops = {
	.spte_changed = obs_spte_changed,
	.mmu_lock = ck_obs_mmu_lock,
	.tlb_flush = ck_obs_tlb_flush,
	.rcu_read = ck_obs_rcu_read,
	.pt_unlinked = ck_obs_pt_unlinked,
	.pt_freed = ck_obs_pt_freed,
	.alloc = ck_obs_alloc,
	.lpage_access = ck_obs_lpage_access,
	.fault_stuck = ck_obs_fault_stuck,
	.private_zap = ck_obs_private_zap,
};

/* ---- memslots ---- */

void ck_slots_free(struct ck_slots *slots)
{
	free(slots->s);
	slots->s = NULL;
	slots->nr = 0;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct tdpsim_memslot_info *x = a, *y = b;

	if (x->base_gfn != y->base_gfn)
		return x->base_gfn < y->base_gfn ? -1 : 1;
	return 0;
}

int ck_slots_read(struct tdpsim_checker *c, struct ck_slots *slots)
{
	struct tdpsim_memslot_info info, *s = NULL;
	unsigned int nr = 0, cap = 0;

	ck_enter();
	while (!tdpsim_vm_memslot_at(c->vm, nr, &info)) {
		if (nr == cap) {
			struct tdpsim_memslot_info *n;

			cap = cap ? 2 * cap : 16;
			n = realloc(s, cap * sizeof(*n));
			if (!n) {
				free(s);
				ck_leave();
				return -ENOMEM;
			}
			s = n;
		}
		s[nr++] = info;
	}
	ck_leave();
	/* GFN order is promised; do not depend on it. */
	if (nr > 1)
		qsort(s, nr, sizeof(*s), slot_cmp);
	slots->s = s;
	slots->nr = nr;
	return 0;
}

const struct tdpsim_memslot_info *ck_slot_from(const struct ck_slots *slots,
					       tdpsim_gfn_t gfn)
{
	unsigned int lo = 0, hi = slots->nr;

	/* The first slot whose end is above @gfn. */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct tdpsim_memslot_info *s = &slots->s[mid];

		if (s->base_gfn + s->npages <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < slots->nr ? &slots->s[lo] : NULL;
}

const struct tdpsim_memslot_info *ck_slot_find(const struct ck_slots *slots,
					       tdpsim_gfn_t gfn)
{
	const struct tdpsim_memslot_info *s = ck_slot_from(slots, gfn);

	return s && s->base_gfn <= gfn ? s : NULL;
}

int ck_slot_now(struct tdpsim_checker *c, tdpsim_gfn_t gfn,
		struct tdpsim_memslot_info *ret_slot)
{
	struct tdpsim_memslot_info info;
	int ret = -ENOENT;

	ck_enter();
	for (unsigned int i = 0; !tdpsim_vm_memslot_at(c->vm, i, &info); i++) {
		if (gfn >= info.base_gfn && gfn - info.base_gfn < info.npages) {
			*ret_slot = info;
			ret = 0;
			break;
		}
	}
	ck_leave();
	return ret;
}

static const struct tdpsim_memslot_info *slot_by_id(const struct ck_slots *slots,
						    uint32_t id)
{
	for (unsigned int i = 0; i < slots->nr; i++) {
		if (slots->s[i].id == id)
			return &slots->s[i];
	}
	return NULL;
}

static bool slot_same(const struct tdpsim_memslot_info *a,
		      const struct tdpsim_memslot_info *b)
{
	return a->id == b->id && a->base_gfn == b->base_gfn &&
	       a->npages == b->npages && a->host_page_level == b->host_page_level &&
	       a->readonly == b->readonly && a->dirty_logging == b->dirty_logging &&
	       a->manual_protect == b->manual_protect && a->gmem_id == b->gmem_id &&
	       a->gmem_offset == b->gmem_offset && a->host_pfn == b->host_pfn;
}

/* ---- create / destroy ---- */

int tdpsim_checker_create(struct tdpsim_vm *vm, tdpsim_violation_fn fn,
			  void *opaque, struct tdpsim_checker **ret_checker)
{
	const struct tdpsim_vm_config *cfg;
	struct tdpsim_checker *c;
	const void *root;
	int level;

	if (!vm || !ret_checker)
		return -EINVAL;
	cfg = tdpsim_vm_get_config(vm);
	if (!cfg)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->uid = atomic_fetch_add(&next_uid, 1);
	c->fn = fn;
	c->opaque = opaque;
	c->type = cfg->type;
	c->has_private = cfg->type != TDPSIM_VM_DEFAULT;
	c->root_level = cfg->levels ? (int)cfg->levels : 4;
	if (!tdpsim_vm_root(vm, TDPSIM_ROOT_DIRECT, &level, &root) &&
	    level >= 4 && level <= 5)
		c->root_level = level;
	c->gfn_limit = 1ULL << (9 * c->root_level);
	if (c->type == TDPSIM_VM_TDX)
		c->direct_bits = 1ULL << (c->root_level == 5 ? 51 - 12 : 47 - 12);
	pthread_mutex_init(&c->report_lock, NULL);
	pthread_mutex_init(&c->threads_lock, NULL);
	pthread_mutex_init(&c->pt_lock, NULL);
	pthread_mutex_init(&c->state_lock, NULL);
	for (int role = TDPSIM_ROOT_DIRECT; role <= TDPSIM_ROOT_MIRROR; role++) {
		if (!tdpsim_vm_root(vm, (enum tdpsim_root_role)role, &level, &root) &&
		    root)
			ck_note_root(c, root);
	}
	tdpsim_vm_set_observer(vm, &ck_observer_ops, c);
	*ret_checker = c;
	return 0;
}

void tdpsim_checker_destroy(struct tdpsim_checker *c)
{
	if (!c)
		return;
	if (c->vm)
		tdpsim_vm_set_observer(c->vm, NULL, NULL);
	for (unsigned int i = 0; i < c->nr_threads; i++)
		thread_free(c->threads[i]);
	free(c->threads);
	ck_rcu_free(c);
	ck_gmem_free(c);
	ck_map_free(&c->freed);
	ck_map_free(&c->inhibit);
	ck_slots_free(&c->slots);
	ck_attr_runs_free(&c->attrs);
	ck_ranges_free(&c->extra);
	free(c->eager);
	free(c->accepts);
	pthread_mutex_destroy(&c->report_lock);
	pthread_mutex_destroy(&c->threads_lock);
	pthread_mutex_destroy(&c->pt_lock);
	pthread_mutex_destroy(&c->state_lock);
	free(c);
}

/* ---- the checks ---- */

/* What the observer saw since the last check, gathered from every thread. */
struct ck_drained {
	struct ck_ranges touched;
	struct ck_lpents lpage;
	bool write_locked;
	bool lost;
};

static void drain(struct tdpsim_checker *c, struct ck_drained *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_lock(&c->threads_lock);
	for (unsigned int i = 0; i < c->nr_threads; i++) {
		struct ck_thread *t = c->threads[i];

		pthread_mutex_lock(&t->lock);
		ck_ranges_append(&d->touched, &t->touched);
		for (size_t j = 0; j < t->lpage.nr; j++)
			ck_lpents_add(&d->lpage, t->lpage.e[j].slot_id,
				      t->lpage.e[j].level, t->lpage.e[j].idx);
		if (t->lpage.overflow)
			d->lpage.overflow = true;
		d->write_locked |= t->write_locked;
		d->lost |= t->lost;
		ck_ranges_reset(&t->touched);
		t->lpage.nr = 0;
		t->lpage.overflow = false;
		t->write_locked = false;
		t->lost = false;
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&c->threads_lock);
	if (atomic_exchange(&c->lost, false))
		d->lost = true;
	pthread_mutex_lock(&c->state_lock);
	ck_ranges_append(&d->touched, &c->extra);
	ck_ranges_reset(&c->extra);
	pthread_mutex_unlock(&c->state_lock);
}

static void drained_free(struct ck_drained *d)
{
	ck_ranges_free(&d->touched);
	ck_lpents_free(&d->lpage);
}

/* True once the VM was torn down: only `leak` can be checked then. */
static bool torn_down(struct tdpsim_checker *c)
{
	const void *root;
	int level, ret;

	ck_enter();
	ret = tdpsim_vm_root(c->vm, TDPSIM_ROOT_DIRECT, &level, &root);
	ck_leave();
	return ret == -ENODEV;
}

/* A slot that is gone (or changed): drop what the checker kept about it. */
static void slot_gone(struct tdpsim_checker *c, const struct tdpsim_memslot_info *old,
		      const struct ck_slots *now)
{
	const struct tdpsim_memslot_info *s = slot_by_id(now, old->id);

	if (!s || s->base_gfn != old->base_gfn || s->npages != old->npages)
		ck_lpage_forget_slot(c, old->id);
	if (!s || !s->dirty_logging || s->base_gfn != old->base_gfn ||
	    s->npages != old->npages)
		ck_eager_forget(c, old->id);
}

/* Take @now as the checker's view of the memslots. */
static void slots_replace(struct tdpsim_checker *c, struct ck_slots *now)
{
	if (c->slots_valid) {
		for (unsigned int i = 0; i < c->slots.nr; i++)
			slot_gone(c, &c->slots.s[i], now);
	}
	/* Slots already off before the checker saw them: no eager record. */
	for (unsigned int i = 0; i < now->nr; i++) {
		if (!now->s[i].dirty_logging)
			ck_eager_forget(c, now->s[i].id);
	}
	ck_slots_free(&c->slots);
	c->slots = *now;
	c->slots_valid = true;
	memset(now, 0, sizeof(*now));
}

static int full_check(struct tdpsim_checker *c)
{
	struct ck_attr_cursor cur = { 0 };
	struct ck_drained d;
	struct ck_slots now;
	uint64_t tables = 0, n;
	int ret;

	drain(c, &d);
	drained_free(&d);
	ret = ck_slots_read(c, &now);
	if (ret)
		return ret;
	slots_replace(c, &now);
	ck_attr_runs_free(&c->attrs);
	ret = ck_attr_runs_read(c, &c->attrs);
	if (ret)
		return ret;

	for (int role = TDPSIM_ROOT_DIRECT; role <= TDPSIM_ROOT_MIRROR; role++) {
		ret = ck_walk_root(c, (enum tdpsim_root_role)role, &c->slots, NULL, &n);
		if (ret == -ENOENT)
			continue;
		if (ret)
			return ret;
		tables += n;
	}
	for (unsigned int i = 0; i < c->slots.nr; i++)
		ck_lpage_info_slot(c, &c->slots.s[i], &cur);
	ck_pt_counts(c, tables, true);
	ck_tdx_quiescent(c);
	return 0;
}

/* Most attribute runs the touched check re-reads to see what changed. */
#define CK_ATTR_RUNS_TOUCHED	1024

/* Queue both huge levels of @slot's entries covering [start, end). */
static void lpq_range(struct ck_lpq *q, const struct tdpsim_memslot_info *slot,
		      tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	for (int level = TDPSIM_LEVEL_2M; level <= CK_MAX_HUGE_LEVEL; level++)
		ck_lpq_add(q, slot, level, start, end);
}

/* Both roots over [start, end). */
static void touch(struct ck_ranges *rs, tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	ck_ranges_add(rs, TDPSIM_ROOT_DIRECT, start, end);
	ck_ranges_add(rs, TDPSIM_ROOT_MIRROR, start, end);
}

static int touched_check(struct tdpsim_checker *c)
{
	struct ck_attr_cursor cur = { 0 };
	struct ck_attr_runs runs = { 0 };
	struct ck_ranges changed = { 0 };
	struct ck_lpq lpq = { 0 };
	bool slots_changed = false;
	struct ck_drained d;
	struct ck_slots now;
	int ret;

	if (!c->slots_valid || !c->attrs.valid)
		return full_check(c);
	drain(c, &d);
	if (d.lost || d.touched.overflow || d.lpage.overflow) {
		drained_free(&d);
		return full_check(c);
	}
	ret = ck_slots_read(c, &now);
	if (ret)
		goto out;

	/*
	 * Memslots that changed (created, deleted, dirty logging toggled):
	 * their whole range in both roots, and all their lpage_info.
	 */
	for (unsigned int i = 0; i < c->slots.nr; i++) {
		const struct tdpsim_memslot_info *o = &c->slots.s[i];
		const struct tdpsim_memslot_info *s = slot_by_id(&now, o->id);

		if (s && slot_same(s, o))
			continue;
		slots_changed = true;
		touch(&d.touched, o->base_gfn, o->base_gfn + o->npages);
	}
	for (unsigned int i = 0; i < now.nr; i++) {
		const struct tdpsim_memslot_info *s = &now.s[i];
		const struct tdpsim_memslot_info *o = slot_by_id(&c->slots, s->id);

		if (o && slot_same(s, o))
			continue;
		slots_changed = true;
		touch(&d.touched, s->base_gfn, s->base_gfn + s->npages);
		lpq_range(&lpq, s, s->base_gfn, s->base_gfn + s->npages);
	}
	slots_replace(c, &now);

	/*
	 * Attributes: where they matter (a memslot covers them) they change
	 * only with mmu_lock held for write; a new slot sees them all. The
	 * ranges that changed: their mappings and their lpage_info. Finding
	 * them costs a read of every run, so past CK_ATTR_RUNS_TOUCHED runs
	 * the touched check leaves them to the zaps and lpage_info writes the
	 * observer saw, and to the next full check.
	 */
	if (slots_changed ||
	    (d.write_locked && c->attrs.nr <= CK_ATTR_RUNS_TOUCHED)) {
		ret = ck_attr_runs_read(c, &runs);
		if (ret)
			goto out;
		ck_attr_runs_diff(&c->attrs, &runs, &changed);
		ck_attr_runs_free(&c->attrs);
		c->attrs = runs;
		if (changed.overflow) {
			ret = full_check(c);
			goto out;
		}
		for (size_t i = 0; i < changed.nr; i++) {
			const struct ck_range *r = &changed.r[i];
			const struct tdpsim_memslot_info *s;

			touch(&d.touched, r->start, r->end);
			for (s = ck_slot_from(&c->slots, r->start);
			     s && s < c->slots.s + c->slots.nr && s->base_gfn < r->end; s++)
				lpq_range(&lpq, s, r->start, r->end);
		}
	}

	/* lpage_info entries the model wrote. */
	for (size_t i = 0; i < d.lpage.nr; i++) {
		const struct ck_lpent *e = &d.lpage.e[i];
		const struct tdpsim_memslot_info *s = slot_by_id(&c->slots, e->slot_id);
		unsigned int shift;
		tdpsim_gfn_t g;

		if (!s || e->level < TDPSIM_LEVEL_2M || e->level > CK_MAX_HUGE_LEVEL)
			continue;
		shift = 9 * (unsigned int)(e->level - 1);
		g = ((s->base_gfn >> shift) + e->idx) << shift;
		ck_lpq_add(&lpq, s, e->level, g, g + 1);
	}

	if (d.touched.overflow || lpq.overflow) {
		ret = full_check(c);
		goto out;
	}
	ck_lpq_run(c, &lpq, &c->slots, &cur);
	ck_ranges_normalize(&d.touched);
	for (int role = TDPSIM_ROOT_DIRECT; role <= TDPSIM_ROOT_MIRROR; role++) {
		ret = ck_walk_root(c, (enum tdpsim_root_role)role, &c->slots,
				   &d.touched, NULL);
		if (ret == -ENOENT)
			continue;
		if (ret)
			goto out;
	}
	ret = 0;
	ck_pt_counts(c, 0, false);
	ck_tdx_quiescent(c);
out:
	ck_ranges_free(&changed);
	ck_lpq_free(&lpq);
	drained_free(&d);
	return ret;
}

/* The count a check_*() returns: everything reported since the last one. */
static int finish(struct tdpsim_checker *c, int ret)
{
	uint64_t n = atomic_exchange(&c->nr_since, 0);

	if (ret < 0)
		return ret;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int tdpsim_checker_check_all(struct tdpsim_checker *c)
{
	int ret = 0;

	if (!c)
		return -EINVAL;
	ck_enter();
	if (!torn_down(c))
		ret = full_check(c);
	ck_leave();
	return finish(c, ret);
}

int tdpsim_checker_check_touched(struct tdpsim_checker *c)
{
	int ret = 0;

	if (!c)
		return -EINVAL;
	ck_enter();
	if (!torn_down(c))
		ret = touched_check(c);
	ck_leave();
	return finish(c, ret);
}

int tdpsim_checker_check_leak(struct tdpsim_checker *c,
			      const uint64_t baseline[TDPSIM_ALLOC_KIND_NR])
{
	static const uint64_t zero[TDPSIM_ALLOC_KIND_NR];
	struct tdpsim_counters *ctr;
	uint64_t live, pending;

	if (!c)
		return -EINVAL;
	if (!baseline)
		baseline = zero;
	ck_enter();
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++) {
		if (k == TDPSIM_ALLOC_KIND_VM)
			continue;
		live = tdpsim_vm_alloc_live(c->vm, (enum tdpsim_alloc_kind)k);
		/* Fewer is not a leak: what existed at the baseline (the
		 * root made with the VM, the empty memslot set) goes too. */
		if (live > baseline[k])
			ck_report(c, CK_LEAK, NULL,
				  "%" PRIu64 " '%s' allocations live after teardown, %"
				  PRIu64 " at the baseline",
				  live, tdpsim_alloc_kind_name((enum tdpsim_alloc_kind)k),
				  baseline[k]);
	}
	live = tdpsim_vm_alloc_live(c->vm, TDPSIM_ALLOC_KIND_PT);
	if (live)
		ck_report(c, CK_LEAK, NULL,
			  "%" PRIu64 " page-table pages still allocated after teardown",
			  live);
	ctr = tdpsim_vm_counters(c->vm);
	if (ctr && tdpsim_counters_get(ctr, TDPSIM_STAT_PT_LIVE))
		ck_report(c, CK_LEAK, NULL,
			  "counter pt.live is %" PRIu64 " after teardown",
			  tdpsim_counters_get(ctr, TDPSIM_STAT_PT_LIVE));
	pending = tdpsim_vm_rcu_pending(c->vm);
	if (pending)
		ck_report(c, CK_LEAK, NULL,
			  "%" PRIu64 " page tables still wait for RCU after teardown",
			  pending);
	ck_rcu_leak(c);
	ck_tdx_leak(c);
	ck_leave();
	return finish(c, 0);
}
