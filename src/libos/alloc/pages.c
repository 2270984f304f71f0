/*
 * alloc/pages.c: the buddy page allocator.
 *
 * One metadata byte per page frame below the highest managed address says what the page is:
 * reserved (not ours), the head of a free block of order k (the block is on free_lists[k], its
 * list node stored in the block itself), the head of an allocated block and for whom (page_alloc,
 * a large kmalloc object, a page table), a page of a slab, or an interior page of some block.
 * Freeing merges a block with its buddy (the block at pfn ^ (1 << order)) while the buddy is a
 * free block of the same order.
 */
#include "alloc/alloc_internal.h"
#include "arch/arch.h"
#include "boot/boot.h"
#include "log/log.h"
#include <string.h>

LOG_SOURCE(log_src, "alloc");

#define LOW_MEMORY_END MiB(1) /* BIOS data, EBDA, option ROMs: never ours */

uint8_t *page_meta;
uint64_t page_frames; /* page_meta covers frames [0, page_frames) */
static struct list_node free_lists[PAGE_MAX_ORDER + 1];
static uint64_t free_counts[PAGE_MAX_ORDER + 1];
static uint64_t pages_total, pages_free, pages_pagetable;
static bool ready;

static inline struct list_node *frame_node(uint64_t pfn) { return (struct list_node *)(uintptr_t)(pfn << PAGE_SHIFT); }
static inline uint64_t node_frame(struct list_node *node) { return (uint64_t)(uintptr_t)node >> PAGE_SHIFT; }

const char *page_meta_describe(uint8_t meta) {
    switch (meta_kind(meta)) {
    case META_KIND_INTERIOR: return "inside a larger block";
    case META_KIND_FREE: return "free";
    case META_KIND_PAGES: return "a page_alloc block";
    case META_KIND_LARGE: return "a large kmalloc object";
    case META_KIND_SLAB: return "a kmalloc slab";
    case META_KIND_PAGETABLE: return "a page table";
    default: return "not managed by the allocator (kernel image, reserved or low memory)";
    }
}

static void free_list_insert(uint64_t pfn, unsigned order) {
    page_meta[pfn] = meta_make(META_KIND_FREE, order);
    list_push_front(&free_lists[order], frame_node(pfn));
    free_counts[order]++;
}

static void free_list_remove(uint64_t pfn, unsigned order) {
    list_del(frame_node(pfn));
    free_counts[order]--;
    page_meta[pfn] = META_INTERIOR;
}

void *block_alloc(unsigned order, unsigned kind) {
    if (!ready) panic("alloc: page allocation before alloc_init");
    if (order > PAGE_MAX_ORDER) return NULL;
    unsigned k = order;
    while (k <= PAGE_MAX_ORDER && list_empty(&free_lists[k])) k++;
    if (k > PAGE_MAX_ORDER) {
        LOG_WARN(log_src, "out of memory: no free block of order %u (%lu KiB); %lu pages free", order,
                 (PAGE_SIZE << order) / 1024, pages_free);
        return NULL;
    }
    uint64_t pfn = node_frame(free_lists[k].next);
    free_list_remove(pfn, k);
    while (k > order) { /* split, keeping the lower half */
        k--;
        free_list_insert(pfn + (1ull << k), k);
    }
    page_meta[pfn] = meta_make(kind, order);
    pages_free -= 1ull << order;
    return (void *)(uintptr_t)(pfn << PAGE_SHIFT);
}

void block_free(uint64_t pfn, unsigned order) {
    page_meta[pfn] = META_INTERIOR;
    pages_free += 1ull << order;
    while (order < PAGE_MAX_ORDER) {
        uint64_t buddy = pfn ^ (1ull << order);
        if (buddy + (1ull << order) > page_frames || page_meta[buddy] != meta_make(META_KIND_FREE, order)) break;
        free_list_remove(buddy, order);
        pfn &= ~(1ull << order);
        order++;
    }
    free_list_insert(pfn, order);
}

void *page_alloc(unsigned order) { return block_alloc(order, META_KIND_PAGES); }

void page_free(void *block, unsigned order) {
    uint64_t address = (uint64_t)(uintptr_t)block;
    uint64_t pfn = address >> PAGE_SHIFT;
    if ((address & (PAGE_SIZE - 1)) != 0 || pfn >= page_frames)
        panic("page_free(%p, order %u): not a page address the allocator manages", block, order);
    uint8_t meta = page_meta[pfn];
    if (meta != meta_make(META_KIND_PAGES, order)) {
        if (meta_kind(meta) == META_KIND_PAGES)
            panic("page_free(%p, order %u): the block was allocated with order %u", block, order, meta_order(meta));
        panic("page_free(%p, order %u): the page is %s%s", block, order, page_meta_describe(meta),
              meta_kind(meta) == META_KIND_FREE ? " (double free?)" : "");
    }
    block_free(pfn, order);
}

unsigned page_order_for(size_t bytes) {
    unsigned order = 0;
    while ((PAGE_SIZE << order) < bytes && order <= PAGE_MAX_ORDER) order++;
    return order;
}

