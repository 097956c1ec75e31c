// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the argument rules of get_user_pages() and
 * pin_user_pages(), through the exported entry points, on user memory from
 * kunit_vm_mmap().
 *
 * The expected answers are written here, one call per line, from the rules
 * as Documentation/core-api/pin_user_pages.rst, the FOLL_ flags' comments in
 * include/linux/mm_types.h and the entry points' kerneldoc state them, not
 * derived from mm/gup.c.  A call GUP refuses must warn once; the warning is
 * suppressed and counted, so the suite leaves no splat in the log.
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/swap.h>

#include "../internal.h"	/* FOLL_PIN, FOLL_TRIED and the other internal flags */

/* The exported entry points. */
enum gup_kunit_fn {
	GET_REMOTE,		/* get_user_pages_remote() */
	GET,			/* get_user_pages() */
	GET_UNLOCKED,		/* get_user_pages_unlocked() */
	GET_FAST,		/* get_user_pages_fast() */
	GET_FAST_ONLY,		/* get_user_pages_fast_only() */
	GET_VMA,		/* get_user_pages_vma() */
	PIN_REMOTE,		/* pin_user_pages_remote() */
	PIN,			/* pin_user_pages() */
	PIN_UNLOCKED,		/* pin_user_pages_unlocked() */
	PIN_FAST,		/* pin_user_pages_fast() */
	PIN_VMA,		/* pin_user_pages_vma() */
};

static const char * const gup_kunit_names[] = {
	[GET_REMOTE]	= "get_user_pages_remote",
	[GET]		= "get_user_pages",
	[GET_UNLOCKED]	= "get_user_pages_unlocked",
	[GET_FAST]	= "get_user_pages_fast",
	[GET_FAST_ONLY]	= "get_user_pages_fast_only",
	[GET_VMA]	= "get_user_pages_vma",
	[PIN_REMOTE]	= "pin_user_pages_remote",
	[PIN]		= "pin_user_pages",
	[PIN_UNLOCKED]	= "pin_user_pages_unlocked",
	[PIN_FAST]	= "pin_user_pages_fast",
	[PIN_VMA]	= "pin_user_pages_vma",
};

static bool gup_kunit_pins(enum gup_kunit_fn fn)
{
	return fn >= PIN_REMOTE;
}

/*
 * @locked for the remote entry points: none, or a variable set to 0 or 1.
 * For the single-VMA ones, the lock: their own (gv.lock GUP_VMA_UNLOCKED),
 * or the caller's mmap_lock (GUP_VMA_CALLER_LOCK).
 */
enum gup_kunit_locked { NO_LOCKED, LOCKED_0, LOCKED_1, OWN_LOCK, CALLER_LOCK };

/*
 * Call @fn on one page at @addr as its kerneldoc says to: holding
 * mmap_lock for read for get/pin_user_pages() and the remote ones, not
 * holding it for the others.  Returns with mmap_lock not held, and tells
 * in *@lock_kept whether a remote call that did not report dropping the
 * lock (*@locked still 1, or no @locked) really still held it, and whether
 * a single-VMA call kept the caller's lock, or left no lock of its own
 * behind once gup_vma_unlock() dropped it.  A single-VMA call that
 * succeeds returns 1, the page.
 */
static long gup_kunit_call(enum gup_kunit_fn fn, unsigned long addr,
			   unsigned int flags, struct page **pages,
			   enum gup_kunit_locked lk, bool *lock_kept)
{
	struct mm_struct *mm = current->mm;
	int locked = lk == LOCKED_1;
	int *lp = lk == NO_LOCKED ? NULL : &locked;
	long ret;

	*lock_kept = true;
	switch (fn) {
	case GET_REMOTE:
	case PIN_REMOTE:
		mmap_read_lock(mm);
		if (fn == GET_REMOTE)
			ret = get_user_pages_remote(mm, addr, 1, flags, pages,
						    lp);
		else
			ret = pin_user_pages_remote(mm, addr, 1, flags, pages,
						    lp);
		/* *locked went from 1 to 0: GUP dropped the lock. */
		if (lk == LOCKED_1 && !locked)
			return ret;
		*lock_kept = rwsem_is_locked(&mm->mmap_lock);
		if (*lock_kept)
			mmap_read_unlock(mm);
		return ret;
	case GET:
	case PIN:
		mmap_read_lock(mm);
		if (fn == GET)
			ret = get_user_pages(addr, 1, flags, pages);
		else
			ret = pin_user_pages(addr, 1, flags, pages);
		mmap_read_unlock(mm);
		return ret;
	case GET_UNLOCKED:
		return get_user_pages_unlocked(addr, 1, pages, flags);
	case PIN_UNLOCKED:
		return pin_user_pages_unlocked(addr, 1, pages, flags);
	case GET_FAST:
		return get_user_pages_fast(addr, 1, flags, pages);
	case GET_FAST_ONLY:
		return get_user_pages_fast_only(addr, 1, flags, pages);
	case PIN_FAST:
		return pin_user_pages_fast(addr, 1, flags, pages);
	case GET_VMA:
	case PIN_VMA: {
		struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
		int err;

		if (lk == CALLER_LOCK) {
			mmap_read_lock(mm);
			gv.lock = GUP_VMA_CALLER_LOCK;
		}
		if (fn == GET_VMA)
			err = get_user_pages_vma(mm, addr, 1, flags, pages, &gv);
		else
			err = pin_user_pages_vma(mm, addr, 1, flags, pages, &gv);
		if (!err)
			gup_vma_unlock(&gv);
		if (lk == CALLER_LOCK) {
			*lock_kept = rwsem_is_locked(&mm->mmap_lock);
			if (*lock_kept)
				mmap_read_unlock(mm);
		} else {
			*lock_kept = !rwsem_is_locked(&mm->mmap_lock);
		}
		return err ? err : 1;
	}
	}
	return -EOPNOTSUPP;
}

static void gup_kunit_release(enum gup_kunit_fn fn, struct page *page,
			      long ret)
{
	if (ret != 1 || !page)
		return;
	if (gup_kunit_pins(fn))
		unpin_user_page(page);
	else
		put_page(page);
}

/* A private anonymous mapping of @nr pages, faulted in. */
static unsigned long gup_kunit_anon(struct kunit *test, unsigned long nr)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, nr * PAGE_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, 0);
	KUNIT_ASSERT_TRUE_MSG(test, addr && !IS_ERR_VALUE(addr),
			      "kunit_vm_mmap() failed: %ld", (long)addr);
	return addr;
}

struct gup_kunit_case {
	enum gup_kunit_fn fn;
	unsigned int flags;
	bool no_pages;			/* pass pages == NULL */
	enum gup_kunit_locked locked;	/* remote entry points only */
	long want;			/* 1 page, or -EINVAL */
};

/*
 * One line per call, and the answer the documentation gives for it.  A
 * refused call returns -EINVAL from every entry point, never 0: 0 means
 * "no pages" to a caller that loops until all are taken.
 */
