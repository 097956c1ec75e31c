// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the page extraction of ceph's direct I/O:
 * iter_get_bvecs_alloc() and put_bvecs(), on user memory from
 * kunit_vm_mmap() and on kernel pages.  No cluster is needed: these are the
 * helpers that take the pages of the caller's buffer and give them back.
 *
 * Included by file.c, so that the helpers can stay static.
 */

#include <kunit/test.h>
#include <linux/mman.h>
#include <linux/swap.h>
#include <linux/uio.h>

#define CEPH_KUNIT_PAGES	6

struct ceph_kunit_buf {
	unsigned long addr;
	struct page *pages[CEPH_KUNIT_PAGES];	/* one reference each */
	int refs[CEPH_KUNIT_PAGES];		/* page_ref_count() then */
};

/*
 * A page's refcount, without the references that per-CPU LRU batches hold
 * for a while after a fault or an unmap.
 */
static int ceph_kunit_ref(struct page *page)
{
	lru_add_drain_all();
	return page_ref_count(page);
}

static void ceph_kunit_release(void *data)
{
	struct ceph_kunit_buf *buf = data;

	for (int i = 0; i < CEPH_KUNIT_PAGES; i++)
		if (buf->pages[i])
			put_page(buf->pages[i]);
}

/*
 * CEPH_KUNIT_PAGES private anonymous pages, written to (so present, in
 * small folios: the mapping is too small for a THP) and not yet dirty in
 * their struct page: only the PTEs know about the writes.
 */
static struct ceph_kunit_buf *ceph_kunit_map(struct kunit *test)
{
	struct ceph_kunit_buf *buf;
	char fill[64];
	int i, got;

	buf = kunit_kzalloc(test, sizeof(*buf), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	buf->addr = kunit_vm_mmap(test, NULL, 0, CEPH_KUNIT_PAGES * PAGE_SIZE,
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_TRUE_MSG(test, buf->addr && !IS_ERR_VALUE(buf->addr),
			      "kunit_vm_mmap() failed: %ld", (long)buf->addr);
	memset(fill, 0x5a, sizeof(fill));
	for (i = 0; i < CEPH_KUNIT_PAGES; i++)
		KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)buf->addr +
						   i * PAGE_SIZE, fill,
						   sizeof(fill)), 0);
	got = get_user_pages_fast(buf->addr, CEPH_KUNIT_PAGES, 0, buf->pages);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							ceph_kunit_release,
							buf), 0);
	KUNIT_ASSERT_EQ(test, got, CEPH_KUNIT_PAGES);
	for (i = 0; i < CEPH_KUNIT_PAGES; i++) {
		/* with mTHP (anon large folios) the counts are not per page */
		if (PageCompound(buf->pages[i]))
			kunit_skip(test, "page %d is part of a large folio", i);
		KUNIT_ASSERT_FALSE_MSG(test, PageDirty(buf->pages[i]),
				       "page %d is dirty before the test", i);
		buf->refs[i] = ceph_kunit_ref(buf->pages[i]);
	}
	return buf;
}

/*
 * A direct read (ITER_DEST) or write (ITER_SOURCE) from page 0 offset 100
 * to page 4 offset 300: pages 0-4 pinned once each, page 5 untouched;
 * put_bvecs() unpins them all and dirties them after a read only.
 */
static void ceph_bvecs_user(struct kunit *test, int dir)
{
	struct ceph_kunit_buf *buf = ceph_kunit_map(test);
	size_t len = 4 * PAGE_SIZE + 200;
	bool read = dir == ITER_DEST;
	struct bio_vec *bvecs = NULL;
	struct iov_iter iter;
	int i, nr = 0;
	ssize_t got;

	KUNIT_ASSERT_EQ(test, import_ubuf(dir, (void __user *)buf->addr + 100,
					  len, &iter), 0);
	KUNIT_ASSERT_EQ(test, ceph_bvecs_release(&iter, !read),
			read ? CEPH_BVECS_UNPIN_DIRTY : CEPH_BVECS_UNPIN);
	got = iter_get_bvecs_alloc(&iter, len, &bvecs, &nr);
	/* pins held from here: expectations only, so put_bvecs() runs */
	KUNIT_ASSERT_GE(test, got, 0);
	KUNIT_EXPECT_EQ(test, got, (ssize_t)len);
	KUNIT_EXPECT_EQ(test, nr, 5);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), 0);
	for (i = 0; i < min(nr, 5); i++) {
		KUNIT_EXPECT_PTR_EQ_MSG(test, bvecs[i].bv_page, buf->pages[i],
					"bvec %d", i);
		KUNIT_EXPECT_EQ_MSG(test, bvecs[i].bv_offset, i ? 0 : 100,
				    "bvec %d", i);
		KUNIT_EXPECT_EQ_MSG(test, bvecs[i].bv_len,
				    i == 0 ? PAGE_SIZE - 100 :
				    i == 4 ? 300 : PAGE_SIZE, "bvec %d", i);
		KUNIT_EXPECT_TRUE_MSG(test,
				      folio_maybe_dma_pinned(page_folio(buf->pages[i])),
				      "page %d not pinned", i);
		KUNIT_EXPECT_EQ_MSG(test, ceph_kunit_ref(buf->pages[i]),
				    buf->refs[i] + GUP_PIN_COUNTING_BIAS,
				    "page %d: not exactly one pin", i);
	}
	KUNIT_EXPECT_EQ(test, ceph_kunit_ref(buf->pages[5]), buf->refs[5]);

	put_bvecs(bvecs, nr, ceph_bvecs_release(&iter, !read));
	for (i = 0; i < CEPH_KUNIT_PAGES; i++) {
		KUNIT_EXPECT_EQ_MSG(test, ceph_kunit_ref(buf->pages[i]),
				    buf->refs[i], "page %d after put_bvecs()", i);
		KUNIT_EXPECT_FALSE_MSG(test,
				       folio_maybe_dma_pinned(page_folio(buf->pages[i])),
				       "page %d still pinned", i);
		KUNIT_EXPECT_EQ_MSG(test, !!PageDirty(buf->pages[i]),
				    read && i < 5, "page %d dirty state", i);
	}
}

