/*
 * workload/selftest_alloc.c: the buddy page allocator and kmalloc.
 */
#include "selftest.h"
#include "alloc/alloc.h"
#include "arch/arch.h"
#include <stdlib.h>
#include <string.h>

static bool same_free_shape(const struct alloc_stats *a, const struct alloc_stats *b) {
    if (a->pages_free != b->pages_free) return false;
    for (unsigned k = 0; k <= PAGE_MAX_ORDER; k++)
        if (a->free_blocks[k] != b->free_blocks[k]) return false;
    return true;
}

static void pages_basic(void) {
    struct case_log log = {0};
    struct alloc_stats before, during, after;
    alloc_get_stats(&before);
    void *blocks[PAGE_MAX_ORDER + 1] = {0};
    for (unsigned order = 0; order <= 10; order++) {
        blocks[order] = page_alloc(order);
        log.cases++;
        uint64_t address = (uint64_t)(uintptr_t)blocks[order];
        if (!blocks[order] || address % (PAGE_SIZE << order) != 0) {
            case_fail(&log, "page_alloc(%u) returned a block not aligned to its size", order);
            continue;
        }
        memset(blocks[order], (int)order, PAGE_SIZE << order); /* the whole block is writable */
    }
    alloc_get_stats(&during);
    log.cases++;
    if (before.pages_free - during.pages_free != (2u << 10) - 1)
        case_fail(&log, "%lu pages in use, expected %u", before.pages_free - during.pages_free, (2u << 10) - 1);
    for (unsigned order = 0; order <= 10; order++) {
        log.cases++;
        const uint8_t *bytes = blocks[order];
        if (bytes && (bytes[0] != order || bytes[(PAGE_SIZE << order) - 1] != order))
            case_fail(&log, "order %u block lost its contents (overlap?)", order);
    }
    for (unsigned order = 0; order <= 10; order++)
        if (blocks[order]) page_free(blocks[order], order);
    alloc_get_stats(&after);
    log.cases++;
    if (!same_free_shape(&before, &after)) case_fail(&log, "free pages/blocks differ after freeing everything");
    case_report(&log, "alloc.pages");
}

/* Freeing in any order must coalesce back to exactly the free lists we started with. */
static void pages_coalesce(void) {
    struct case_log log = {0};
    struct alloc_stats before, after;
    alloc_get_stats(&before);
    void *pages[64];
    for (unsigned i = 0; i < ARRAY_SIZE(pages); i++) pages[i] = page_alloc(0);
    uint64_t seed = 42;
    for (unsigned i = ARRAY_SIZE(pages) - 1; i > 0; i--) { /* Fisher-Yates */
        unsigned j = (unsigned)(test_random(&seed) % (i + 1));
        void *t = pages[i];
        pages[i] = pages[j];
        pages[j] = t;
    }
    for (unsigned i = 0; i < ARRAY_SIZE(pages); i++) {
        log.cases++;
        if (!pages[i]) case_fail(&log, "page_alloc(0) #%u failed", i);
        else page_free(pages[i], 0);
    }
    alloc_get_stats(&after);
    log.cases++;
    if (!same_free_shape(&before, &after)) {
        unsigned k = 0;
        while (k <= PAGE_MAX_ORDER && before.free_blocks[k] == after.free_blocks[k]) k++;
        case_fail(&log, "free blocks of order %u: %lu before, %lu after", k, before.free_blocks[k], after.free_blocks[k]);
    }
    case_report(&log, "alloc.buddy-coalesce");
}

static void kmalloc_sizes(void) {
    struct case_log log = {0};
    struct alloc_stats before, after;
    alloc_get_stats(&before);
    static const size_t sizes[] = {0, 1, 8, 15, 16, 17, 48, 100, 511, 512, 1000, 2047, 2048, 2049, 4096, 5000, 70000, 1 << 20};
    void *objects[ARRAY_SIZE(sizes)];
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        objects[i] = kmalloc(sizes[i]);
        log.cases++;
        if (!objects[i]) {
            case_fail(&log, "kmalloc(%zu) returned NULL", sizes[i]);
            continue;
        }
        if ((uintptr_t)objects[i] % 16 != 0) case_fail(&log, "kmalloc(%zu) is not 16-byte aligned", sizes[i]);
        if (kmalloc_usable_size(objects[i]) < sizes[i] || kmalloc_usable_size(objects[i]) == 0)
            case_fail(&log, "kmalloc(%zu): usable size %zu", sizes[i], kmalloc_usable_size(objects[i]));
        memset(objects[i], 0x40 + (int)i, sizes[i]);
    }
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        const uint8_t *bytes = objects[i];
        for (size_t b = 0; bytes && b < sizes[i]; b += 97)
            if (bytes[b] != 0x40 + i) {
                case_fail(&log, "kmalloc(%zu) object overwritten at byte %zu", sizes[i], b);
                break;
            }
    }
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) kfree(objects[i]);
    kfree(NULL);
    alloc_get_stats(&after);
    log.cases++;
    if (after.heap_bytes_in_use != before.heap_bytes_in_use || after.heap_objects_in_use != before.heap_objects_in_use ||
        !same_free_shape(&before, &after))
        case_fail(&log, "stats not back to baseline: heap %lu -> %lu bytes, free pages %lu -> %lu",
                  before.heap_bytes_in_use, after.heap_bytes_in_use, before.pages_free, after.pages_free);
    case_report(&log, "alloc.kmalloc-sizes");
}

