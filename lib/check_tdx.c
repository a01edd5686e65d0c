/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_tdx.c - THE PLACE FOR THE TDX AND GUEST_MEMFD INVARIANTS.
 *
 * None of these is checked yet: they need state the model does not have
 * (the fake TDX Module, guest_memfd). Until their models land, these hooks
 * are called where the checks will run and report nothing, and
 * tdpsim_invariant_lookup() says the IDs are not active. When a model
 * lands, fill in the hook, flip the ID's `active` flag in check.c, add its
 * firing test to tests/test-check*.c and its entry in docs/invariants.md.
 *
 * Planned, by hook:
 *
 * ck_tdx_quiescent() (after the walks of check_all/check_touched):
 *   mirror-sync  the mirror root and the fake module's S-EPT hold the same
 *                leaves (GFN, level, PFN) and non-leaf structure; no S-EPT
 *                entry left BLOCKED.
 *   pamt         Dynamic PAMT: every 4K page the TD owns is in a 2M region
 *                with a PAMT pair; refcount == 4K users; no pair under a
 *                2M mapping; none left without a TD.
 *   boundary     after a private zap of [start, end) (needs the event's
 *                range from the replay engine, or a zap observer event):
 *                no private leaf inside it, every private leaf outside it
 *                still mapped with the same S-EPT state.
 *   accept-level after a guest ACCEPT at level L: the private leaf is at
 *                <= L and guest-inhibit is set above L.
 *
 * ck_tdx_transition() (observer, every SPTE change):
 *   lock         mirror zap and split only under the write lock (unless
 *                lpage.inhibit-lock=read for guest-inhibit);
 *   tlb          in the mirror root, BLOCK and TRACK before REMOVE/DEMOTE;
 *   seamcall     (needs a SEAMCALL observer event) no status but BUSY and
 *                the guest-facing ACCEPT results;
 *   hkid         private leaves removed only with the HKID assigned, S-EPT
 *                pages reclaimed only after its release.
 *
 * ck_tdx_leaf() (each leaf of a quiescent walk):
 *   gmem-backing every private leaf maps exactly the guest_memfd folio
 *                pages bound to its GFNs, not above the folio's size, and
 *                no punched, freed or poisoned page.
 */
#include "check.h"

void ck_tdx_quiescent(struct tdpsim_checker *c)
{
	(void)c;
}

void ck_tdx_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch)
{
	(void)c;
	(void)ch;
}

void ck_tdx_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e)
{
	(void)w;
	(void)e;
}