static void ceph_bvecs_user_read(struct kunit *test)
{
	ceph_bvecs_user(test, ITER_DEST);
}

static void ceph_bvecs_user_write(struct kunit *test)
{
	ceph_bvecs_user(test, ITER_SOURCE);
}

/*
 * A buffer running off the end of its mapping: what is mapped comes back
 * pinned, the rest is left in the iterator, and put_bvecs() copes with
 * the unused (zeroed) tail of the array.
 */
static void ceph_bvecs_user_short(struct kunit *test)
{
	struct ceph_kunit_buf *buf = ceph_kunit_map(test);
	size_t len = CEPH_KUNIT_PAGES * PAGE_SIZE;
	struct bio_vec *bvecs = NULL;
	struct iov_iter iter;
	int i, nr = 0;
	ssize_t got;

	KUNIT_ASSERT_EQ(test, vm_munmap(buf->addr + 3 * PAGE_SIZE,
					3 * PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, import_ubuf(ITER_DEST, (void __user *)buf->addr,
					  len, &iter), 0);
	got = iter_get_bvecs_alloc(&iter, len, &bvecs, &nr);
	/* pins held from here: expectations only, so put_bvecs() runs */
	KUNIT_ASSERT_GE(test, got, 0);
	KUNIT_EXPECT_EQ(test, got, (ssize_t)(3 * PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, iov_iter_count(&iter), len - 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, nr, CEPH_KUNIT_PAGES);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ_MSG(test, ceph_kunit_ref(buf->pages[i]),
				    buf->refs[i] + GUP_PIN_COUNTING_BIAS,
				    "page %d: not exactly one pin", i);
	for (; i < nr; i++)
		KUNIT_EXPECT_NULL_MSG(test, bvecs[i].bv_page, "bvec %d", i);
	put_bvecs(bvecs, nr, CEPH_BVECS_UNPIN_DIRTY);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ_MSG(test, ceph_kunit_ref(buf->pages[i]),
				    buf->refs[i], "page %d after put_bvecs()", i);
}

static void ceph_kunit_free_pages(void *data)
{
	struct page **pages = data;

	for (int i = 0; i < 3; i++)
		if (pages[i])
			__free_page(pages[i]);
}

/*
 * A kernel-backed iterator (a bvec, as io_uring's registered buffers and
 * the loop driver pass): its pages are listed, no reference or pin is taken
 * by the extraction, and put_bvecs() with the release ceph_bvecs_release()
 * picks for it leaves them as they were; their owner keeps them.
 */
static void ceph_bvecs_kernel(struct kunit *test)
{
	struct bio_vec src[3], *bvecs = NULL;
	struct page **pages;
	struct iov_iter iter;
	int i, nr = 0, refs[3];
	ssize_t got;

	pages = kunit_kcalloc(test, 3, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							ceph_kunit_free_pages,
							pages), 0);
	for (i = 0; i < 3; i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		bvec_set_page(&src[i], pages[i], PAGE_SIZE, 0);
		refs[i] = ceph_kunit_ref(pages[i]);
	}
	iov_iter_bvec(&iter, ITER_DEST, src, 3, 3 * PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, ceph_bvecs_release(&iter, false),
			CEPH_BVECS_KEEP);
	got = iter_get_bvecs_alloc(&iter, 3 * PAGE_SIZE, &bvecs, &nr);
	KUNIT_ASSERT_GE(test, got, 0);
	KUNIT_EXPECT_EQ(test, got, (ssize_t)(3 * PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, nr, 3);
	for (i = 0; i < min(nr, 3); i++) {
		KUNIT_EXPECT_PTR_EQ(test, bvecs[i].bv_page, pages[i]);
		KUNIT_EXPECT_EQ(test, ceph_kunit_ref(pages[i]), refs[i]);
	}
	put_bvecs(bvecs, nr, CEPH_BVECS_KEEP);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, ceph_kunit_ref(pages[i]), refs[i]);
		KUNIT_EXPECT_FALSE(test, PageDirty(pages[i]));
	}
}

/* A kvec is refused, as it was before the pages were extracted. */
static void ceph_bvecs_kvec(struct kunit *test)
{
	struct bio_vec *bvecs = NULL;
	struct iov_iter iter;
	struct kvec kv;
	int nr = 0;
	void *p;

	p = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	kv.iov_base = p;
	kv.iov_len = PAGE_SIZE;
	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, iter_get_bvecs_alloc(&iter, PAGE_SIZE, &bvecs,
						   &nr), (ssize_t)-EFAULT);
	KUNIT_EXPECT_NULL(test, bvecs);
}

static struct kunit_case ceph_direct_io_cases[] = {
	KUNIT_CASE(ceph_bvecs_user_read),
	KUNIT_CASE(ceph_bvecs_user_write),
	KUNIT_CASE(ceph_bvecs_user_short),
	KUNIT_CASE(ceph_bvecs_kernel),
	KUNIT_CASE(ceph_bvecs_kvec),
	{}
};

static struct kunit_suite ceph_direct_io_suite = {
	.name = "ceph_direct_io",
	.test_cases = ceph_direct_io_cases,
};

kunit_test_suite(ceph_direct_io_suite);
