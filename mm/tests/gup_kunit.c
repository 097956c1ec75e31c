// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for get_user_pages() and pin_user_pages().
 *
 * gup_args_*: is_valid_gup_args() against a statement of the rules written
 * here, independently of mm/gup.c, over every combination of the flags a
 * caller may pass.
 *
 * gup_entry_*, gup_nowait_*, gup_invalid_*: the entry points on real user
 * memory from kunit_vm_mmap().
 *
 * Invalid arguments make GUP warn; the tests redirect that warning with a
 * KUnit static stub and count it instead, so a run of this suite leaves no
 * WARN splat in the log.
 */
#include <kunit/test.h>
#include <kunit/static_stub.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swap.h>

#include "../internal.h"

/* The FOLL_ flags of include/linux/mm_types.h, the ones callers may pass. */
#define GUP_KUNIT_CALLER_FLAGS						\
	(FOLL_WRITE | FOLL_GET | FOLL_DUMP | FOLL_FORCE | FOLL_NOWAIT |	\
	 FOLL_NOFAULT | FOLL_HWPOISON | FOLL_ANON | FOLL_LONGTERM |	\
	 FOLL_SPLIT_PMD | FOLL_PCI_P2PDMA | FOLL_INTERRUPTIBLE |		\
	 FOLL_HONOR_NUMA_FAULT)

/* The internal ones of mm/internal.h, which callers may not. */
static const unsigned int gup_kunit_internal_flags[] = {
	FOLL_TOUCH, FOLL_TRIED, FOLL_REMOTE, FOLL_PIN, FOLL_FAST_ONLY,
	FOLL_UNLOCKABLE, FOLL_MADV_POPULATE,
};

static unsigned int gup_kunit_internal_mask(void)
{
	unsigned int i, mask = 0;

	for (i = 0; i < ARRAY_SIZE(gup_kunit_internal_flags); i++)
		mask |= gup_kunit_internal_flags[i];
	return mask;
}

/* When may a call drop mmap_lock, FOLL_NOWAIT aside? */
enum gup_kunit_unlock {
	UNLOCK_NEVER,		/* the caller's lock, no @locked parameter */
	UNLOCK_IF_LOCKED,	/* the caller's lock, if @locked is passed */
	UNLOCK_ALWAYS,		/* GUP's own lock */
};

/* Each entry point's contract, as its kerneldoc states it. */
struct gup_kunit_entry {
	enum gup_entry id;
	unsigned int forced;	/* flags the entry point adds */
	bool has_locked;	/* takes a @locked parameter */
	bool needs_locked;	/* ... which may not be NULL */
	enum gup_kunit_unlock unlock;
	bool fast;		/* GUP-fast */
	bool vma;		/* single-VMA */
};

static const struct gup_kunit_entry gup_kunit_entries[] = {
	{ GUP_GET_USER_PAGES_REMOTE, FOLL_TOUCH | FOLL_REMOTE,
	  true, false, UNLOCK_IF_LOCKED },
	{ GUP_GET_USER_PAGES, FOLL_TOUCH, false, false, UNLOCK_NEVER },
	{ GUP_GET_USER_PAGES_UNLOCKED, FOLL_TOUCH,
	  false, false, UNLOCK_ALWAYS },
	{ GUP_GET_USER_PAGES_FAST_ONLY, FOLL_GET | FOLL_FAST_ONLY,
	  false, false, UNLOCK_NEVER, true },
	{ GUP_GET_USER_PAGES_FAST, FOLL_GET,
	  false, false, UNLOCK_ALWAYS, true },
	{ GUP_PIN_USER_PAGES_FAST, FOLL_PIN,
	  false, false, UNLOCK_ALWAYS, true },
	{ GUP_PIN_USER_PAGES_REMOTE, FOLL_PIN | FOLL_TOUCH | FOLL_REMOTE,
	  true, false, UNLOCK_IF_LOCKED },
	{ GUP_PIN_USER_PAGES, FOLL_PIN, false, false, UNLOCK_NEVER },
	{ GUP_PIN_USER_PAGES_UNLOCKED, FOLL_PIN | FOLL_TOUCH,
	  false, false, UNLOCK_ALWAYS },
	/* @locked NULL: under the caller's mmap_lock; else their own lock. */
	{ GUP_GET_USER_PAGES_VMA, FOLL_GET | FOLL_TOUCH | FOLL_REMOTE,
	  true, false, UNLOCK_IF_LOCKED, false, true },
	{ GUP_PIN_USER_PAGES_VMA, FOLL_PIN | FOLL_TOUCH | FOLL_REMOTE,
	  true, false, UNLOCK_IF_LOCKED, false, true },
	{ GUP_POPULATE_VMA_PAGE_RANGE, FOLL_TOUCH,
	  true, false, UNLOCK_IF_LOCKED },
	{ GUP_FAULTIN_PAGE_RANGE, FOLL_TOUCH | FOLL_MADV_POPULATE,
	  true, true, UNLOCK_IF_LOCKED },
};

enum gup_kunit_locked { LOCKED_NULL, LOCKED_ONE, LOCKED_ZERO, NR_LOCKED };

static const char * const gup_kunit_locked_names[NR_LOCKED] = {
	"locked=NULL", "*locked=1", "*locked=0",
};

/* One call of is_valid_gup_args(), as the tests describe it. */
struct gup_kunit_args {
	const struct gup_kunit_entry *e;
	unsigned int flags;		/* what the caller passes */
	enum gup_kunit_locked locked;
	bool pages;
};

/*
 * The rules, stated here without looking at mm/gup.c: does @a break @rule?
 * A rule that mm/gup.c has and this function does not know fails the test.
 */
static bool gup_kunit_breaks(struct kunit *test, enum gup_rule rule,
			     const struct gup_kunit_args *a)
{
	unsigned int f = a->flags | a->e->forced;
	bool get = f & FOLL_GET, pin = f & FOLL_PIN;
	bool longterm = f & FOLL_LONGTERM;

	switch (rule) {
	case GUP_RULE_INTERNAL_FLAGS:
		/* Only the caller's own flags count, not the forced ones. */
		return a->flags & gup_kunit_internal_mask();
	case GUP_RULE_LOCKED_NOT_HELD:
		return a->locked == LOCKED_ZERO;
	case GUP_RULE_LOCKED_REQUIRED:
		return a->e->needs_locked && a->locked == LOCKED_NULL;
	case GUP_RULE_GET_AND_PIN:
		return get && pin;
	case GUP_RULE_LONGTERM_NOT_PIN:
		return longterm && !pin;
	case GUP_RULE_NO_PAGES:
		return (get || pin) && !a->pages;
	case GUP_RULE_LONGTERM_P2PDMA:
		return longterm && (f & FOLL_PCI_P2PDMA);
	case GUP_RULE_LONGTERM_NOWAIT:
		return longterm && (f & FOLL_NOWAIT);
	case GUP_RULE_P2PDMA_NOT_PIN:
		return (f & FOLL_PCI_P2PDMA) && !pin;
	case GUP_RULE_FAST_FLAGS:
		/* What the lockless walk and its fallback can do. */
		return a->e->fast &&
		       (a->flags & GUP_KUNIT_CALLER_FLAGS &
			~(FOLL_WRITE | FOLL_LONGTERM | FOLL_FORCE | FOLL_GET |
			  FOLL_NOFAULT | FOLL_PCI_P2PDMA |
			  FOLL_HONOR_NUMA_FAULT));
	case GUP_RULE_VMA_FLAGS:
		/* No migration before pinning, and CPU access only. */
		return a->e->vma &&
		       (a->flags & (FOLL_LONGTERM | FOLL_PCI_P2PDMA));
	default:
		return true;
	}
}

