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
#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/swap.h>

/* The exported entry points. */
enum gup_kunit_fn {
	GET_REMOTE,		/* get_user_pages_remote() */
	GET,			/* get_user_pages() */
	GET_UNLOCKED,		/* get_user_pages_unlocked() */
	GET_FAST,		/* get_user_pages_fast() */
	GET_FAST_ONLY,		/* get_user_pages_fast_only() */
	PIN_REMOTE,		/* pin_user_pages_remote() */
	PIN,			/* pin_user_pages() */
	PIN_UNLOCKED,		/* pin_user_pages_unlocked() */
	PIN_FAST,		/* pin_user_pages_fast() */
};

static const char * const gup_kunit_names[] = {
	[GET_REMOTE]	= "get_user_pages_remote",
	[GET]		= "get_user_pages",
	[GET_UNLOCKED]	= "get_user_pages_unlocked",
	[GET_FAST]	= "get_user_pages_fast",
	[GET_FAST_ONLY]	= "get_user_pages_fast_only",
	[PIN_REMOTE]	= "pin_user_pages_remote",
	[PIN]		= "pin_user_pages",
	[PIN_UNLOCKED]	= "pin_user_pages_unlocked",
	[PIN_FAST]	= "pin_user_pages_fast",
};

static bool gup_kunit_pins(enum gup_kunit_fn fn)
{
	return fn >= PIN_REMOTE;
}

/* @locked for the remote entry points: none, or a variable set to 0 or 1. */
enum gup_kunit_locked { NO_LOCKED, LOCKED_0, LOCKED_1 };

/*
 * Call @fn on one page at @addr as its kerneldoc says to: holding
 * mmap_lock for read for get/pin_user_pages() and the remote ones, not
 * holding it for the others.  Returns with mmap_lock not held, and tells
 * in *@lock_kept whether a remote call that did not report dropping the
 * lock (*@locked still 1, or no @locked) really still held it.
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

#define BAD	-EINVAL

/*
 * One line per call, and the answer the documentation gives for it.  A
 * refused call returns -EINVAL from every entry point, never 0: 0 means
 * "no pages" to a caller that loops until all are taken.
 */
static const struct gup_kunit_case gup_kunit_cases_args[] = {
	/* "FOLL_PIN and FOLL_GET are mutually exclusive" (mm_types.h) */
	{ PIN_REMOTE, FOLL_GET, false, LOCKED_1, BAD },
	{ PIN, FOLL_GET, false, NO_LOCKED, BAD },
	{ PIN_UNLOCKED, FOLL_GET, false, NO_LOCKED, BAD },
	{ PIN_FAST, FOLL_GET, false, NO_LOCKED, BAD },
	/* FOLL_LONGTERM is for pin_user_pages*() only (pin_user_pages.rst) */
	{ GET_REMOTE, FOLL_LONGTERM, false, NO_LOCKED, BAD },
	{ GET, FOLL_LONGTERM, false, NO_LOCKED, BAD },
	{ GET_UNLOCKED, FOLL_LONGTERM, false, NO_LOCKED, BAD },
	{ GET_FAST, FOLL_LONGTERM, false, NO_LOCKED, BAD },
	/* @pages: "Should be at least nr_pages long" for a pin */
	{ PIN_REMOTE, 0, true, NO_LOCKED, BAD },
	{ PIN, 0, true, NO_LOCKED, BAD },
	{ PIN_UNLOCKED, 0, true, NO_LOCKED, BAD },
	{ PIN_FAST, 0, true, NO_LOCKED, BAD },
	{ GET_FAST, 0, true, NO_LOCKED, BAD },
	/* ... while get_user_pages() without @pages only faults in */
	{ GET, FOLL_WRITE, true, NO_LOCKED, 1 },
	{ GET_REMOTE, FOLL_WRITE, true, LOCKED_1, 1 },
	/* @locked: "Lock must initially be held", *@locked == 1 */
	{ GET_REMOTE, 0, false, LOCKED_0, BAD },
	{ PIN_REMOTE, 0, false, LOCKED_0, BAD },
	/* the pgmap of a P2PDMA page may go away: no long-term pin */
	{ PIN, FOLL_LONGTERM | FOLL_PCI_P2PDMA, false, NO_LOCKED, BAD },
	{ PIN_FAST, FOLL_LONGTERM | FOLL_PCI_P2PDMA, false, NO_LOCKED, BAD },
	/* P2PDMA pages are for callers that pin them (pin_user_pages.rst) */
	{ GET_REMOTE, FOLL_PCI_P2PDMA, false, NO_LOCKED, BAD },
	{ GET, FOLL_PCI_P2PDMA, false, NO_LOCKED, BAD },
	{ GET_FAST, FOLL_PCI_P2PDMA, false, NO_LOCKED, BAD },
	{ PIN_FAST, FOLL_PCI_P2PDMA, false, NO_LOCKED, 1 },
	/* a long-term pin migrates first: it cannot promise not to wait */
	{ PIN_REMOTE, FOLL_LONGTERM | FOLL_NOWAIT, false, LOCKED_1, BAD },
	{ PIN, FOLL_LONGTERM | FOLL_NOWAIT, false, NO_LOCKED, BAD },
	{ PIN_UNLOCKED, FOLL_LONGTERM | FOLL_NOWAIT, false, NO_LOCKED, BAD },
	{ PIN_FAST, FOLL_LONGTERM | FOLL_NOWAIT, false, NO_LOCKED, BAD },
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
};