static const struct gup_kunit_case gup_kunit_cases_args[] = {
	/* FOLL_PIN "should be set internally", never by a caller (mm_types.h) */
	{ GET, FOLL_PIN, false, NO_LOCKED, -EINVAL },
	{ GET_FAST, FOLL_PIN, false, NO_LOCKED, -EINVAL },
	/* "FOLL_PIN and FOLL_GET are mutually exclusive" (mm_types.h) */
	{ PIN_REMOTE, FOLL_GET, false, LOCKED_1, -EINVAL },
	{ PIN, FOLL_GET, false, NO_LOCKED, -EINVAL },
	{ PIN_UNLOCKED, FOLL_GET, false, NO_LOCKED, -EINVAL },
	{ PIN_FAST, FOLL_GET, false, NO_LOCKED, -EINVAL },
	/* FOLL_LONGTERM is for pin_user_pages*() only (pin_user_pages.rst) */
	{ GET_REMOTE, FOLL_LONGTERM, false, NO_LOCKED, -EINVAL },
	{ GET, FOLL_LONGTERM, false, NO_LOCKED, -EINVAL },
	{ GET_UNLOCKED, FOLL_LONGTERM, false, NO_LOCKED, -EINVAL },
	{ GET_FAST, FOLL_LONGTERM, false, NO_LOCKED, -EINVAL },
	/* @pages: "Should be at least nr_pages long" for a pin */
	{ PIN_REMOTE, 0, true, NO_LOCKED, -EINVAL },
	{ PIN, 0, true, NO_LOCKED, -EINVAL },
	{ PIN_UNLOCKED, 0, true, NO_LOCKED, -EINVAL },
	{ PIN_FAST, 0, true, NO_LOCKED, -EINVAL },
	{ GET_FAST, 0, true, NO_LOCKED, -EINVAL },
	/* ... while get_user_pages() without @pages only faults in */
	{ GET, FOLL_WRITE, true, NO_LOCKED, 1 },
	{ GET_REMOTE, FOLL_WRITE, true, LOCKED_1, 1 },
	/* @locked: "Lock must initially be held", *@locked == 1 */
	{ GET_REMOTE, 0, false, LOCKED_0, -EINVAL },
	{ PIN_REMOTE, 0, false, LOCKED_0, -EINVAL },
	/* the pgmap of a P2PDMA page may go away: no long-term pin */
	{ PIN, FOLL_LONGTERM | FOLL_PCI_P2PDMA, false, NO_LOCKED, -EINVAL },
	{ PIN_FAST, FOLL_LONGTERM | FOLL_PCI_P2PDMA, false, NO_LOCKED, -EINVAL },
	/* P2PDMA pages are for callers that pin them (pin_user_pages.rst) */
	{ GET_REMOTE, FOLL_PCI_P2PDMA, false, NO_LOCKED, -EINVAL },
	{ GET, FOLL_PCI_P2PDMA, false, NO_LOCKED, -EINVAL },
	{ GET_FAST, FOLL_PCI_P2PDMA, false, NO_LOCKED, -EINVAL },
	{ PIN_FAST, FOLL_PCI_P2PDMA, false, NO_LOCKED, 1 },
	/* a long-term pin migrates first: it cannot promise not to wait */
	{ PIN_REMOTE, FOLL_LONGTERM | FOLL_NOWAIT, false, LOCKED_1, -EINVAL },
	{ PIN, FOLL_LONGTERM | FOLL_NOWAIT, false, NO_LOCKED, -EINVAL },
	{ PIN_UNLOCKED, FOLL_LONGTERM | FOLL_NOWAIT, false, NO_LOCKED, -EINVAL },
	{ PIN_FAST, FOLL_LONGTERM | FOLL_NOWAIT, false, NO_LOCKED, -EINVAL },
	/*
	 * The single-VMA entry points (their kerneldoc): not FOLL_LONGTERM,
	 * they have no migrate-then-pin path; not FOLL_PCI_P2PDMA, their
	 * pages are for the CPU.  The rules above hold for them too.
	 */
	{ PIN_VMA, FOLL_LONGTERM, false, OWN_LOCK, -EINVAL },
	{ PIN_VMA, FOLL_LONGTERM, false, CALLER_LOCK, -EINVAL },
	{ PIN_VMA, FOLL_PCI_P2PDMA, false, OWN_LOCK, -EINVAL },
	{ PIN_VMA, FOLL_GET, false, OWN_LOCK, -EINVAL },
	{ PIN_VMA, 0, true, OWN_LOCK, -EINVAL },
	{ GET_VMA, FOLL_LONGTERM, false, OWN_LOCK, -EINVAL },
	{ GET_VMA, FOLL_PCI_P2PDMA, false, CALLER_LOCK, -EINVAL },
	{ GET_VMA, 0, true, OWN_LOCK, -EINVAL },
	/* valid calls, every entry point */
	{ GET_REMOTE, FOLL_WRITE, false, NO_LOCKED, 1 },
	{ GET_REMOTE, FOLL_WRITE, false, LOCKED_1, 1 },
	{ GET_REMOTE, FOLL_NOWAIT, false, LOCKED_1, 1 },
	{ GET, FOLL_WRITE, false, NO_LOCKED, 1 },
	{ GET_UNLOCKED, FOLL_WRITE, false, NO_LOCKED, 1 },
	/* KVM's hva_to_pfn_slow() */
	{ GET_UNLOCKED, FOLL_WRITE | FOLL_NOWAIT, false, NO_LOCKED, 1 },
	{ GET_FAST, FOLL_WRITE, false, NO_LOCKED, 1 },
	{ GET_FAST_ONLY, FOLL_WRITE, false, NO_LOCKED, 1 },
	{ PIN_REMOTE, FOLL_WRITE | FOLL_LONGTERM, false, LOCKED_1, 1 },
	{ PIN, FOLL_WRITE | FOLL_LONGTERM, false, NO_LOCKED, 1 },
	{ PIN_UNLOCKED, FOLL_WRITE | FOLL_LONGTERM, false, NO_LOCKED, 1 },
	{ PIN_UNLOCKED, FOLL_WRITE | FOLL_NOWAIT, false, NO_LOCKED, 1 },
	{ PIN_FAST, FOLL_WRITE | FOLL_LONGTERM, false, NO_LOCKED, 1 },
	{ GET_VMA, FOLL_WRITE, false, OWN_LOCK, 1 },
	{ GET_VMA, FOLL_WRITE | FOLL_FORCE, false, CALLER_LOCK, 1 },
	{ GET_VMA, FOLL_NOWAIT, false, OWN_LOCK, 1 },
	{ PIN_VMA, FOLL_WRITE, false, OWN_LOCK, 1 },
	{ PIN_VMA, FOLL_WRITE, false, CALLER_LOCK, 1 },
	{ PIN_VMA, FOLL_WRITE | FOLL_NOWAIT, false, CALLER_LOCK, 1 },
};

/*
 * Where the architecture has no __WARN_FLAGS (UML among them),
 * WARN_ON_ONCE() is DO_ONCE_LITE_IF(): its once flag is spent before the
 * warning is suppressed, and only the first refusal at each site warns.
 */
#ifdef __WARN_FLAGS
#define GUP_KUNIT_WARN_EXACT	true
#else
#define GUP_KUNIT_WARN_EXACT	false
#endif