/*
 * The rules gup_kunit_breaks() states: a rule added to mm/gup.c must be
 * stated there and listed here.
 */
static const enum gup_rule gup_kunit_stated_rules[] __maybe_unused = {
	GUP_RULE_INTERNAL_FLAGS, GUP_RULE_LOCKED_NOT_HELD,
	GUP_RULE_LOCKED_REQUIRED, GUP_RULE_GET_AND_PIN,
	GUP_RULE_LONGTERM_NOT_PIN, GUP_RULE_NO_PAGES, GUP_RULE_LONGTERM_P2PDMA,
	GUP_RULE_LONGTERM_NOWAIT, GUP_RULE_P2PDMA_NOT_PIN, GUP_RULE_FAST_FLAGS,
	GUP_RULE_VMA_FLAGS,
};

static_assert(ARRAY_SIZE(gup_kunit_stated_rules) == NR_GUP_RULES - 1);

static bool gup_kunit_may_unlock(const struct gup_kunit_args *a)
{
	if (a->flags & FOLL_NOWAIT)
		return false;
	switch (a->e->unlock) {
	case UNLOCK_NEVER:
		return false;
	case UNLOCK_IF_LOCKED:
		return a->locked != LOCKED_NULL;
	case UNLOCK_ALWAYS:
		return true;
	}
	return false;
}

/* What the static stub saw. */
struct gup_kunit_warnings {
	unsigned int count;
	enum gup_entry entry;
	enum gup_rule rule;
};

static void gup_kunit_warn_stub(enum gup_entry entry, enum gup_rule rule)
{
	struct kunit *test = kunit_get_current_test();
	struct gup_kunit_warnings *w = test->priv;

	w->count++;
	w->entry = entry;
	w->rule = rule;
}

static int gup_kunit_init(struct kunit *test)
{
	struct gup_kunit_warnings *w;

	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	test->priv = w;
	kunit_activate_static_stub(test, gup_warn_invalid_args,
				   gup_kunit_warn_stub);
	return 0;
}

/* Counts, per rule, of the invalid combinations the exhaustive test saw. */
struct gup_kunit_tally {
	unsigned long combinations, valid, mismatches;
	unsigned long by_rule[NR_GUP_RULES];
};

/* Check one combination; report the first few mismatches in full. */
static void gup_kunit_check(struct kunit *test, const struct gup_kunit_args *a,
			    struct gup_kunit_tally *t)
{
	struct gup_kunit_warnings *w = test->priv;
	int locked = a->locked == LOCKED_ONE ? 1 : 0;
	struct page *page, **pages = a->pages ? &page : NULL;
	unsigned int flags = a->flags, want_flags = 0;
	unsigned int warned = w->count;
	bool broken_any = false, ok, bad = false;
	enum gup_rule rule, reported;

	for (rule = GUP_ARGS_OK + 1; rule < NR_GUP_RULES; rule++)
		broken_any |= gup_kunit_breaks(test, rule, a);

	reported = gup_check_args(pages, a->locked == LOCKED_NULL ? NULL :
				  &locked, a->flags, a->e->id);
	ok = is_valid_gup_args(pages, a->locked == LOCKED_NULL ? NULL :
			       &locked, &flags, a->e->id);

	t->combinations++;
	if (!broken_any) {
		t->valid++;
		want_flags = a->flags | a->e->forced;
		if (gup_kunit_may_unlock(a))
			want_flags |= FOLL_UNLOCKABLE;
		bad = !ok || reported != GUP_ARGS_OK || flags != want_flags ||
		      w->count != warned;
	} else {
		/* Rejected, with one warning naming a rule that is broken. */
		bad = ok || reported == GUP_ARGS_OK ||
		      !gup_kunit_breaks(test, reported, a) ||
		      w->count != warned + 1 || w->entry != a->e->id ||
		      w->rule != reported || flags != a->flags;
		if (reported > GUP_ARGS_OK && reported < NR_GUP_RULES)
			t->by_rule[reported]++;
	}
	/* The stub must not count what the next combination sees. */
	w->count = warned;

	if (bad && t->mismatches++ < 8)
		KUNIT_FAIL(test,
			   "%s(flags=%#x, %s, pages=%s): valid=%d (expected %d), rule %s, flags out %#x (expected %#x)",
			   gup_entries[a->e->id].name, a->flags,
			   gup_kunit_locked_names[a->locked],
			   a->pages ? "set" : "NULL", ok, !broken_any,
			   gup_rule_names[reported], flags, want_flags);
}

/* The test's statement of each contract matches gup_entries[]. */
static void gup_args_entry_table(struct kunit *test)
{
	const struct gup_kunit_entry *e;

	KUNIT_EXPECT_EQ(test, ARRAY_SIZE(gup_kunit_entries),
			(size_t)NR_GUP_ENTRIES);
	for (e = gup_kunit_entries;
	     e < gup_kunit_entries + ARRAY_SIZE(gup_kunit_entries); e++)
		KUNIT_EXPECT_EQ_MSG(test, gup_entries[e->id].to_set, e->forced,
				    "%s", gup_entries[e->id].name);
}

/*
 * Every caller-visible flag combination x @locked x @pages x entry point,
 * and every internal flag on its own, against gup_kunit_breaks().
 */
static void gup_args_exhaustive(struct kunit *test)
{
	const unsigned int nr_flags = hweight32(GUP_KUNIT_CALLER_FLAGS);
	struct gup_kunit_tally *t;
	struct gup_kunit_args a;
	unsigned int i, bits;
	enum gup_rule rule;

	/* The caller flags are bits 0..n-1: iterate over them as a number. */
	KUNIT_ASSERT_EQ(test, GUP_KUNIT_CALLER_FLAGS, BIT(nr_flags) - 1);

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);

	for (a.e = gup_kunit_entries;
	     a.e < gup_kunit_entries + ARRAY_SIZE(gup_kunit_entries); a.e++) {
		for (bits = 0; bits < BIT(nr_flags); bits++) {
			a.flags = bits;
			for (a.locked = 0; a.locked < NR_LOCKED; a.locked++) {
				if (!a.e->has_locked && a.locked != LOCKED_NULL)
					continue;
				a.pages = false;
				gup_kunit_check(test, &a, t);
				a.pages = true;
				gup_kunit_check(test, &a, t);
			}
		}
		/* Each internal flag, on an otherwise valid call. */
		for (i = 0; i < ARRAY_SIZE(gup_kunit_internal_flags); i++) {
			a.flags = gup_kunit_internal_flags[i];
			a.locked = a.e->has_locked ? LOCKED_ONE : LOCKED_NULL;
			a.pages = true;
			gup_kunit_check(test, &a, t);
		}
		cond_resched();
	}

	kunit_info(test, "%lu combinations of %u caller flags, @locked, @pages and %zu entry points: %lu valid, %lu invalid, %lu mismatches\n",
		   t->combinations, nr_flags, ARRAY_SIZE(gup_kunit_entries),
		   t->valid, t->combinations - t->valid, t->mismatches);
	for (rule = GUP_ARGS_OK + 1; rule < NR_GUP_RULES; rule++)
		kunit_info(test, "  rule \"%s\": first broken rule of %lu\n",
			   gup_rule_names[rule], t->by_rule[rule]);
	KUNIT_EXPECT_EQ(test, t->mismatches, 0);
	/* Every rule must be reachable, or the walk above missed a case. */
	for (rule = GUP_ARGS_OK + 1; rule < NR_GUP_RULES; rule++)
		KUNIT_EXPECT_GT_MSG(test, t->by_rule[rule], 0,
				    "%s", gup_rule_names[rule]);
}

