/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_tdx.c - THE PLACE FOR THE TDX INVARIANTS.
 *
 * None of these is checked yet: they need state the checker cannot read
 * yet (the fake TDX Module's S-EPT, PAMT, TD lifecycle, SEAMCALL results).
 * Until then these hooks are called where the checks will run and report
 * nothing, and tdpsim_invariant_lookup() says the IDs are not active. When
 * the state can be read, fill in the hook, flip the ID's `active` flag in
 * check.c, add its firing test to tests/test-check*.c and its entry in
 * docs/invariants.md.
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
 *   boundary     (check_gmem.c does the mapping part from the private_zap
 *                event) every private GFN outside the zap keeps its S-EPT
 *                state, not only its PFN.
 *
 * ck_tdx_leaf() (each leaf of a quiescent walk): the S-EPT state of the
 * leaf against the module's (the per-leaf half of mirror-sync).
 * (gmem-backing lives in check_gmem.c.)
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