/* Refcount of @page's folio once no per-CPU LRU batch holds a reference. */
static int gup_kunit_ref(struct page *page)
{
	lru_add_drain_all();
	return folio_ref_count(page_folio(page));
}

/*
 * Every call gets its documented answer.  A refused call warns exactly once
 * and takes nothing; a valid one warns never and takes one reference
 * (FOLL_GET) or one pin, which its release drops again.
 */
static void gup_args(struct kunit *test)
{
	unsigned long addr = gup_kunit_anon(test, 1);
	struct page *mapped;
	unsigned int n;
	int before;

	/* The page, and a reference on it that keeps it where it is. */
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 1, FOLL_WRITE,
						  &mapped), 1);
	before = gup_kunit_ref(mapped);

	for (n = 0; n < ARRAY_SIZE(gup_kunit_cases_args); n++) {
		const struct gup_kunit_case *c = &gup_kunit_cases_args[n];
		const char *name = gup_kunit_names[c->fn];
		struct page *page = NULL;
		bool lock_kept, pinned;
		int warnings;
		long ret;

		if (c->fn == GET_FAST_ONLY && !IS_ENABLED(CONFIG_HAVE_GUP_FAST))
			continue;
		/* A long-term pin would migrate the page first. */
		if (c->want == 1 && (c->flags & FOLL_LONGTERM) &&
		    !folio_is_longterm_pinnable(page_folio(mapped))) {
			kunit_info(test, "%s(%#x): page not long-term pinnable, not called",
				   name, c->flags);
			continue;
		}
		kunit_warning_suppress(test) {
			ret = gup_kunit_call(c->fn, addr, c->flags,
					     c->no_pages ? NULL : &page,
					     c->locked, &lock_kept);
			warnings = KUNIT_SUPPRESSED_WARNING_COUNT();
		}
		if (c->want == 1 || GUP_KUNIT_WARN_EXACT)
			KUNIT_EXPECT_EQ_MSG(test, warnings, c->want < 0 ? 1 : 0,
					    "%s(%#x): warnings", name,
					    c->flags);
		else
			KUNIT_EXPECT_LE_MSG(test, warnings, 1,
					    "%s(%#x): warnings", name,
					    c->flags);
		KUNIT_EXPECT_EQ_MSG(test, ret, c->want, "%s(%#x%s%s)", name,
				    c->flags, c->no_pages ? ", no pages" : "",
				    c->locked == LOCKED_0 ? ", *locked 0" : "");
		KUNIT_EXPECT_TRUE_MSG(test, lock_kept,
				      "%s(%#x): mmap_lock", name, c->flags);
		if (ret == 1 && page) {
			KUNIT_EXPECT_PTR_EQ_MSG(test, page, mapped, "%s",
						name);
			/* pin_user_pages.rst: a pin adds GUP_PIN_COUNTING_BIAS */
			KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(mapped),
					    before + (gup_kunit_pins(c->fn) ?
						      GUP_PIN_COUNTING_BIAS :
						      1), "%s", name);
			pinned = folio_maybe_dma_pinned(page_folio(mapped));
			KUNIT_EXPECT_EQ_MSG(test, pinned, gup_kunit_pins(c->fn),
					    "%s", name);
		}
		gup_kunit_release(c->fn, page, ret);
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(mapped), before,
				    "%s(%#x): after release", name, c->flags);
	}
	put_page(mapped);
}

/*
 * A mapping whose ->fault maps nothing and records the fault flags it is
 * called with.  It asks for a retry, as a fault that has to wait for I/O
 * does: keeping the lock it runs under (mmap_lock, or the VMA lock with
 * FAULT_FLAG_VMA_LOCK) with FAULT_FLAG_RETRY_NOWAIT, dropping it when
 * allowed to and not yet retried.  Otherwise it fails.
 */
static unsigned int gup_kunit_fault_flags, gup_kunit_fault_flags_last;
static unsigned int gup_kunit_faults;

static vm_fault_t gup_kunit_fault(struct vm_fault *vmf)
{
	if (!gup_kunit_faults++)
		gup_kunit_fault_flags = vmf->flags;
	gup_kunit_fault_flags_last = vmf->flags;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	if (fault_flag_allow_retry_first(vmf->flags)) {
		release_fault_lock(vmf);
		return VM_FAULT_RETRY;
	}
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct gup_kunit_vm_ops = {
	.fault = gup_kunit_fault,
};

/* The VMA gets the vm_operations_struct given as the file's private data. */
static int gup_kunit_mmap_prepare(struct vm_area_desc *desc)
{
	desc->vm_ops = desc->file->private_data;
	return 0;
}

static const struct file_operations gup_kunit_fops = {
	.mmap_prepare = gup_kunit_mmap_prepare,
};

/*
 * The same ->fault with a ->map_pages that maps nothing: vmf_can_call_fault()
 * then lets ->fault run under the VMA lock.
 */
static vm_fault_t gup_kunit_map_nothing(struct vm_fault *vmf,
					pgoff_t start_pgoff, pgoff_t end_pgoff)
{
	return 0;
}

static const struct vm_operations_struct gup_kunit_map_pages_vm_ops = {
	.fault = gup_kunit_fault,
	.map_pages = gup_kunit_map_nothing,
};

/* A read-only, one-page MAP_SHARED mapping whose VMA has @vm_ops. */
static unsigned long gup_kunit_map_ops(struct kunit *test,
				       const struct vm_operations_struct *vm_ops)
{
	unsigned long addr;
	struct file *file;

	file = anon_inode_getfile("[gup_kunit]", &gup_kunit_fops,
				  (void *)vm_ops, O_RDWR);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ, MAP_SHARED,
			     0);
	fput(file);
	KUNIT_ASSERT_TRUE_MSG(test, addr && !IS_ERR_VALUE(addr),
			      "kunit_vm_mmap() failed: %ld", (long)addr);
	return addr;
}

#define GUP_KUNIT_FAULT_MASK						\
	(FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE |			\
	 FAULT_FLAG_INTERRUPTIBLE | FAULT_FLAG_RETRY_NOWAIT)

#define RETRY_KILLABLE	(FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE)
#define RETRY_NOWAIT	(FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT)

struct gup_kunit_fault_case {
	enum gup_kunit_fn fn;
	unsigned int flags;
	enum gup_kunit_locked locked;
	long want;			/* what the call returns */
	unsigned int fault_flags;	/* what ->fault sees first */
};

/*
 * A call may let the fault handler drop mmap_lock (FAULT_FLAG_ALLOW_RETRY
 * | FAULT_FLAG_KILLABLE) when its caller said it can cope: it passed
 * @locked, or called an *_unlocked() or GUP-fast entry point; a fault that
 * drops the lock is then retried once, with FAULT_FLAG_TRIED, and the lock
 * taken again.  FOLL_NOWAIT asks that
 * nothing waits: the fault may only ask for a retry, keeping the lock
 * (FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_RETRY_NOWAIT), and nothing else, so
 * the call then ends with no page and no error, the lock as it was.
 */