#undef BAD

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
		long ret;

		if (c->fn == GET_FAST_ONLY && !IS_ENABLED(CONFIG_HAVE_GUP_FAST))
			continue;
		kunit_warning_suppress(test) {
			ret = gup_kunit_call(c->fn, addr, c->flags,
					     c->no_pages ? NULL : &page,
					     c->locked, &lock_kept);
			KUNIT_EXPECT_EQ_MSG(test,
					    KUNIT_SUPPRESSED_WARNING_COUNT(),
					    c->want < 0 ? 1 : 0,
					    "%s(%#x): warnings", name,
					    c->flags);
		}
		KUNIT_EXPECT_EQ_MSG(test, ret, c->want, "%s(%#x%s%s)", name,
				    c->flags, c->no_pages ? ", no pages" : "",
				    c->locked == LOCKED_0 ? ", *locked 0" : "");
		KUNIT_EXPECT_TRUE_MSG(test, lock_kept,
				      "%s(%#x): mmap_lock", name, c->flags);
		if (ret == 1 && page) {
			KUNIT_EXPECT_PTR_EQ_MSG(test, page, mapped, "%s",
						name);
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
 * called with.  Under FAULT_FLAG_RETRY_NOWAIT it asks for a retry and keeps
 * mmap_lock, as a fault that would have to wait for I/O does; otherwise it
 * fails.
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

static int gup_kunit_mmap_prepare(struct vm_area_desc *desc)
{
	desc->vm_ops = &gup_kunit_vm_ops;
	return 0;
}

static const struct file_operations gup_kunit_fops = {
	.mmap_prepare = gup_kunit_mmap_prepare,
};

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
	unsigned int fault_flags;	/* what ->fault sees */
};

/*
 * A call may let the fault handler drop mmap_lock (FAULT_FLAG_ALLOW_RETRY
 * | FAULT_FLAG_KILLABLE) when its caller said it can cope: it passed
 * @locked, or called an *_unlocked() entry point.  FOLL_NOWAIT asks that
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
	{ GET_REMOTE, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	{ GET_REMOTE, FOLL_NOWAIT, LOCKED_1, 0, RETRY_NOWAIT },
	{ GET, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	/* KVM's hva_to_pfn_slow() */
	{ GET_UNLOCKED, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
	{ PIN_REMOTE, FOLL_NOWAIT, LOCKED_1, 0, RETRY_NOWAIT },
	{ PIN_UNLOCKED, FOLL_NOWAIT, NO_LOCKED, 0, RETRY_NOWAIT },
};

static void gup_fault_flags(struct kunit *test)
{
	unsigned long addr;
	struct file *file;
	unsigned int n;

	file = anon_inode_getfile("[gup_kunit]", &gup_kunit_fops, NULL,
				  O_RDWR);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ, MAP_SHARED,
			     0);
	fput(file);
	KUNIT_ASSERT_TRUE_MSG(test, addr && !IS_ERR_VALUE(addr),
			      "kunit_vm_mmap() failed: %ld", (long)addr);

	for (n = 0; n < ARRAY_SIZE(gup_kunit_cases_fault); n++) {
		const struct gup_kunit_fault_case *c = &gup_kunit_cases_fault[n];
		const char *name = gup_kunit_names[c->fn];
		struct page *page = NULL;
		bool lock_kept;
		long ret;

		gup_kunit_faults = 0;
		gup_kunit_fault_flags = 0;
		ret = gup_kunit_call(c->fn, addr, c->flags, &page, c->locked,
				     &lock_kept);
		gup_kunit_release(c->fn, page, ret);

		KUNIT_EXPECT_EQ_MSG(test, ret, c->want, "%s(%#x)", name,
				    c->flags);
		KUNIT_EXPECT_EQ_MSG(test, gup_kunit_faults, 1, "%s(%#x)",
				    name, c->flags);
		KUNIT_EXPECT_EQ_MSG(test,
				    gup_kunit_fault_flags & GUP_KUNIT_FAULT_MASK,
				    c->fault_flags, "%s(%#x%s): fault flags",
				    name, c->flags,
				    c->locked == LOCKED_1 ? ", locked" : "");
		KUNIT_EXPECT_TRUE_MSG(test, lock_kept, "%s(%#x): mmap_lock",
				      name, c->flags);
		KUNIT_EXPECT_FALSE_MSG(test,
				       rwsem_is_locked(&current->mm->mmap_lock),
				       "%s(%#x): mmap_lock left held", name,
				       c->flags);
	}
}

static struct kunit_case gup_kunit_cases[] = {
	KUNIT_CASE(gup_args),
	KUNIT_CASE(gup_fault_flags),
	{}
};

static struct kunit_suite gup_kunit_suite = {
	.name = "gup",
	.test_cases = gup_kunit_cases,
};

kunit_test_suite(gup_kunit_suite);

MODULE_DESCRIPTION("KUnit tests for get_user_pages() and pin_user_pages()");
MODULE_LICENSE("GPL");