/* Random interleaved allocations and frees; each object is filled with a pattern derived from
 * its slot and checked before it is freed, which catches overlapping objects. */
static void kmalloc_random(void) {
    struct case_log log = {0};
    struct alloc_stats before, peak, after;
    alloc_get_stats(&before);
    enum { SLOTS = 256, STEPS = 6000 };
    static uint8_t *slots[SLOTS];
    static size_t slot_sizes[SLOTS];
    uint64_t seed = 0xC0FFEE;
    uint64_t max_in_use = 0;
    for (unsigned step = 0; step < STEPS; step++) {
        unsigned s = (unsigned)(test_random(&seed) % SLOTS);
        if (slots[s]) {
            for (size_t b = 0; b < slot_sizes[s]; b++)
                if (slots[s][b] != (uint8_t)(s + b)) {
                    log.cases++;
                    case_fail(&log, "slot %u (%zu bytes) corrupted at byte %zu", s, slot_sizes[s], b);
                    break;
                }
            kfree(slots[s]);
            slots[s] = NULL;
        } else {
            uint64_t r = test_random(&seed);
            size_t size = (r & 7) == 0 ? 2049 + (size_t)(r >> 8) % 20000 : 1 + (size_t)(r >> 8) % 600;
            slots[s] = kmalloc(size);
            slot_sizes[s] = size;
            log.cases++;
            if (!slots[s]) {
                case_fail(&log, "kmalloc(%zu) failed at step %u", size, step);
                continue;
            }
            for (size_t b = 0; b < size; b++) slots[s][b] = (uint8_t)(s + b);
        }
        alloc_get_stats(&peak);
        max_in_use = MAX(max_in_use, peak.heap_bytes_in_use);
    }
    for (unsigned s = 0; s < SLOTS; s++) {
        kfree(slots[s]);
        slots[s] = NULL;
    }
    alloc_get_stats(&after);
    log.cases++;
    if (max_in_use <= before.heap_bytes_in_use) case_fail(&log, "heap_bytes_in_use never grew");
    log.cases++;
    if (after.heap_bytes_in_use != before.heap_bytes_in_use || after.heap_objects_in_use != before.heap_objects_in_use ||
        after.heap_slab_pages != before.heap_slab_pages || !same_free_shape(&before, &after))
        case_fail(&log, "stats not back to baseline: heap %lu -> %lu bytes, %lu -> %lu objects, slab pages %lu -> %lu, free pages %lu -> %lu",
                  before.heap_bytes_in_use, after.heap_bytes_in_use, before.heap_objects_in_use, after.heap_objects_in_use,
                  before.heap_slab_pages, after.heap_slab_pages, before.pages_free, after.pages_free);
    case_report(&log, "alloc.kmalloc-random");
}

static void kmalloc_realloc(void) {
    struct case_log log = {0};
    char *p = realloc(NULL, 10);
    memcpy(p, "123456789", 10);
    p = realloc(p, 3000); /* small -> large */
    log.cases++;
    if (!p || strcmp(p, "123456789") != 0) case_fail(&log, "grow keeps the contents");
    p = realloc(p, 20); /* large -> small */
    log.cases++;
    if (!p || memcmp(p, "123456789", 10) != 0 || kmalloc_usable_size(p) > 32) case_fail(&log, "shrink keeps the contents");
    free(p);
    uint8_t *z = calloc(100, 7);
    log.cases++;
    bool zero = z != NULL;
    for (unsigned i = 0; z && i < 700; i++) zero &= z[i] == 0;
    if (!zero) case_fail(&log, "calloc memory is zeroed");
    free(z);
    log.cases++;
    volatile size_t huge = SIZE_MAX / 2;
    if (calloc(huge, 4) != NULL) case_fail(&log, "calloc overflow returns NULL");
    case_report(&log, "alloc.realloc-calloc");
}

static void guard_pages(void) {
    struct case_log log = {0};
    void *page = page_alloc(0);
    uint64_t address = (uint64_t)(uintptr_t)page;
    log.cases++;
    if (!paging_is_present(address)) case_fail(&log, "a fresh page is mapped");
    log.cases++;
    if (paging_set_present(address, false) != 0 || paging_is_present(address)) case_fail(&log, "unmapping a page");
    log.cases++;
    if (!paging_is_present(address + PAGE_SIZE) && !paging_is_present(address - PAGE_SIZE))
        case_fail(&log, "unmapping one page unmapped its neighbours");
    paging_set_present(address, true);
    log.cases++;
    if (!paging_is_present(address)) case_fail(&log, "remapping a page");
    *(volatile uint64_t *)page = 1;
    page_free(page, 0);
    log.cases++;
    if (paging_is_present(0) || !paging_is_present(PAGE_SIZE)) case_fail(&log, "page 0 unmapped, page 1 mapped");
    case_report(&log, "alloc.paging");
}

void selftest_alloc(void) {
    pages_basic();
    pages_coalesce();
    kmalloc_sizes();
    kmalloc_random();
    kmalloc_realloc();
    guard_pages();
}