#define GUP_KUNIT_PAGES	8

/* @nr fresh, never touched, private anonymous pages. */
static unsigned long gup_kunit_map(struct kunit *test, unsigned long nr)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, nr * PAGE_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_TRUE_MSG(test, addr && !IS_ERR_VALUE(addr),
			      "kunit_vm_mmap() failed: %ld", (long)addr);
	/* Small folios only: the refcount checks are per page. */
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr,
						 nr * PAGE_SIZE,
						 MADV_NOHUGEPAGE), 0);
	return addr;
}

/*
 * A single-VMA entry point: with @pass_locked, it takes its own lock, else
 * it runs under ours.  Drop the lock it returns with and keep the pages, so
 * that the caller releases them like those of any entry point: @nr on
 * success.
 */
static long gup_kunit_call_vma(enum gup_entry id, unsigned long addr,
			       unsigned long nr, unsigned int flags,
			       struct page **pages, bool pass_locked)
{
	struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
	struct mm_struct *mm = current->mm;
	int ret;

	if (!pass_locked) {
		mmap_read_lock(mm);
		gv.lock = GUP_VMA_CALLER_LOCK;
	}
	if (id == GUP_GET_USER_PAGES_VMA)
		ret = get_user_pages_vma(mm, addr, nr, flags, pages, &gv);
	else
		ret = pin_user_pages_vma(mm, addr, nr, flags, pages, &gv);
	if (!ret)
		gup_vma_unlock(&gv);
	if (!pass_locked)
		mmap_read_unlock(mm);
	return ret ? ret : nr;
}

/*
 * Call entry point @id on [addr, addr + nr pages), taking mmap_lock around
 * it if the entry point wants it held.  The remote entry points get @locked
 * if @pass_locked; *@locked_after is what it is on return (1 if not passed).
 */
static long __gup_kunit_call(enum gup_entry id, unsigned long addr,
			     unsigned long nr, unsigned int flags,
			     struct page **pages, bool pass_locked,
			     int *locked_after)
{
	struct mm_struct *mm = current->mm;
	int locked = 1, *lockedp = pass_locked ? &locked : NULL;
	long ret;

	*locked_after = 1;
	switch (id) {
	case GUP_GET_USER_PAGES_REMOTE:
	case GUP_PIN_USER_PAGES_REMOTE:
		mmap_read_lock(mm);
		if (id == GUP_GET_USER_PAGES_REMOTE)
			ret = get_user_pages_remote(mm, addr, nr, flags, pages,
						    lockedp);
		else
			ret = pin_user_pages_remote(mm, addr, nr, flags, pages,
						    lockedp);
		*locked_after = locked;
		if (locked)
			mmap_read_unlock(mm);
		return ret;
	case GUP_GET_USER_PAGES:
	case GUP_PIN_USER_PAGES:
		mmap_read_lock(mm);
		if (id == GUP_GET_USER_PAGES)
			ret = get_user_pages(addr, nr, flags, pages);
		else
			ret = pin_user_pages(addr, nr, flags, pages);
		mmap_read_unlock(mm);
		return ret;
	case GUP_GET_USER_PAGES_UNLOCKED:
		return get_user_pages_unlocked(addr, nr, pages, flags);
	case GUP_PIN_USER_PAGES_UNLOCKED:
		return pin_user_pages_unlocked(addr, nr, pages, flags);
	case GUP_GET_USER_PAGES_FAST_ONLY:
		return get_user_pages_fast_only(addr, nr, flags, pages);
	case GUP_GET_USER_PAGES_FAST:
		return get_user_pages_fast(addr, nr, flags, pages);
	case GUP_PIN_USER_PAGES_FAST:
		return pin_user_pages_fast(addr, nr, flags, pages);
	case GUP_GET_USER_PAGES_VMA:
	case GUP_PIN_USER_PAGES_VMA:
		return gup_kunit_call_vma(id, addr, nr, flags, pages,
					  pass_locked);
	default:
		return -EOPNOTSUPP;
	}
}

static long gup_kunit_call(enum gup_entry id, unsigned long addr,
			   unsigned long nr, unsigned int flags,
			   struct page **pages)
{
	int locked;

	return __gup_kunit_call(id, addr, nr, flags, pages, true, &locked);
}

static bool gup_kunit_pins(enum gup_entry id)
{
	return gup_entries[id].to_set & FOLL_PIN;
}

/* Without GUP-fast, get_user_pages_fast_only() never returns a page. */
static bool gup_kunit_skip_entry(struct kunit *test, enum gup_entry id)
{
	if (id != GUP_GET_USER_PAGES_FAST_ONLY ||
	    IS_ENABLED(CONFIG_HAVE_GUP_FAST))
		return false;
	kunit_info(test, "%s: no GUP-fast on this architecture\n",
		   gup_entries[id].name);
	return true;
}

/* Release what a call of entry point @id returned in @pages[0..@ret). */
static void gup_kunit_release(enum gup_entry id, struct page **pages, long ret)
{
	long i;

	if (ret <= 0 || !pages)
		return;
	if (gup_kunit_pins(id))
		unpin_user_pages(pages, ret);
	else
		for (i = 0; i < ret; i++)
			put_page(pages[i]);
}

/*
 * Refcount of @page with no per-CPU LRU batch holding a reference on it:
 * FOLL_TOUCH's mark_page_accessed() may queue the folio for activation,
 * which takes a reference until the batch drains.
 */
static int gup_kunit_ref(struct page *page)
{
	lru_add_drain_all();
	return page_ref_count(page);
}

/* The exported entry points, in enum order. */
static const enum gup_entry gup_kunit_exported[] = {
	GUP_GET_USER_PAGES_REMOTE, GUP_GET_USER_PAGES,
	GUP_GET_USER_PAGES_UNLOCKED, GUP_GET_USER_PAGES_FAST_ONLY,
	GUP_GET_USER_PAGES_FAST, GUP_PIN_USER_PAGES_FAST,
	GUP_PIN_USER_PAGES_REMOTE, GUP_PIN_USER_PAGES,
	GUP_PIN_USER_PAGES_UNLOCKED, GUP_GET_USER_PAGES_VMA,
	GUP_PIN_USER_PAGES_VMA,
};

/* Each mapped page has its refcount from before, plus @delta. */
static void gup_kunit_expect_refs(struct kunit *test, struct page **mapped,
				  const int *before, int delta, bool pinned,
				  const char *what)
{
	unsigned int i;
	struct folio *folio;

	for (i = 0; i < GUP_KUNIT_PAGES; i++) {
		folio = page_folio(mapped[i]);
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(mapped[i]),
				    before[i] + delta, "%s, page %u", what, i);
		KUNIT_EXPECT_EQ_MSG(test, folio_maybe_dma_pinned(folio), pinned,
				    "%s, page %u", what, i);
	}
}