static const struct gup_kunit_fault_case gup_kunit_cases_fault[] = {
	{ GET_REMOTE, 0, NO_LOCKED, -EFAULT, 0 },
	{ GET_REMOTE, 0, LOCKED_1, -EFAULT, RETRY_KILLABLE },
	{ GET, 0, NO_LOCKED, -EFAULT, 0 },
	{ GET_UNLOCKED, 0, NO_LOCKED, -EFAULT, RETRY_KILLABLE },
	{ PIN_REMOTE, 0, LOCKED_1, -EFAULT, RETRY_KILLABLE },
	{ PIN_UNLOCKED, 0, NO_LOCKED, -EFAULT, RETRY_KILLABLE },
	/* GUP-fast finds no page and falls back, taking the lock itself */
	{ GET_FAST, 0, NO_LOCKED, -EFAULT, RETRY_KILLABLE },
	{ PIN_FAST, 0, NO_LOCKED, -EFAULT, RETRY_KILLABLE },
	{ GET_REMOTE, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	{ GET_REMOTE, FOLL_NOWAIT, LOCKED_1, 0, RETRY_NOWAIT },
	{ GET, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	/* KVM's hva_to_pfn_slow() */
	{ GET_UNLOCKED, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	{ PIN_REMOTE, FOLL_NOWAIT, LOCKED_1, 0, RETRY_NOWAIT },
	{ PIN_UNLOCKED, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	/*
	 * The single-VMA entry points hold the lock they return with from the
	 * lookup to the last page: the fault under the VMA lock stops short of
	 * a ->fault without ->map_pages (VM_FAULT_RETRY), and the one under
	 * mmap_lock may not drop it.  All or nothing: a page that would have
	 * to wait is -EAGAIN.
	 */
	{ GET_VMA, 0, OWN_LOCK, -EFAULT, 0 },
	{ GET_VMA, 0, CALLER_LOCK, -EFAULT, 0 },
	{ PIN_VMA, 0, OWN_LOCK, -EFAULT, 0 },
	{ PIN_VMA, 0, CALLER_LOCK, -EFAULT, 0 },
	{ GET_VMA, FOLL_NOWAIT, OWN_LOCK, -EAGAIN, RETRY_NOWAIT },
	{ GET_VMA, FOLL_NOWAIT, CALLER_LOCK, -EAGAIN, RETRY_NOWAIT },
	{ PIN_VMA, FOLL_NOWAIT, OWN_LOCK, -EAGAIN, RETRY_NOWAIT },
	{ PIN_VMA, FOLL_NOWAIT, CALLER_LOCK, -EAGAIN, RETRY_NOWAIT },
};

static void gup_fault_flags(struct kunit *test)
{
	unsigned long addr = gup_kunit_map_ops(test, &gup_kunit_vm_ops);
	unsigned int n;

	for (n = 0; n < ARRAY_SIZE(gup_kunit_cases_fault); n++) {
		const struct gup_kunit_fault_case *c = &gup_kunit_cases_fault[n];
		const char *name = gup_kunit_names[c->fn];
		struct page *page = NULL;
		bool lock_kept, retried;
		long ret;

		gup_kunit_faults = 0;
		gup_kunit_fault_flags = 0;
		gup_kunit_fault_flags_last = 0;
		ret = gup_kunit_call(c->fn, addr, c->flags, &page, c->locked,
				     &lock_kept);
		gup_kunit_release(c->fn, page, ret);

		KUNIT_EXPECT_EQ_MSG(test, ret, c->want, "%s(%#x)", name,
				    c->flags);
		/* A fault that dropped the lock is retried once, TRIED. */
		retried = c->fault_flags == RETRY_KILLABLE;
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_faults, retried ? 2 : 1,
				    "%s(%#x): faults", name, c->flags);
		if (retried)
			KUNIT_EXPECT_TRUE_MSG(test, gup_kunit_fault_flags_last &
					      FAULT_FLAG_TRIED,
					      "%s(%#x): retry", name, c->flags);
		KUNIT_EXPECT_EQ_MSG(test,
				    gup_kunit_fault_flags & GUP_KUNIT_FAULT_MASK,
				    c->fault_flags, "%s(%#x%s): fault flags",
				    name, c->flags,
				    c->locked == LOCKED_1 ? ", locked" :
				    c->locked == OWN_LOCK ? ", own lock" :
				    c->locked == CALLER_LOCK ? ", caller's lock" :
				    "");
		KUNIT_EXPECT_TRUE_MSG(test, lock_kept, "%s(%#x): mmap_lock",
				      name, c->flags);
		KUNIT_EXPECT_FALSE_MSG(test,
				       rwsem_is_locked(&current->mm->mmap_lock),
				       "%s(%#x): mmap_lock left held", name,
				       c->flags);
	}
}

/*
 * get_user_pages_vma() and pin_user_pages_vma(): which lock they return
 * with, on which path, and that they take all of a range in one VMA or
 * nothing.  The mmap_lock path is forced by stubbing out
 * gup_lock_vma_under_rcu(), which is lock_vma_under_rcu() and nothing
 * else; nothing of the code under test is replaced.
 */
#define GUP_KUNIT_PAGES	4

static struct vm_area_struct *gup_kunit_no_vma_lock(struct mm_struct *mm,
						    unsigned long addr)
{
	return NULL;
}

/* The lock a call on VMA-lockable memory is expected to return with. */
static enum gup_vma_lock gup_kunit_vma_lock_expected(void)
{
	return IS_ENABLED(CONFIG_PER_VMA_LOCK) ? GUP_VMA_LOCK :
						 GUP_VMA_MMAP_LOCK;
}

/* A private anonymous mapping of @nr pages, not faulted in. */
static unsigned long gup_kunit_anon_untouched(struct kunit *test,
					      unsigned long nr)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, nr * PAGE_SIZE,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_TRUE_MSG(test, addr && !IS_ERR_VALUE(addr),
			      "kunit_vm_mmap() failed: %ld", (long)addr);
	return addr;
}

static void gup_kunit_put_mapped(struct page **mapped, unsigned long nr)
{
	while (nr--)
		put_page(mapped[nr]);
}

/*
 * How many hold the per-VMA lock of the VMA at @addr for read; 0 where
 * there is no VMA.  VMAs are SLAB_TYPESAFE_BY_RCU: a vma_start_read()
 * (lock_vma_under_rcu(), lock_next_vma()) for another mm that found this
 * object before it was reused here raises vm_refcnt, then sees the wrong
 * mm and drops it.  Such raises are brief and only ever add: take the
 * lowest of a few reads, a little apart.
 */
static unsigned int gup_kunit_vma_readers(struct mm_struct *mm,
					  unsigned long addr)
{
	unsigned int readers = UINT_MAX;
#ifdef CONFIG_PER_VMA_LOCK
	struct vm_area_struct *vma;
	int i;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	/* An attached VMA that no one has read-locked counts 1. */
	for (i = 0; vma && i < 4; i++) {
		if (i)
			usleep_range(1000, 2000);
		readers = min(readers, refcount_read(&vma->vm_refcnt) - 1);
	}
	mmap_read_unlock(mm);
#endif
	return readers == UINT_MAX ? 0 : readers;
}

/* @nr populated pages, @mapped[] with a reference each, @before[] counts. */
static unsigned long gup_kunit_populated(struct kunit *test, unsigned long nr,
					 struct page **mapped, int *before)
{
	unsigned long addr = gup_kunit_anon(test, nr), i;
	long got;

	got = get_user_pages_fast(addr, nr, FOLL_WRITE, mapped);
	if (got > 0 && got != nr)
		gup_kunit_put_mapped(mapped, got);
	KUNIT_ASSERT_EQ(test, got, (long)nr);
	for (i = 0; i < nr; i++)
		before[i] = gup_kunit_ref(mapped[i]);
	return addr;
}

static int gup_kunit_vma_call(bool pin, unsigned long addr, unsigned long nr,
			      unsigned int flags, struct page **pages,
			      struct gup_vma *gv)
{
	struct mm_struct *mm = current->mm;

	if (pin)
		return pin_user_pages_vma(mm, addr, nr, flags, pages, gv);
	return get_user_pages_vma(mm, addr, nr, flags, pages, gv);
}

/*
 * On populated memory both entry points return holding the VMA's lock and
 * not mmap_lock (mmap_lock without CONFIG_PER_VMA_LOCK); with the VMA lock
 * not to be had, they return holding mmap_lock.  The pages are the mapped
 * ones, with one reference or pin more, and gup_vma_release() drops the
 * lock and brings every count back.
 */
static void gup_vma_lock_and_fallback(struct kunit *test)
{
	struct page *mapped[GUP_KUNIT_PAGES], *pages[GUP_KUNIT_PAGES];
	int before[GUP_KUNIT_PAGES];
	struct mm_struct *mm;
	unsigned long addr, i;
	unsigned int pass, pin;

	addr = gup_kunit_populated(test, GUP_KUNIT_PAGES, mapped, before);
	mm = current->mm;

	for (pass = 0; pass < 2; pass++) {
		enum gup_vma_lock want = gup_kunit_vma_lock_expected();

		if (pass) {
			kunit_activate_static_stub(test, gup_lock_vma_under_rcu,
						   gup_kunit_no_vma_lock);
			want = GUP_VMA_MMAP_LOCK;
		}
		for (pin = 0; pin < 2; pin++) {
			struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
			int ret;

			memset(pages, 0, sizeof(pages));
			ret = gup_kunit_vma_call(pin, addr, GUP_KUNIT_PAGES,
						 FOLL_WRITE, pages, &gv);
			if (ret) {
				KUNIT_FAIL(test, "pass %u pin %u: %d", pass,
					   pin, ret);
				continue;
			}
			/* No ASSERT while a lock is held. */
			KUNIT_EXPECT_EQ(test, gv.lock, want);
			KUNIT_EXPECT_EQ(test, rwsem_is_locked(&mm->mmap_lock),
					want == GUP_VMA_MMAP_LOCK);
			KUNIT_EXPECT_EQ(test, gv.start, addr);
			KUNIT_EXPECT_TRUE(test, gv.vma &&
					  gv.vma->vm_start <= addr &&
					  gv.vma->vm_end >= addr +
					  GUP_KUNIT_PAGES * PAGE_SIZE);
			for (i = 0; i < GUP_KUNIT_PAGES; i++) {
				KUNIT_EXPECT_PTR_EQ(test, pages[i], mapped[i]);
				KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[i]),
						before[i] +
						(pin ? GUP_PIN_COUNTING_BIAS :
						 1));
			}
			gup_vma_release(&gv, true);
			KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
			KUNIT_EXPECT_NULL(test, gv.vma);
			KUNIT_EXPECT_FALSE(test,
					   rwsem_is_locked(&mm->mmap_lock));
			for (i = 0; i < GUP_KUNIT_PAGES; i++) {
				struct folio *folio = page_folio(mapped[i]);

				KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[i]),
						before[i]);
				KUNIT_EXPECT_FALSE(test,
						   folio_maybe_dma_pinned(folio));
			}
		}
		if (pass)
			kunit_deactivate_static_stub(test,
						     gup_lock_vma_under_rcu);
	}
	gup_kunit_put_mapped(mapped, GUP_KUNIT_PAGES);
}