void *page_alloc_pagetable(void) {
    void *page = block_alloc(0, META_KIND_PAGETABLE);
    if (page) {
        memset(page, 0, PAGE_SIZE);
        pages_pagetable++;
    }
    return page;
}

/* Frees [start, end) as the largest naturally aligned blocks that fit. */
static void add_range(uint64_t start_pfn, uint64_t end_pfn) {
    while (start_pfn < end_pfn) {
        unsigned order = 0;
        while (order < PAGE_MAX_ORDER && (start_pfn & ((2ull << order) - 1)) == 0 &&
               start_pfn + (2ull << order) <= end_pfn)
            order++;
        free_list_insert(start_pfn, order);
        pages_total += 1ull << order;
        pages_free += 1ull << order;
        start_pfn += 1ull << order;
    }
}

struct range {
    uint64_t start, end; /* page frames */
};

/* The available RAM we may use: above 1 MiB, below the identity-map limit, page aligned, with the
 * kernel image (up to the end of .bss) cut out. */
static unsigned usable_ranges(const struct boot_info *info, struct range *out, unsigned max) {
    uint64_t image_start = (uint64_t)(uintptr_t)__image_start & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t image_end = ALIGN_UP((uint64_t)(uintptr_t)__bss_end, PAGE_SIZE);
    unsigned count = 0;
    for (unsigned i = 0; i < info->region_count; i++) {
        const struct mem_region *region = &info->regions[i];
        if (region->type != MEM_AVAILABLE) continue;
        uint64_t start = MAX(region->base, LOW_MEMORY_END);
        uint64_t end = MIN(region->base + region->length, IDENTITY_MAP_LIMIT);
        start = ALIGN_UP(start, PAGE_SIZE);
        end = ALIGN_DOWN(end, PAGE_SIZE);
        /* cut out the image: up to two pieces */
        uint64_t pieces[2][2] = {{start, MIN(end, image_start)}, {MAX(start, image_end), end}};
        for (int p = 0; p < 2; p++) {
            if (pieces[p][0] >= pieces[p][1] || count == max) continue;
            out[count].start = pieces[p][0] >> PAGE_SHIFT;
            out[count].end = pieces[p][1] >> PAGE_SHIFT;
            count++;
        }
    }
    return count;
}

void alloc_init(const struct boot_info *info) {
    for (unsigned k = 0; k <= PAGE_MAX_ORDER; k++) list_init(&free_lists[k]);
    struct range ranges[2 * BOOT_MAX_REGIONS];
    unsigned count = usable_ranges(info, ranges, ARRAY_SIZE(ranges));
    if (count == 0)
        panic("alloc: the memory map has no available RAM above 1 MiB (multiboot flags %#x: %s)", info->flags,
              info->region_count ? "map present" : "no memory map from the boot loader");
    uint64_t highest = 0;
    for (unsigned i = 0; i < count; i++) highest = MAX(highest, ranges[i].end);

    /* The metadata array lives at the start of the first range big enough for it. */
    page_frames = highest;
    uint64_t meta_pages = ALIGN_UP(page_frames, PAGE_SIZE) / PAGE_SIZE;
    unsigned host = 0;
    while (host < count && ranges[host].end - ranges[host].start < meta_pages + 1) host++;
    if (host == count) panic("alloc: no available range can hold the %lu-page allocator metadata", meta_pages);
    page_meta = (uint8_t *)(uintptr_t)(ranges[host].start << PAGE_SHIFT);
    ranges[host].start += meta_pages;
    memset(page_meta, META_RESERVED, page_frames);
    ready = true;

    for (unsigned i = 0; i < count; i++) add_range(ranges[i].start, ranges[i].end);
    LOG_INFO(log_src, "%lu KiB free, %u range%s (metadata %lu KiB, kernel image %lu KiB)",
             pages_free * (PAGE_SIZE / 1024), count, count == 1 ? "" : "s", meta_pages * (PAGE_SIZE / 1024),
             (ALIGN_UP((uint64_t)(uintptr_t)__bss_end, PAGE_SIZE) - (uint64_t)(uintptr_t)__image_start) / 1024);
    for (unsigned i = 0; i < count; i++)
        LOG_DEBUG(log_src, "range %#lx-%#lx", ranges[i].start << PAGE_SHIFT, ranges[i].end << PAGE_SHIFT);
    uint64_t above = 0;
    for (unsigned i = 0; i < info->region_count; i++) {
        const struct mem_region *region = &info->regions[i];
        uint64_t end = region->base + region->length;
        if (region->type == MEM_AVAILABLE && end > IDENTITY_MAP_LIMIT)
            above += end - MAX(region->base, IDENTITY_MAP_LIMIT);
    }
    if (above)
        LOG_INFO(log_src, "not using %lu MiB of RAM above the 4 GiB identity map", above >> 20);
}

void page_get_stats(struct alloc_stats *stats) {
    stats->pages_total = pages_total;
    stats->pages_free = pages_free;
    stats->pages_pagetable = pages_pagetable;
    for (unsigned k = 0; k <= PAGE_MAX_ORDER; k++) stats->free_blocks[k] = free_counts[k];
}