/*
 * Each entry point returns exactly the pages that are mapped, takes one
 * reference (FOLL_GET) or one pin (FOLL_PIN, GUP_PIN_COUNTING_BIAS) on
 * each, and releasing them brings every refcount back.
 */
static void gup_entry_get_and_pin(struct kunit *test)
{
	struct page *mapped[GUP_KUNIT_PAGES], *pages[GUP_KUNIT_PAGES];
	int before[GUP_KUNIT_PAGES];
	unsigned long addr = gup_kunit_map(test, GUP_KUNIT_PAGES);
	const unsigned int variants[] = { FOLL_WRITE, FOLL_WRITE | FOLL_LONGTERM };
	unsigned int i, v, n;
	long ret;

	/*
	 * Fault the pages in and learn which they are.  A long-term pin
	 * first migrates pages out of CMA and ZONE_MOVABLE; do that now, so
	 * that no later call moves them.
	 */
	ret = pin_user_pages_fast(addr, GUP_KUNIT_PAGES,
				  FOLL_WRITE | FOLL_LONGTERM, mapped);
	if (ret != GUP_KUNIT_PAGES) {	/* short: release what it pinned */
		gup_kunit_release(GUP_PIN_USER_PAGES_FAST, mapped, ret);
		KUNIT_FAIL(test, "pin_user_pages_fast() returned %ld", ret);
		return;
	}
	/*
	 * Trade the pins for one reference per page, held to the end: it
	 * keeps compaction from migrating the pages under the test.
	 */
	for (i = 0; i < GUP_KUNIT_PAGES; i++)
		get_page(mapped[i]);
	unpin_user_pages(mapped, GUP_KUNIT_PAGES);
	for (i = 0; i < GUP_KUNIT_PAGES; i++) {
		KUNIT_EXPECT_FALSE(test, PageCompound(mapped[i]));
		before[i] = gup_kunit_ref(mapped[i]);
	}

	for (n = 0; n < ARRAY_SIZE(gup_kunit_exported); n++) {
		enum gup_entry id = gup_kunit_exported[n];
		bool pin = gup_kunit_pins(id);
		int delta = pin ? GUP_PIN_COUNTING_BIAS : 1;
		const char *name = gup_entries[id].name;

		if (gup_kunit_skip_entry(test, id))
			continue;

		for (v = 0; v < ARRAY_SIZE(variants); v++) {
			/*
			 * FOLL_LONGTERM is a pin-only flag, which the
			 * single-VMA entry points refuse.
			 */
			if ((variants[v] & FOLL_LONGTERM) &&
			    (!pin || gup_entries[id].lock == GUP_LOCK_SINGLE_VMA))
				continue;
			memset(pages, 0, sizeof(pages));
			ret = gup_kunit_call(id, addr, GUP_KUNIT_PAGES,
					     variants[v], pages);
			if (ret != GUP_KUNIT_PAGES) {
				gup_kunit_release(id, pages, ret);
				KUNIT_FAIL(test, "%s(%#x) returned %ld", name,
					   variants[v], ret);
				continue;
			}
			for (i = 0; i < GUP_KUNIT_PAGES; i++)
				KUNIT_EXPECT_PTR_EQ_MSG(test, pages[i],
							mapped[i], "%s", name);
			gup_kunit_expect_refs(test, mapped, before, delta, pin,
					      name);
			gup_kunit_release(id, pages, ret);
			gup_kunit_expect_refs(test, mapped, before, 0, false,
					      name);
		}
	}
	for (i = 0; i < GUP_KUNIT_PAGES; i++)
		put_page(mapped[i]);
}

/*
 * With a short count, each entry point takes references on exactly the
 * pages it returns: the first of two, from the middle of the mapping.
 */
static void gup_entry_partial(struct kunit *test)
{
	struct page *mapped[GUP_KUNIT_PAGES], *pages[GUP_KUNIT_PAGES];
	int before[GUP_KUNIT_PAGES];
	unsigned long addr = gup_kunit_map(test, GUP_KUNIT_PAGES);
	unsigned int i, n;
	long ret;

	/* One reference per page, held to the end, as above. */
	ret = get_user_pages_fast(addr, GUP_KUNIT_PAGES, FOLL_WRITE, mapped);
	if (ret != GUP_KUNIT_PAGES) {
		gup_kunit_release(GUP_GET_USER_PAGES_FAST, mapped, ret);
		KUNIT_FAIL(test, "get_user_pages_fast() returned %ld", ret);
		return;
	}
	for (i = 0; i < GUP_KUNIT_PAGES; i++) {
		KUNIT_EXPECT_FALSE(test, PageCompound(mapped[i]));
		before[i] = gup_kunit_ref(mapped[i]);
	}

	for (n = 0; n < ARRAY_SIZE(gup_kunit_exported); n++) {
		enum gup_entry id = gup_kunit_exported[n];
		bool pin = gup_kunit_pins(id);

		if (gup_kunit_skip_entry(test, id))
			continue;

		memset(pages, 0, sizeof(pages));
		ret = gup_kunit_call(id, addr + 3 * PAGE_SIZE, 1, FOLL_WRITE,
				     pages);
		if (ret != 1) {
			gup_kunit_release(id, pages, ret);
			KUNIT_FAIL(test, "%s returned %ld", gup_entries[id].name,
				   ret);
			continue;
		}
		KUNIT_EXPECT_PTR_EQ(test, pages[0], mapped[3]);
		KUNIT_EXPECT_NULL(test, pages[1]);
		for (i = 0; i < GUP_KUNIT_PAGES; i++) {
			int want = before[i];

			if (i == 3)
				want += pin ? GUP_PIN_COUNTING_BIAS : 1;
			KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(mapped[i]), want,
					    "%s page %u", gup_entries[id].name,
					    i);
		}
		gup_kunit_release(id, pages, ret);
		KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[3]), before[3]);
	}
	for (i = 0; i < GUP_KUNIT_PAGES; i++)
		put_page(mapped[i]);
}

struct gup_kunit_bad_call {
	enum gup_entry id;
	unsigned int flags;
	enum gup_rule rule;
};