/*
 * Faults, with nothing stubbed.  In anonymous memory they complete under
 * the VMA lock, the first one included (it gets the anon_vma with
 * mmap_read_trylock()).  FOLL_NOWAIT goes to mmap_lock.  A fault the VMA
 * lock cannot serve (a ->fault without ->map_pages: vmf_can_call_fault()
 * says VM_FAULT_RETRY) makes the call start again under mmap_lock, and
 * ->fault runs there once, without FAULT_FLAG_VMA_LOCK and without leave
 * to drop mmap_lock.  With a ->map_pages, ->fault runs under the VMA lock
 * first, with FAULT_FLAG_VMA_LOCK and leave to drop it (ALLOW_RETRY,
 * KILLABLE); gup_kunit_fault() drops it (VM_FAULT_RETRY), and the call
 * starts again under mmap_lock, where ->fault runs once more and fails.
 */
static void gup_vma_faults(struct kunit *test)
{
	unsigned long addr = gup_kunit_anon_untouched(test, GUP_KUNIT_PAGES);
	struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
	struct mm_struct *mm = current->mm;
	struct page *pages[GUP_KUNIT_PAGES];
	unsigned long fault_addr;
	int ret;

	ret = pin_user_pages_vma(mm, addr, GUP_KUNIT_PAGES - 1, FOLL_WRITE,
				 pages, &gv);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, gv.lock, gup_kunit_vma_lock_expected());
	KUNIT_EXPECT_EQ(test, rwsem_is_locked(&mm->mmap_lock),
			gv.lock == GUP_VMA_MMAP_LOCK);
	gup_vma_release(&gv, true);

	ret = get_user_pages_vma(mm, addr + (GUP_KUNIT_PAGES - 1) * PAGE_SIZE,
				 1, FOLL_WRITE | FOLL_NOWAIT, pages, &gv);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_MMAP_LOCK);
	KUNIT_EXPECT_TRUE(test, rwsem_is_locked(&mm->mmap_lock));
	gup_vma_release(&gv, true);
	KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));

	fault_addr = gup_kunit_map_ops(test, &gup_kunit_vm_ops);
	gup_kunit_faults = 0;
	gup_kunit_fault_flags = 0;
	ret = get_user_pages_vma(mm, fault_addr, 1, 0, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, -EFAULT);	/* that ->fault fails */
	KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
	KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));
	KUNIT_EXPECT_EQ(test, gup_kunit_faults, 1);
	KUNIT_EXPECT_EQ(test, gup_kunit_fault_flags &
			(FAULT_FLAG_VMA_LOCK | GUP_KUNIT_FAULT_MASK), 0);

	fault_addr = gup_kunit_map_ops(test, &gup_kunit_map_pages_vm_ops);
	gup_kunit_faults = 0;
	gup_kunit_fault_flags = 0;
	gup_kunit_fault_flags_last = 0;
	ret = get_user_pages_vma(mm, fault_addr, 1, 0, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, -EFAULT);
	KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
	KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));
	KUNIT_EXPECT_EQ(test, gup_kunit_vma_readers(mm, fault_addr), 0);
	if (IS_ENABLED(CONFIG_PER_VMA_LOCK)) {
		KUNIT_EXPECT_EQ(test, gup_kunit_faults, 2);
		KUNIT_EXPECT_EQ(test, gup_kunit_fault_flags &
				(FAULT_FLAG_VMA_LOCK | RETRY_KILLABLE),
				FAULT_FLAG_VMA_LOCK | RETRY_KILLABLE);
	} else {
		KUNIT_EXPECT_EQ(test, gup_kunit_faults, 1);
	}
	KUNIT_EXPECT_EQ(test, gup_kunit_fault_flags_last &
			(FAULT_FLAG_VMA_LOCK | GUP_KUNIT_FAULT_MASK), 0);
}

