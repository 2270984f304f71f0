/*
 * alloc/alloc.h: memory allocation.
 *
 * Two layers:
 *  - a buddy page allocator over the multiboot memory map: blocks of 4 KiB << order, naturally
 *    aligned, order 0 .. PAGE_MAX_ORDER. It manages the available RAM above 1 MiB, minus the
 *    kernel image and its own metadata, below the 4 GiB identity map.
 *  - a small-object allocator (kmalloc) on top: size classes from 16 to 2048 bytes carved from
 *    slabs of pages; bigger requests take whole page blocks. Objects are 16-byte aligned.
 *    malloc/calloc/realloc/free (<stdlib.h>) are these functions.
 * Misuse (freeing something that was not allocated, double free, a foreign pointer) panics
 * with the address and what the allocator knows about it.
 */
#ifndef LIBOS_ALLOC_H
#define LIBOS_ALLOC_H

#include "base/base.h"
#include "base/err.h"

struct boot_info;

#define PAGE_SHIFT 12
#define PAGE_MAX_ORDER 18 /* 1 GiB blocks */

void alloc_init(const struct boot_info *info);

/* A block of (4 KiB << order) bytes aligned to its size, or NULL when none is free. */
void *page_alloc(unsigned order);
void page_free(void *block, unsigned order);
/* The smallest order whose block holds `bytes`. */
unsigned page_order_for(size_t bytes);
/* A zeroed page for a page table (counted separately in the stats; never freed). */
void *page_alloc_pagetable(void);

void *kmalloc(size_t size);
void *kzalloc(size_t size);
void *krealloc(void *ptr, size_t size);
void kfree(void *ptr);
/* The bytes usable at ptr (its size class, or its page block). */
size_t kmalloc_usable_size(const void *ptr);

struct alloc_stats {
    uint64_t pages_total;        /* pages the buddy allocator manages */
    uint64_t pages_free;         /* of those, free */
    uint64_t pages_pagetable;    /* taken by page_alloc_pagetable */
    uint64_t free_blocks[PAGE_MAX_ORDER + 1]; /* free blocks per order */
    uint64_t heap_bytes_in_use;  /* kmalloc: bytes of live objects (rounded to their class) */
    uint64_t heap_objects_in_use;
    uint64_t heap_slab_pages;    /* pages held by slabs */
    uint64_t heap_large_pages;   /* pages held by large (> 2048 bytes) objects */
};
void alloc_get_stats(struct alloc_stats *stats);

#endif