/* One call per rule added after the audit of the callers. */
static const struct gup_kunit_bad_call gup_kunit_new_rules[] = {
	{ GUP_PIN_USER_PAGES, FOLL_LONGTERM | FOLL_NOWAIT,
	  GUP_RULE_LONGTERM_NOWAIT },
	{ GUP_PIN_USER_PAGES_UNLOCKED, FOLL_LONGTERM | FOLL_NOWAIT,
	  GUP_RULE_LONGTERM_NOWAIT },
	{ GUP_PIN_USER_PAGES_REMOTE, FOLL_LONGTERM | FOLL_NOWAIT,
	  GUP_RULE_LONGTERM_NOWAIT },
	{ GUP_GET_USER_PAGES, FOLL_PCI_P2PDMA, GUP_RULE_P2PDMA_NOT_PIN },
	{ GUP_GET_USER_PAGES_FAST, FOLL_PCI_P2PDMA, GUP_RULE_P2PDMA_NOT_PIN },
	{ GUP_GET_USER_PAGES_REMOTE, FOLL_PCI_P2PDMA,
	  GUP_RULE_P2PDMA_NOT_PIN },
	{ GUP_GET_USER_PAGES_FAST, FOLL_NOWAIT, GUP_RULE_FAST_FLAGS },
	{ GUP_GET_USER_PAGES_FAST_ONLY, FOLL_NOWAIT, GUP_RULE_FAST_FLAGS },
	{ GUP_PIN_USER_PAGES_FAST, FOLL_NOWAIT, GUP_RULE_FAST_FLAGS },
	{ GUP_PIN_USER_PAGES_FAST, FOLL_INTERRUPTIBLE, GUP_RULE_FAST_FLAGS },
	{ GUP_GET_USER_PAGES_FAST, FOLL_DUMP, GUP_RULE_FAST_FLAGS },
	{ GUP_PIN_USER_PAGES_VMA, FOLL_LONGTERM, GUP_RULE_VMA_FLAGS },
	{ GUP_PIN_USER_PAGES_VMA, FOLL_PCI_P2PDMA, GUP_RULE_VMA_FLAGS },
	{ GUP_PIN_USER_PAGES_VMA, FOLL_LONGTERM | FOLL_NOWAIT,
	  GUP_RULE_LONGTERM_NOWAIT },
};

/*
 * Invalid arguments get -EINVAL from every entry point, and one warning
 * naming the rule, here caught by the stub.
 */
static void gup_invalid_args_einval(struct kunit *test)
{
	struct gup_kunit_warnings *w = test->priv;
	unsigned long addr = gup_kunit_map(test, 1);
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct page *pages[1];
	unsigned int n;
	int locked;
	long ret;

	for (n = 0; n < ARRAY_SIZE(gup_kunit_exported); n++) {
		enum gup_entry id = gup_kunit_exported[n];
		/* get_*: long-term without a pin; pin_*: FOLL_GET too. */
		unsigned int flags = gup_kunit_pins(id) ? FOLL_GET :
				     FOLL_LONGTERM;

		w->count = 0;
		ret = gup_kunit_call(id, addr, 1, flags, pages);
		gup_kunit_release(id, pages, ret);
		KUNIT_EXPECT_EQ_MSG(test, ret, -EINVAL, "%s",
				    gup_entries[id].name);
		KUNIT_EXPECT_EQ(test, w->count, 1);
		KUNIT_EXPECT_EQ(test, w->entry, id);
		KUNIT_EXPECT_EQ(test, w->rule, gup_kunit_pins(id) ?
				GUP_RULE_GET_AND_PIN :
				GUP_RULE_LONGTERM_NOT_PIN);

		/* No pages array to return the pages in. */
		if (!(gup_entries[id].to_set & (FOLL_GET | FOLL_PIN)))
			continue;
		w->count = 0;
		ret = gup_kunit_call(id, addr, 1, 0, NULL);
		KUNIT_EXPECT_EQ_MSG(test, ret, -EINVAL, "%s without pages",
				    gup_entries[id].name);
		KUNIT_EXPECT_EQ(test, w->count, 1);
		KUNIT_EXPECT_EQ(test, w->rule, GUP_RULE_NO_PAGES);
	}

	for (n = 0; n < ARRAY_SIZE(gup_kunit_new_rules); n++) {
		const struct gup_kunit_bad_call *c = &gup_kunit_new_rules[n];

		w->count = 0;
		ret = gup_kunit_call(c->id, addr, 1, c->flags, pages);
		gup_kunit_release(c->id, pages, ret);
		KUNIT_EXPECT_EQ_MSG(test, ret, -EINVAL, "%s(%#x)",
				    gup_entries[c->id].name, c->flags);
		KUNIT_EXPECT_EQ(test, w->count, 1);
		KUNIT_EXPECT_EQ_MSG(test, w->rule, c->rule, "%s(%#x): %s",
				    gup_entries[c->id].name, c->flags,
				    gup_rule_names[w->rule]);
	}

	/* The remote entry points: *locked must be 1. */
	mmap_read_lock(mm);
	locked = 0;
	w->count = 0;
	ret = get_user_pages_remote(mm, addr, 1, 0, pages, &locked);
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	ret = pin_user_pages_remote(mm, addr, 1, 0, pages, &locked);
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	KUNIT_EXPECT_EQ(test, w->count, 2);
	KUNIT_EXPECT_EQ(test, w->rule, GUP_RULE_LOCKED_NOT_HELD);

	/* faultin_page_range() cannot run without @locked. */
	w->count = 0;
	ret = faultin_page_range(mm, addr, addr + PAGE_SIZE, false, NULL);
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	KUNIT_EXPECT_EQ(test, w->count, 1);
	KUNIT_EXPECT_EQ(test, w->entry, GUP_FAULTIN_PAGE_RANGE);
	KUNIT_EXPECT_EQ(test, w->rule, GUP_RULE_LOCKED_REQUIRED);

	/* populate_vma_page_range() with a @locked that says "not held". */
	vma = find_vma(mm, addr);
	if (!vma) {
		mmap_read_unlock(mm);
		KUNIT_FAIL(test, "no VMA at %#lx", addr);
		return;
	}
	w->count = 0;
	locked = 0;
	ret = populate_vma_page_range(vma, addr, addr + PAGE_SIZE, &locked);
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	KUNIT_EXPECT_EQ(test, w->count, 1);
	KUNIT_EXPECT_EQ(test, w->rule, GUP_RULE_LOCKED_NOT_HELD);
	KUNIT_EXPECT_TRUE(test, rwsem_is_locked(&mm->mmap_lock));
	mmap_read_unlock(mm);
}

/*
 * A mapping whose ->fault records the fault flags it is called with and
 * maps nothing.  It fails the fault, or, when the caller cannot wait
 * (FAULT_FLAG_RETRY_NOWAIT), asks for a retry the way a fault that would
 * have to wait for I/O does, keeping mmap_lock.
 */
static unsigned int gup_kunit_fault_flags, gup_kunit_faults;

static vm_fault_t gup_kunit_fault(struct vm_fault *vmf)
{
	gup_kunit_faults++;
	gup_kunit_fault_flags = vmf->flags;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct gup_kunit_vm_ops = {
	.fault = gup_kunit_fault,
};

static int gup_kunit_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_ops = &gup_kunit_vm_ops;
	return 0;
}

static const struct file_operations gup_kunit_fops = {
	.mmap = gup_kunit_mmap,
};

#define GUP_KUNIT_FAULT_MASK						\
	(FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE |			\
	 FAULT_FLAG_INTERRUPTIBLE | FAULT_FLAG_RETRY_NOWAIT |		\
	 FAULT_FLAG_TRIED)

struct gup_kunit_fault_case {
	enum gup_entry id;
	bool pass_locked;	/* remote: pass @locked; single-VMA: own lock */
	unsigned int flags;	/* 0 or FOLL_NOWAIT */
	bool unlockable;	/* the kerneldoc lets it drop mmap_lock */
};