/*
 * A range must lie in one VMA: crossing into the next VMA, into a hole, or
 * starting in one fails with -EFAULT, takes nothing and leaves nothing
 * locked (no VMA-lock reader either), on the VMA-lock path and on the
 * mmap_lock path alike.  A range that fits starts where it was asked to,
 * not at its VMA's start.
 */
static void gup_vma_boundary(struct kunit *test)
{
	struct mm_struct *mm;
	unsigned long addr, ro, hole, last;
	unsigned int pass, n, readers;
	struct page *pages[5];
	int ret;

	/* Pages 0-1 read-write, 2 read-only, 3 a hole, 4 read-write. */
	addr = gup_kunit_anon(test, 5);
	mm = current->mm;	/* kunit_vm_mmap() attached it */
	ro = addr + 2 * PAGE_SIZE;
	hole = addr + 3 * PAGE_SIZE;
	last = addr + 4 * PAGE_SIZE;
	KUNIT_ASSERT_EQ(test, kunit_vm_mmap(test, NULL, ro, PAGE_SIZE,
					    PROT_READ, MAP_PRIVATE |
					    MAP_ANONYMOUS | MAP_FIXED, 0), ro);
	KUNIT_ASSERT_EQ(test, vm_munmap(hole, PAGE_SIZE), 0);

	for (pass = 0; pass < 2; pass++) {
		const struct {
			unsigned long start, nr;
			int ret;
		} cases[] = {
			{ addr, 2, 0 },			/* all in the first */
			{ addr + PAGE_SIZE, 1, 0 },	/* not at its start */
			{ addr + PAGE_SIZE, 2, -EFAULT },	/* into the next */
			{ addr, 5, -EFAULT },		/* over all of them */
			{ ro, 2, -EFAULT },		/* into the hole */
			{ hole, 1, -EFAULT },		/* in it */
			{ last, 1, 0 },			/* the last VMA */
			{ last, 2, -EFAULT },		/* past its end */
		};

		if (pass)
			kunit_activate_static_stub(test, gup_lock_vma_under_rcu,
						   gup_kunit_no_vma_lock);
		for (n = 0; n < ARRAY_SIZE(cases); n++) {
			struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };

			memset(pages, 0, sizeof(pages));
			ret = get_user_pages_vma(mm, cases[n].start,
						 cases[n].nr, 0, pages, &gv);
			KUNIT_EXPECT_EQ_MSG(test, ret, cases[n].ret,
					    "pass %u case %u", pass, n);
			if (!ret) {
				KUNIT_EXPECT_EQ_MSG(test, gv.start,
						    cases[n].start,
						    "pass %u case %u", pass, n);
				gup_vma_release(&gv, false);
			} else {
				KUNIT_EXPECT_EQ(test, gv.lock,
						GUP_VMA_UNLOCKED);
				KUNIT_EXPECT_NULL(test, pages[0]);
			}
			KUNIT_EXPECT_FALSE_MSG(test,
					       rwsem_is_locked(&mm->mmap_lock),
					       "pass %u case %u", pass, n);
			readers = gup_kunit_vma_readers(mm, cases[n].start);
			KUNIT_EXPECT_EQ_MSG(test, readers, 0,
					    "pass %u case %u", pass, n);
		}
		if (pass)
			kunit_deactivate_static_stub(test,
						     gup_lock_vma_under_rcu);
	}
}

/*
 * A page after the first that cannot be had (FOLL_NOFAULT on a page never
 * faulted in) fails the whole call with -EFAULT, on the VMA-lock path and on
 * the mmap_lock path alike: the page before it is released, nothing stays
 * locked.  A call that returned the first page, or leaked its reference or
 * pin, fails here.
 */
static void gup_vma_later_page_fails(struct kunit *test)
{
	struct page *mapped, *pages[2];
	struct mm_struct *mm;
	unsigned long addr;
	unsigned int pass, pin;
	int before;

	/* Page 0 faulted in, page 1 of the same VMA never touched. */
	addr = gup_kunit_anon_untouched(test, 2);
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 1, FOLL_WRITE, &mapped),
			1);
	before = gup_kunit_ref(mapped);
	mm = current->mm;

	for (pass = 0; pass < 2; pass++) {
		if (pass)
			kunit_activate_static_stub(test, gup_lock_vma_under_rcu,
						   gup_kunit_no_vma_lock);
		for (pin = 0; pin < 2; pin++) {
			struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
			int ret;

			memset(pages, 0, sizeof(pages));
			ret = gup_kunit_vma_call(pin, addr, 2, FOLL_NOFAULT,
						 pages, &gv);
			KUNIT_EXPECT_EQ_MSG(test, ret, -EFAULT,
					    "pass %u pin %u", pass, pin);
			if (!ret)
				gup_vma_release(&gv, false);
			KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
			KUNIT_EXPECT_FALSE(test,
					   rwsem_is_locked(&mm->mmap_lock));
			KUNIT_EXPECT_EQ(test, gup_kunit_vma_readers(mm, addr), 0);
			KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(mapped), before,
					    "pass %u pin %u", pass, pin);
			KUNIT_EXPECT_FALSE(test,
					   folio_maybe_dma_pinned(page_folio(mapped)));
		}
		if (pass)
			kunit_deactivate_static_stub(test,
						     gup_lock_vma_under_rcu);
	}
	put_page(mapped);
}

/*
 * A two-page mapping whose first page is inserted at mmap() time and whose
 * second faults through gup_kunit_fault().  Under the VMA lock the first
 * page is found mapped and taken; the second page's fault, with no
 * ->map_pages, drops the VMA lock (vmf_can_call_fault()).  The call must
 * let go of the first page, start again under mmap_lock, where ->fault runs
 * once and fails, and return -EFAULT with nothing taken or locked.
 */
static struct page *gup_kunit_inserted;

static int gup_kunit_mmap_insert(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_ops = &gup_kunit_vm_ops;
	return vm_insert_page(vma, vma->vm_start, gup_kunit_inserted);
}

static const struct file_operations gup_kunit_insert_fops = {
	.mmap = gup_kunit_mmap_insert,
};

