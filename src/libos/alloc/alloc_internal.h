/*
 * alloc/alloc_internal.h: what pages.c and kmalloc.c share (not part of the interface).
 */
#ifndef LIBOS_ALLOC_INTERNAL_H
#define LIBOS_ALLOC_INTERNAL_H

#include "alloc/alloc.h"
#include "base/list.h"

/* Page metadata byte: kind in the top 3 bits, order in the low 5. */
#define META_KIND_INTERIOR 0  /* inside a block whose head is elsewhere */
#define META_KIND_FREE 1      /* head of a free block */
#define META_KIND_PAGES 2     /* head of a page_alloc block */
#define META_KIND_LARGE 3     /* head of a large kmalloc object */
#define META_KIND_SLAB 4      /* every page of a slab */
#define META_KIND_PAGETABLE 5 /* a page table */
#define META_KIND_RESERVED 7
#define META_INTERIOR 0x00
#define META_RESERVED 0xFF

static inline uint8_t meta_make(unsigned kind, unsigned order) { return (uint8_t)((kind << 5) | order); }
static inline unsigned meta_kind(uint8_t meta) { return meta >> 5; }
static inline unsigned meta_order(uint8_t meta) { return meta & 31; }

extern uint8_t *page_meta;
extern uint64_t page_frames;

void *block_alloc(unsigned order, unsigned kind);
void block_free(uint64_t pfn, unsigned order);
const char *page_meta_describe(uint8_t meta);
void page_get_stats(struct alloc_stats *stats);

#endif