static const struct gup_kunit_fault_case gup_kunit_fault_cases[] = {
	{ GUP_GET_USER_PAGES_REMOTE, false, 0, false },
	{ GUP_GET_USER_PAGES_REMOTE, true, 0, true },
	{ GUP_GET_USER_PAGES, false, 0, false },
	{ GUP_GET_USER_PAGES_UNLOCKED, false, 0, true },
	{ GUP_GET_USER_PAGES_FAST, false, 0, true },
	{ GUP_PIN_USER_PAGES_FAST, false, 0, true },
	{ GUP_PIN_USER_PAGES_REMOTE, false, 0, false },
	{ GUP_PIN_USER_PAGES_REMOTE, true, 0, true },
	{ GUP_PIN_USER_PAGES, false, 0, false },
	{ GUP_PIN_USER_PAGES_UNLOCKED, false, 0, true },
	/*
	 * The single-VMA entry points: on their own lock, the fault under
	 * the VMA lock stops short of a ->fault without ->map_pages, and the
	 * one under mmap_lock does not drop it, so that the VMA they return
	 * is the one the pages are in; under the caller's lock, neither.
	 */
	{ GUP_GET_USER_PAGES_VMA, false, 0, false },
	{ GUP_GET_USER_PAGES_VMA, true, 0, false },
	{ GUP_PIN_USER_PAGES_VMA, false, 0, false },
	{ GUP_PIN_USER_PAGES_VMA, true, 0, false },
	/* KVM's hva_to_pfn_slow() is get_user_pages_unlocked(FOLL_NOWAIT). */
	{ GUP_GET_USER_PAGES_REMOTE, false, FOLL_NOWAIT },
	{ GUP_GET_USER_PAGES_REMOTE, true, FOLL_NOWAIT },
	{ GUP_GET_USER_PAGES, false, FOLL_NOWAIT },
	{ GUP_GET_USER_PAGES_UNLOCKED, false, FOLL_NOWAIT },
	{ GUP_PIN_USER_PAGES_REMOTE, true, FOLL_NOWAIT },
	{ GUP_PIN_USER_PAGES, false, FOLL_NOWAIT },
	{ GUP_PIN_USER_PAGES_UNLOCKED, false, FOLL_NOWAIT },
	{ GUP_GET_USER_PAGES_VMA, false, FOLL_NOWAIT },
	{ GUP_GET_USER_PAGES_VMA, true, FOLL_NOWAIT },
	{ GUP_PIN_USER_PAGES_VMA, false, FOLL_NOWAIT },
	{ GUP_PIN_USER_PAGES_VMA, true, FOLL_NOWAIT },
};

/*
 * What each entry point really hands the fault handler: FAULT_FLAG_ALLOW_RETRY
 * | FAULT_FLAG_KILLABLE exactly when it may drop mmap_lock, and with
 * FOLL_NOWAIT only FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT: the
 * call then gives up without waiting, never drops mmap_lock under a caller
 * that passed @locked, and leaves no lock behind.
 */
static void gup_entry_fault_flags(struct kunit *test)
{
	struct gup_kunit_warnings *w = test->priv;
	struct mm_struct *mm;
	struct file *file;
	unsigned long addr;
	struct page *page;
	unsigned int n;

	file = anon_inode_getfile("[gup_kunit]", &gup_kunit_fops, NULL,
				  O_RDWR);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ, MAP_SHARED,
			     0);
	fput(file);
	KUNIT_ASSERT_TRUE_MSG(test, addr && !IS_ERR_VALUE(addr),
			      "kunit_vm_mmap() failed: %ld", (long)addr);
	mm = current->mm;
	w->count = 0;

	for (n = 0; n < ARRAY_SIZE(gup_kunit_fault_cases); n++) {
		const struct gup_kunit_fault_case *c = &gup_kunit_fault_cases[n];
		bool nowait = c->flags & FOLL_NOWAIT;
		const char *name = gup_entries[c->id].name;
		unsigned int want = 0;
		long want_ret = -EFAULT;
		int locked;
		long ret;

		/* All or nothing: "would wait" is an error of its own. */
		if (nowait)
			want_ret = gup_entries[c->id].lock == GUP_LOCK_SINGLE_VMA ?
				   -EAGAIN : 0;

		if (nowait)
			want = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT;
		else if (c->unlockable)
			want = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE;

		gup_kunit_faults = 0;
		gup_kunit_fault_flags = 0;
		ret = __gup_kunit_call(c->id, addr, 1, c->flags, &page,
				       c->pass_locked, &locked);
		gup_kunit_release(c->id, &page, ret);

		KUNIT_EXPECT_EQ_MSG(test, ret, want_ret, "%s(%#x)", name,
				    c->flags);
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_faults, 1, "%s(%#x)",
				    name, c->flags);
		KUNIT_EXPECT_EQ_MSG(test,
				    gup_kunit_fault_flags & GUP_KUNIT_FAULT_MASK,
				    want, "%s(%#x%s): fault flags", name,
				    c->flags, c->pass_locked ? ", locked" : "");
		KUNIT_EXPECT_EQ_MSG(test, locked, 1, "%s(%#x)", name, c->flags);
		KUNIT_EXPECT_FALSE_MSG(test, rwsem_is_locked(&mm->mmap_lock),
				       "%s(%#x): mmap_lock left held", name,
				       c->flags);
	}
	KUNIT_EXPECT_EQ(test, w->count, 0);
}

/*
 * get_user_pages_vma() and pin_user_pages_vma(): which lock they return
 * with, on which path, and that they take all of a range in one VMA or
 * nothing.
 */

/* Is @vma's per-VMA lock held for read? */
static bool gup_kunit_vma_read_locked(struct vm_area_struct *vma)
{
#ifdef CONFIG_PER_VMA_LOCK
	return rwsem_is_locked(&vma->vm_lock->lock);
#else
	return false;
#endif
}

static unsigned int gup_kunit_trylock_calls, gup_kunit_trylock_locked;

/* Stands in for gup_vma_trylock(): the VMA lock is never to be had. */
static struct vm_area_struct *gup_kunit_no_vma_lock(struct mm_struct *mm,
						    unsigned long addr,
						    unsigned int gup_flags)
{
	gup_kunit_trylock_calls++;
	return NULL;
}

/* Stands in for gup_vma_trylock(): the real thing, counted. */
static struct vm_area_struct *gup_kunit_count_vma_lock(struct mm_struct *mm,
						       unsigned long addr,
						       unsigned int gup_flags)
{
	struct vm_area_struct *vma = NULL;

	gup_kunit_trylock_calls++;
	if (!(gup_flags & FOLL_NOWAIT))
		vma = lock_vma_under_rcu(mm, addr);
	if (vma)
		gup_kunit_trylock_locked++;
	return vma;
}

/* The lock a call on populated, VMA-lockable memory is expected to hold. */
static enum gup_vma_lock gup_kunit_vma_lock_expected(void)
{
	return IS_ENABLED(CONFIG_PER_VMA_LOCK) ? GUP_VMA_LOCK :
						 GUP_VMA_MMAP_LOCK;
}

/*
 * Check that @gv holds exactly the lock it says it holds, and that the
 * pages are the ones mapped, with one reference or pin more than @before.
 */