static void gup_vma_lock_dropped_after_first_page(struct kunit *test)
{
	struct mm_struct *mm;
	struct page *pages[2];
	unsigned long addr;
	struct file *file;
	unsigned int pin;
	int before;

	gup_kunit_inserted = alloc_page(GFP_KERNEL | __GFP_ZERO);
	KUNIT_ASSERT_NOT_NULL(test, gup_kunit_inserted);
	file = anon_inode_getfile("[gup_kunit]", &gup_kunit_insert_fops, NULL,
				  O_RDWR);
	if (IS_ERR(file))
		__free_page(gup_kunit_inserted);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	addr = kunit_vm_mmap(test, file, 0, 2 * PAGE_SIZE, PROT_READ,
			     MAP_SHARED, 0);
	fput(file);
	/* The mapping holds a reference of its own from here on. */
	put_page(gup_kunit_inserted);
	KUNIT_ASSERT_TRUE(test, addr && !IS_ERR_VALUE(addr));
	mm = current->mm;
	before = gup_kunit_ref(gup_kunit_inserted);

	for (pin = 0; pin < 2; pin++) {
		struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };
		int ret;

		gup_kunit_faults = 0;
		gup_kunit_fault_flags = 0;
		memset(pages, 0, sizeof(pages));
		ret = gup_kunit_vma_call(pin, addr, 2, 0, pages, &gv);
		KUNIT_EXPECT_EQ_MSG(test, ret, -EFAULT, "pin %u", pin);
		if (!ret)
			gup_vma_release(&gv, false);
		KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_UNLOCKED);
		KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));
		KUNIT_EXPECT_EQ(test, gup_kunit_vma_readers(mm, addr), 0);
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_ref(gup_kunit_inserted),
				    before, "pin %u", pin);
		KUNIT_EXPECT_FALSE(test,
				   folio_maybe_dma_pinned(page_folio(gup_kunit_inserted)));
		/* Once, under mmap_lock: the VMA-locked fault stops short. */
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_faults, 1, "pin %u", pin);
		KUNIT_EXPECT_EQ(test, gup_kunit_fault_flags &
				(FAULT_FLAG_VMA_LOCK | GUP_KUNIT_FAULT_MASK), 0);
	}
}

/*
 * Under the caller's mmap_lock: no lock taken or dropped, the VMA is the
 * one vma_lookup() finds, and release leaves the caller's lock alone, on
 * failure too.  A struct gup_vma that says it holds a lock already is
 * refused with a warning.
 */
static void gup_vma_caller_lock(struct kunit *test)
{
	struct page *mapped[2], *pages[3];
	struct gup_vma gv = { .lock = GUP_VMA_CALLER_LOCK };
	struct mm_struct *mm;
	unsigned long addr;
	int before[2];
	int ret;

	addr = gup_kunit_populated(test, 2, mapped, before);
	mm = current->mm;

	mmap_read_lock(mm);
	ret = pin_user_pages_vma(mm, addr, 2, FOLL_WRITE, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, 0);
	if (!ret) {
		KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_CALLER_LOCK);
		KUNIT_EXPECT_PTR_EQ(test, gv.vma, vma_lookup(mm, addr));
		KUNIT_EXPECT_PTR_EQ(test, pages[0], mapped[0]);
		KUNIT_EXPECT_PTR_EQ(test, pages[1], mapped[1]);
		gup_vma_release(&gv, true);
		KUNIT_EXPECT_EQ(test, gv.lock, GUP_VMA_CALLER_LOCK);
		KUNIT_EXPECT_TRUE(test, rwsem_is_locked(&mm->mmap_lock));
	}
	/* Out of the VMA: an error, and the caller's lock still held. */
	ret = get_user_pages_vma(mm, addr, 3, 0, pages, &gv);
	KUNIT_EXPECT_EQ(test, ret, -EFAULT);
	KUNIT_EXPECT_TRUE(test, rwsem_is_locked(&mm->mmap_lock));
	mmap_read_unlock(mm);

	gv.lock = GUP_VMA_LOCK;
	kunit_warning_suppress(test) {
		ret = get_user_pages_vma(mm, addr, 1, 0, pages, &gv);
		KUNIT_EXPECT_EQ(test, KUNIT_SUPPRESSED_WARNING_COUNT(), 1);
	}
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	KUNIT_EXPECT_FALSE(test, rwsem_is_locked(&mm->mmap_lock));

	KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[0]), before[0]);
	KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[1]), before[1]);
	gup_kunit_put_mapped(mapped, 2);
}

/*
 * The VMA-lock path really is taken: another thread takes pages of this
 * mm while this one holds its mmap_lock for write.  On the VMA lock the
 * call completes; had it fallen back to mmap_lock it would wait for us,
 * and the test fails after 10 s, then lets it finish.
 */
struct gup_kunit_remote {
	struct mm_struct *mm;
	unsigned long addr;
	int ret;
	enum gup_vma_lock lock;
	int len;
	char buf[16];
	struct completion done;
};

static int gup_kunit_remote_gup(void *data)
{
	struct gup_kunit_remote *r = data;
	struct page *pages[GUP_KUNIT_PAGES];
	struct gup_vma gv = { .lock = GUP_VMA_UNLOCKED };

	r->ret = get_user_pages_vma(r->mm, r->addr, GUP_KUNIT_PAGES,
				    FOLL_WRITE, pages, &gv);
	if (!r->ret) {
		r->lock = gv.lock;
		gup_vma_release(&gv, true);
	}
	complete(&r->done);
	return 0;
}

/*
 * Run @fn(@r) in a kthread while holding @r->mm's mmap_lock for write.
 * Return whether it finished within @timeout; it has finished either way.
 */
static bool gup_kunit_run_write_locked(struct kunit *test,
				       int (*fn)(void *),
				       struct gup_kunit_remote *r,
				       unsigned long timeout)
{
	struct task_struct *t;
	bool done;

	init_completion(&r->done);
	mmap_write_lock(r->mm);
	t = kthread_run(fn, r, "gup_kunit_remote");
	if (IS_ERR(t)) {
		mmap_write_unlock(r->mm);
		KUNIT_FAIL(test, "kthread_run(): %ld", PTR_ERR(t));
		return false;
	}
	done = wait_for_completion_timeout(&r->done, timeout);
	mmap_write_unlock(r->mm);
	if (!done)
		wait_for_completion(&r->done);
	return done;
}

static void gup_vma_under_mmap_write_lock(struct kunit *test)
{
	struct gup_kunit_remote *r;
	struct page *page;
	unsigned long addr;

	if (!IS_ENABLED(CONFIG_PER_VMA_LOCK))
		kunit_skip(test, "without CONFIG_PER_VMA_LOCK every call takes mmap_lock");

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	/* One page faulted in, for the anon_vma; the others fault then. */
	addr = gup_kunit_anon_untouched(test, GUP_KUNIT_PAGES);
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 1, FOLL_WRITE, &page),
			1);
	put_page(page);

	r->mm = current->mm;
	r->addr = addr;
	KUNIT_EXPECT_TRUE_MSG(test,
			      gup_kunit_run_write_locked(test,
							 gup_kunit_remote_gup,
							 r, 10 * HZ),
			      "get_user_pages_vma() waited for mmap_lock");
	KUNIT_EXPECT_EQ(test, r->ret, 0);
	KUNIT_EXPECT_EQ(test, r->lock, GUP_VMA_LOCK);
}

static int gup_kunit_remote_read(void *data)
{
	struct gup_kunit_remote *r = data;

	r->ret = access_remote_vm(r->mm, r->addr, r->buf, r->len, FOLL_FORCE);
	complete(&r->done);
	return 0;
}