static void gup_kunit_expect_gv(struct kunit *test, struct gup_vma *gv,
				enum gup_vma_lock want, unsigned long addr,
				struct page **pages, struct page **mapped,
				const int *before, unsigned long nr, bool pin)
{
	struct mm_struct *mm = current->mm;
	unsigned long i;

	KUNIT_EXPECT_EQ(test, gv->lock, want);
	/* No ASSERT while a lock is held: the caller releases it. */
	KUNIT_EXPECT_NOT_NULL(test, gv->vma);
	if (gv->vma) {
		KUNIT_EXPECT_LE(test, gv->vma->vm_start, addr);
		KUNIT_EXPECT_GE(test, gv->vma->vm_end, addr + nr * PAGE_SIZE);
	}
	KUNIT_EXPECT_EQ(test, rwsem_is_locked(&mm->mmap_lock),
			want != GUP_VMA_LOCK);
	if (want == GUP_VMA_LOCK && gv->vma)
		KUNIT_EXPECT_TRUE(test, gup_kunit_vma_read_locked(gv->vma));
	for (i = 0; i < nr; i++) {
		KUNIT_EXPECT_PTR_EQ(test, pages[i], mapped[i]);
		KUNIT_EXPECT_EQ(test, gup_kunit_ref(pages[i]), before[i] +
				(pin ? GUP_PIN_COUNTING_BIAS : 1));
		KUNIT_EXPECT_EQ(test, folio_maybe_dma_pinned(page_folio(pages[i])),
				pin);
	}
}

/* @nr populated pages, each with a reference held for the test. */
static unsigned long gup_kunit_map_populated(struct kunit *test,
					     unsigned long nr,
					     struct page **mapped, int *before)
{
	unsigned long addr = gup_kunit_map(test, nr), i;
	long ret;

	ret = get_user_pages_fast(addr, nr, FOLL_WRITE, mapped);
	if (ret != nr) {
		gup_kunit_release(GUP_GET_USER_PAGES_FAST, mapped, ret);
		KUNIT_FAIL(test, "get_user_pages_fast() returned %ld", ret);
		return 0;
	}
	for (i = 0; i < nr; i++)
		before[i] = gup_kunit_ref(mapped[i]);
	return addr;
}

static void gup_kunit_put_mapped(struct page **mapped, unsigned long nr)
{
	while (nr--)
		put_page(mapped[nr]);
}

/*
 * On populated memory, both entry points take the VMA lock and no mmap_lock;
 * with the VMA lock stubbed out, they take mmap_lock; the pages and counts
 * are the same, and release undoes all of it.
 */
static void gup_vma_lock_and_fallback(struct kunit *test)
{
	struct page *mapped[GUP_KUNIT_PAGES], *pages[GUP_KUNIT_PAGES];
	int before[GUP_KUNIT_PAGES];
	struct mm_struct *mm;
	unsigned long addr, i;
	unsigned int pass, pin;

	addr = gup_kunit_map_populated(test, GUP_KUNIT_PAGES, mapped, before);
	if (!addr)
		return;
	mm = current->mm;	/* kunit_vm_mmap() gave this kthread its mm */

	for (pass = 0; pass < 2; pass++) {
		enum gup_vma_lock want = gup_kunit_vma_lock_expected();

		if (pass) {
			gup_kunit_trylock_calls = 0;
			kunit_activate_static_stub(test, gup_vma_trylock,
						   gup_kunit_no_vma_lock);
			want = GUP_VMA_MMAP_LOCK;
		}
		for (pin = 0; pin < 2; pin++) {
			struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
			struct vm_area_struct *vma;
			int ret;

			memset(pages, 0, sizeof(pages));
			if (pin)
				ret = pin_user_pages_vma(mm, addr,
							 GUP_KUNIT_PAGES,
							 FOLL_WRITE, pages,
							 &gv);
			else
				ret = get_user_pages_vma(mm, addr,
							 GUP_KUNIT_PAGES,
							 FOLL_WRITE, pages,
							 &gv);
			if (ret) {	/* nothing taken: all or nothing */
				KUNIT_FAIL(test, "pass %u pin %u: %d", pass,
					   pin, ret);
				goto out;
			}
			gup_kunit_expect_gv(test, &gv, want, addr, pages,
					    mapped, before, GUP_KUNIT_PAGES,
					    pin);
			vma = gv.vma;
			gup_vma_release(&gv, true);
			KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
			KUNIT_EXPECT_NULL(test, gv.vma);
			KUNIT_EXPECT_FALSE(test,
					   rwsem_is_locked(&mm->mmap_lock));
			KUNIT_EXPECT_FALSE(test,
					   gup_kunit_vma_read_locked(vma));
			for (i = 0; i < GUP_KUNIT_PAGES; i++) {
				struct folio *folio = page_folio(mapped[i]);

				KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[i]),
						before[i]);
				KUNIT_EXPECT_FALSE(test,
						   folio_maybe_dma_pinned(folio));
			}
		}
		if (pass) {
			kunit_deactivate_static_stub(test, gup_vma_trylock);
			KUNIT_EXPECT_EQ(test, gup_kunit_trylock_calls, 2);
		}
	}
out:
	gup_kunit_put_mapped(mapped, GUP_KUNIT_PAGES);
}

/*
 * Faults.  In anonymous memory they complete under the VMA lock, the first
 * one included (it allocates the anon_vma with mmap_read_trylock()).  A
 * fault the VMA lock cannot serve (here a ->fault without ->map_pages:
 * vmf_can_call_fault() says VM_FAULT_RETRY) makes the call start again
 * under mmap_lock, and ->fault runs there, without FAULT_FLAG_VMA_LOCK and
 * without leave to drop mmap_lock.  FOLL_NOWAIT never tries the VMA lock.
 */
static void gup_vma_faults(struct kunit *test)
{
	struct page *pages[GUP_KUNIT_PAGES];
	struct mm_struct *mm;
	struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
	unsigned long addr = gup_kunit_map(test, GUP_KUNIT_PAGES);
	struct file *file;
	unsigned long fault_addr;
	int ret;

	/* kunit_vm_mmap() gave this kthread its mm. */
	mm = current->mm;

	gup_kunit_trylock_calls = 0;
	gup_kunit_trylock_locked = 0;
	kunit_activate_static_stub(test, gup_vma_trylock,
				   gup_kunit_count_vma_lock);

	/* Never touched: every page faults in, under the VMA lock. */
	ret = pin_user_pages_vma(mm, addr, GUP_KUNIT_PAGES - 1, FOLL_WRITE,
				 pages, &gv);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, gv.lock, gup_kunit_vma_lock_expected());
	KUNIT_EXPECT_EQ(test, rwsem_is_locked(&mm->mmap_lock),
			gv.lock != GUP_VMA_LOCK);
	gup_vma_release(&gv, true);
	KUNIT_EXPECT_EQ(test, gup_kunit_trylock_calls, 1);
	KUNIT_EXPECT_EQ(test, gup_kunit_trylock_locked,
			IS_ENABLED(CONFIG_PER_VMA_LOCK) ? 1 : 0);

	/* FOLL_NOWAIT: straight to mmap_lock, and no waiting is needed. */
	ret = get_user_pages_vma(mm, addr + (GUP_KUNIT_PAGES - 1) * PAGE_SIZE,
				 1, FOLL_WRITE | FOLL_NOWAIT, pages, &gv);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_MMAP_LOCK);
	gup_vma_release(&gv, true);
	KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));
	KUNIT_EXPECT_EQ(test, gup_kunit_trylock_locked,
			IS_ENABLED(CONFIG_PER_VMA_LOCK) ? 1 : 0);

	/* A fault that needs mmap_lock: ->fault runs once, under it. */
	file = anon_inode_getfile("[gup_kunit]", &gup_kunit_fops, NULL,
				  O_RDWR);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	fault_addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ,
				   MAP_SHARED, 0);
	fput(file);
	KUNIT_ASSERT_TRUE(test, fault_addr && !IS_ERR_VALUE(fault_addr));
	gup_kunit_trylock_calls = 0;
	gup_kunit_trylock_locked = 0;
	gup_kunit_faults = 0;
	gup_kunit_fault_flags = 0;
	ret = get_user_pages_vma(mm, fault_addr, 1, 0, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, -EFAULT);	/* that ->fault fails */
	KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
	KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));
	KUNIT_EXPECT_EQ(test, gup_kunit_trylock_calls, 1);
	KUNIT_EXPECT_EQ(test, gup_kunit_trylock_locked,
			IS_ENABLED(CONFIG_PER_VMA_LOCK) ? 1 : 0);
	KUNIT_EXPECT_EQ(test, gup_kunit_faults, 1);
	KUNIT_EXPECT_EQ(test, gup_kunit_fault_flags &
			(FAULT_FLAG_VMA_LOCK | GUP_KUNIT_FAULT_MASK), 0);
}

/*
 * A range must lie in one VMA: crossing into the next VMA, into a hole, or
 * starting in one fails with -EFAULT, takes nothing and leaves nothing
 * locked, on the VMA-lock path and on the mmap_lock path alike.
 */
static void gup_vma_boundary(struct kunit *test)
{
	struct page *mapped[3], *pages[4];
	int before[3];
	struct mm_struct *mm;
	unsigned long addr, ro, hole, last;
	unsigned int pass, i, n;
	long got;
	int ret;

	/* Pages 0-1 read-write, 2 read-only, 3 a hole, 4 read-write. */
	addr = gup_kunit_map(test, 5);
	mm = current->mm;	/* kunit_vm_mmap() gave this kthread its mm */
	ro = addr + 2 * PAGE_SIZE;
	hole = addr + 3 * PAGE_SIZE;
	last = addr + 4 * PAGE_SIZE;
	KUNIT_ASSERT_EQ(test, kunit_vm_mmap(test, NULL, ro, PAGE_SIZE,
					    PROT_READ, MAP_PRIVATE |
					    MAP_ANONYMOUS | MAP_FIXED, 0), ro);
	KUNIT_ASSERT_EQ(test, vm_munmap(hole, PAGE_SIZE), 0);
	got = get_user_pages_fast(addr, 2, FOLL_WRITE, mapped);
	if (got != 2) {
		gup_kunit_release(GUP_GET_USER_PAGES_FAST, mapped, got);
		KUNIT_FAIL(test, "get_user_pages_fast() returned %ld", got);
		return;
	}
	got = get_user_pages_fast(last, 1, FOLL_WRITE, &mapped[2]);
	if (got != 1) {
		gup_kunit_put_mapped(mapped, 2);
		KUNIT_FAIL(test, "get_user_pages_fast() returned %ld", got);
		return;
	}
	for (i = 0; i < 3; i++)
		before[i] = gup_kunit_ref(mapped[i]);

	for (pass = 0; pass < 2; pass++) {
		const struct {
			unsigned long start, nr;
			int ret;
		} cases[] = {
			{ addr, 2, 0 },			/* all in the first */
			{ addr + PAGE_SIZE, 2, -EFAULT },	/* into the next */
			{ addr, 5, -EFAULT },		/* over all of them */
			{ ro, 2, -EFAULT },		/* into the hole */
			{ hole, 1, -EFAULT },		/* in it */
			{ last, 1, 0 },			/* the last VMA */
			{ last, 2, -EFAULT },		/* past its end */
		};

		if (pass)
			kunit_activate_static_stub(test, gup_vma_trylock,
						   gup_kunit_no_vma_lock);
		for (n = 0; n < ARRAY_SIZE(cases); n++) {
			struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };

			memset(pages, 0, sizeof(pages));
			ret = get_user_pages_vma(mm, cases[n].start,
						 cases[n].nr, 0, pages, &gv);
			KUNIT_EXPECT_EQ_MSG(test, ret, cases[n].ret,
					    "pass %u case %u", pass, n);
			if (!ret) {
				gup_vma_release(&gv, false);
				continue;
			}
			KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
			KUNIT_EXPECT_NULL(test, pages[0]);
			KUNIT_EXPECT_FALSE_MSG(test,
					       rwsem_is_locked(&mm->mmap_lock),
					       "pass %u case %u", pass, n);
		}
		if (pass)
			kunit_deactivate_static_stub(test, gup_vma_trylock);
	}
	/* Nothing leaked. */
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(mapped[i]), before[i],
				    "page %u", i);
	gup_kunit_put_mapped(mapped, 3);
}

/*
 * Under the caller's mmap_lock: no lock taken or dropped, the VMA is the
 * one vma_lookup() finds, and release leaves the caller's lock alone.
 */
static void gup_vma_caller_lock(struct kunit *test)
{
	struct page *mapped[2], *pages[2];
	int before[2];
	struct mm_struct *mm;
	struct gup_vma gv = { .lock = GUP_VMA_CALLER_LOCK };
	unsigned long addr;
	int ret;

	addr = gup_kunit_map_populated(test, 2, mapped, before);
	if (!addr)
		return;
	mm = current->mm;	/* kunit_vm_mmap() gave this kthread its mm */

	mmap_read_lock(mm);
	ret = pin_user_pages_vma(mm, addr, 2, FOLL_WRITE, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, 0);
	if (!ret) {
		gup_kunit_expect_gv(test, &gv, GUP_VMA_CALLER_LOCK, addr, pages,
				    mapped, before, 2, true);
		KUNIT_EXPECT_PTR_EQ(test, gv.vma, vma_lookup(mm, addr));
		KUNIT_EXPECT_FALSE(test, gup_kunit_vma_read_locked(gv.vma));
		gup_vma_release(&gv, true);
		KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_CALLER_LOCK);
	}
	/* Out of the VMA: an error, and the caller's lock still held. */
	ret = get_user_pages_vma(mm, addr, 3, 0, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, -EFAULT);
	KUNIT_EXPECT_TRUE(test, rwsem_is_locked(&mm->mmap_lock));
	mmap_read_unlock(mm);

	KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[0]), before[0]);
	KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[1]), before[1]);
	gup_kunit_put_mapped(mapped, 2);
}

static struct kunit_case gup_kunit_cases[] = {
	KUNIT_CASE(gup_args_entry_table),
	KUNIT_CASE(gup_args_exhaustive),
	KUNIT_CASE(gup_entry_get_and_pin),
	KUNIT_CASE(gup_entry_partial),
	KUNIT_CASE(gup_invalid_args_einval),
	KUNIT_CASE(gup_entry_fault_flags),
	KUNIT_CASE(gup_vma_lock_and_fallback),
	KUNIT_CASE(gup_vma_faults),
	KUNIT_CASE(gup_vma_boundary),
	KUNIT_CASE(gup_vma_caller_lock),
	{}
};

static struct kunit_suite gup_kunit_suite = {
	.name = "gup",
	.init = gup_kunit_init,
	.test_cases = gup_kunit_cases,
};

kunit_test_suite(gup_kunit_suite);

MODULE_DESCRIPTION("KUnit tests for get_user_pages() and pin_user_pages()");
MODULE_LICENSE("GPL");