static int gup_kunit_remote_write(void *data)
{
	struct gup_kunit_remote *r = data;

	r->ret = access_remote_vm(r->mm, r->addr, r->buf, r->len,
				  FOLL_FORCE | FOLL_WRITE);
	complete(&r->done);
	return 0;
}

/*
 * access_remote_vm(), as ptrace and /proc/pid/mem use it, while the test
 * holds the target mm's mmap_lock for write: a read that lies in one VMA,
 * across a page boundary, completes; a write there waits for mmap_lock
 * (uprobe_write() patches text under it alone), and so does a read that
 * spans two VMAs; both complete once the test drops it.
 */
static void gup_access_remote_vm_vma_lock(struct kunit *test)
{
	static const char data[16] = "0123456789abcdef";
	static const char zero[16];
	struct gup_kunit_remote *r;
	unsigned long addr, ro;

	if (!IS_ENABLED(CONFIG_PER_VMA_LOCK))
		kunit_skip(test, "without CONFIG_PER_VMA_LOCK every call takes mmap_lock");

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	/* Pages 0-1 read-write, page 2 read-only: two VMAs. */
	addr = gup_kunit_anon(test, 3);
	ro = addr + 2 * PAGE_SIZE;
	KUNIT_ASSERT_EQ(test, kunit_vm_mmap(test, NULL, ro, PAGE_SIZE,
					    PROT_READ, MAP_PRIVATE |
					    MAP_ANONYMOUS | MAP_FIXED, 0), ro);
	r->mm = current->mm;

	r->addr = addr + PAGE_SIZE - 8;
	r->len = sizeof(data);
	memcpy(r->buf, data, sizeof(data));
	KUNIT_EXPECT_FALSE_MSG(test,
			       gup_kunit_run_write_locked(test,
							  gup_kunit_remote_write,
							  r, HZ),
			       "a write did not wait for mmap_lock");
	KUNIT_EXPECT_EQ(test, r->ret, sizeof(data));

	memset(r->buf, 0, sizeof(r->buf));
	KUNIT_EXPECT_TRUE_MSG(test,
			      gup_kunit_run_write_locked(test,
							 gup_kunit_remote_read,
							 r, 10 * HZ),
			      "a read in one VMA waited for mmap_lock");
	KUNIT_EXPECT_EQ(test, r->ret, sizeof(data));
	KUNIT_EXPECT_MEMEQ(test, r->buf, data, sizeof(data));

	/* Across the two VMAs: mmap_lock, held here for a second. */
	r->addr = ro - 8;
	memset(r->buf, 0xff, sizeof(r->buf));
	KUNIT_EXPECT_FALSE_MSG(test,
			       gup_kunit_run_write_locked(test,
							  gup_kunit_remote_read,
							  r, HZ),
			       "a read across two VMAs did not wait for mmap_lock");
	KUNIT_EXPECT_EQ(test, r->ret, sizeof(data));
	/* Both never written: zeroes where the test put 0xff. */
	KUNIT_EXPECT_MEMEQ(test, r->buf, zero, sizeof(zero));
}

/*
 * A write through access_remote_vm() pins the pages it writes, a read
 * takes references: the mm gets MMF_HAS_PINNED from the write and not
 * from the read, and every count comes back.  Three ways: across a page
 * boundary (the reads in one piece under the VMA lock, the write page by
 * page under mmap_lock), the same with the VMA lock stubbed out, and six
 * pages (more than a read takes in one piece).  All three run on the
 * test's mm, MMF_HAS_PINNED cleared after each.
 */
static void gup_access_remote_vm_pins(struct kunit *test)
{
	const int lens[] = { 8, 8, 4 * PAGE_SIZE + 8 };
	struct mm_struct *mm;
	struct page *mapped[6];
	int before[6], len, i;
	unsigned long addr;
	unsigned int pass;
	char *data, *buf;

	data = kunit_kmalloc(test, lens[2], GFP_KERNEL);
	buf = kunit_kmalloc(test, lens[2], GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, data && buf);
	addr = gup_kunit_populated(test, 6, mapped, before);
	mm = current->mm;	/* kunit_vm_mmap() attached it */

	for (pass = 0; pass < ARRAY_SIZE(lens); pass++) {
		len = lens[pass];
		memset(data, 'a' + pass, len);
		if (pass == 1)
			kunit_activate_static_stub(test, gup_lock_vma_under_rcu,
						   gup_kunit_no_vma_lock);
		/* Across a page boundary. */
		KUNIT_EXPECT_EQ(test, access_remote_vm(mm, addr + PAGE_SIZE - 4,
						       buf, len, 0), len);
		KUNIT_EXPECT_FALSE_MSG(test, mm_flags_test(MMF_HAS_PINNED, mm),
				       "pass %u: a read pinned", pass);
		KUNIT_EXPECT_EQ(test, access_remote_vm(mm, addr + PAGE_SIZE - 4,
						       data, len, FOLL_WRITE),
				len);
		KUNIT_EXPECT_TRUE_MSG(test, mm_flags_test(MMF_HAS_PINNED, mm),
				      "pass %u: the write did not pin", pass);
		KUNIT_EXPECT_EQ(test, access_remote_vm(mm, addr + PAGE_SIZE - 4,
						       buf, len, 0), len);
		KUNIT_EXPECT_MEMEQ(test, buf, data, len);
		if (pass == 1)
			kunit_deactivate_static_stub(test,
						     gup_lock_vma_under_rcu);
		for (i = 0; i < ARRAY_SIZE(mapped); i++) {
			struct folio *folio = page_folio(mapped[i]);

			KUNIT_EXPECT_EQ(test, gup_kunit_ref(mapped[i]),
					before[i]);
			KUNIT_EXPECT_FALSE(test, folio_maybe_dma_pinned(folio));
		}
		/* The flag stays for the mm's life: start again afresh. */
		mm_flags_clear(MMF_HAS_PINNED, mm);
	}
	gup_kunit_put_mapped(mapped, ARRAY_SIZE(mapped));
}

static struct kunit_case gup_kunit_cases[] = {
	KUNIT_CASE(gup_args),
	KUNIT_CASE(gup_fault_flags),
	KUNIT_CASE(gup_vma_lock_and_fallback),
	KUNIT_CASE(gup_vma_faults),
	KUNIT_CASE(gup_vma_boundary),
	KUNIT_CASE(gup_vma_later_page_fails),
	KUNIT_CASE(gup_vma_lock_dropped_after_first_page),
	KUNIT_CASE(gup_vma_caller_lock),
	KUNIT_CASE(gup_vma_under_mmap_write_lock),
	KUNIT_CASE(gup_access_remote_vm_vma_lock),
	KUNIT_CASE(gup_access_remote_vm_pins),
	{}
};

static struct kunit_suite gup_kunit_suite = {
	.name = "gup",
	.test_cases = gup_kunit_cases,
};

kunit_test_suite(gup_kunit_suite);

MODULE_DESCRIPTION("KUnit tests for get_user_pages() and pin_user_pages()");
MODULE_LICENSE("GPL");
