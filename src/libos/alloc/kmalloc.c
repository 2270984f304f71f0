/*
 * alloc/kmalloc.c: the small-object allocator (and malloc/free).
 *
 * Requests up to 2048 bytes are rounded up to a size class and served from slabs: blocks of
 * 1-8 pages holding a header and `capacity` equal objects, with a free list threaded through
 * the free objects and a bitmap of the live ones (to catch double frees). Each class keeps its
 * slabs that have room on a partial list; a slab that becomes empty goes back to the page
 * allocator at once, so the page counts return to where they were when everything is freed.
 * Larger requests take a page block of their own. kfree finds what a pointer is from the page
 * metadata (alloc_internal.h).
 */
#include "alloc/alloc_internal.h"
#include "arch/arch.h"
#include "log/log.h"
#include <stdlib.h>
#include <string.h>

#define SLAB_MAGIC 0x51ab51abu
#define SLAB_MAX_OBJECTS 256
#define SMALL_MAX 2048

static const uint16_t class_sizes[] = {16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048};
#define CLASS_COUNT ARRAY_SIZE(class_sizes)

struct slab {
    struct list_node link; /* on its class's partial list while it has free objects */
    uint32_t magic;
    uint16_t class_index;
    uint16_t capacity;
    uint16_t in_use;
    uint8_t order;
    void *free_list;
    uint64_t live[SLAB_MAX_OBJECTS / 64];
};

#define OBJECTS_OFFSET ALIGN_UP(sizeof(struct slab), 16)

struct size_class {
    uint16_t size;
    uint8_t slab_order;
    uint16_t capacity;
    struct list_node partial;
};

static struct size_class classes[CLASS_COUNT];
static bool classes_ready;
static uint64_t bytes_in_use, objects_in_use, slab_pages, large_pages;

static void classes_init(void) {
    for (unsigned i = 0; i < CLASS_COUNT; i++) {
        struct size_class *c = &classes[i];
        c->size = class_sizes[i];
        unsigned order = 0;
        for (;; order++) {
            unsigned capacity = (unsigned)((PAGE_SIZE << order) - OBJECTS_OFFSET) / c->size;
            if (capacity >= 8 || order == 3) {
                c->capacity = (uint16_t)MIN(capacity, SLAB_MAX_OBJECTS);
                break;
            }
        }
        c->slab_order = (uint8_t)order;
        list_init(&c->partial);
    }
    classes_ready = true;
}

static unsigned class_for(size_t size) {
    unsigned i = 0;
    while (class_sizes[i] < size) i++;
    return i;
}

static struct slab *slab_new(unsigned class_index) {
    struct size_class *c = &classes[class_index];
    struct slab *slab = block_alloc(c->slab_order, META_KIND_SLAB);
    if (!slab) return NULL;
    uint64_t pfn = (uint64_t)(uintptr_t)slab >> PAGE_SHIFT;
    for (uint64_t i = 0; i < (1ull << c->slab_order); i++) page_meta[pfn + i] = meta_make(META_KIND_SLAB, c->slab_order);
    slab_pages += 1ull << c->slab_order;
    memset(slab, 0, sizeof(*slab));
    slab->magic = SLAB_MAGIC;
    slab->class_index = (uint16_t)class_index;
    slab->capacity = c->capacity;
    slab->order = c->slab_order;
    /* free list in address order, so allocations from a fresh slab go upwards */
    char *objects = (char *)slab + OBJECTS_OFFSET;
    slab->free_list = NULL;
    for (int i = c->capacity - 1; i >= 0; i--) {
        void **object = (void **)(objects + (size_t)i * c->size);
        *object = slab->free_list;
        slab->free_list = object;
    }
    list_push_back(&c->partial, &slab->link);
    return slab;
}

static void slab_release(struct slab *slab) {
    uint64_t pfn = (uint64_t)(uintptr_t)slab >> PAGE_SHIFT;
    for (uint64_t i = 0; i < (1ull << slab->order); i++) page_meta[pfn + i] = META_INTERIOR;
    slab_pages -= 1ull << slab->order;
    slab->magic = 0;
    block_free(pfn, slab->order);
}

static void *large_alloc(size_t size) {
    unsigned order = page_order_for(size);
    void *block = block_alloc(order, META_KIND_LARGE);
    if (!block) return NULL;
    large_pages += 1ull << order;
    bytes_in_use += PAGE_SIZE << order;
    objects_in_use++;
    return block;
}

void *kmalloc(size_t size) {
    if (!classes_ready) classes_init();
    if (size > SMALL_MAX) return large_alloc(size);
    unsigned class_index = class_for(size == 0 ? 1 : size);
    struct size_class *c = &classes[class_index];
    struct slab *slab = list_empty(&c->partial) ? slab_new(class_index) : list_entry(c->partial.next, struct slab, link);
    if (!slab) return NULL;
    void **object = slab->free_list;
    slab->free_list = *object;
    unsigned index = (unsigned)(((char *)object - ((char *)slab + OBJECTS_OFFSET)) / c->size);
    slab->live[index / 64] |= 1ull << (index % 64);
    slab->in_use++;
    if (slab->free_list == NULL) list_del(&slab->link);
    bytes_in_use += c->size;
    objects_in_use++;
    return object;
}

void *kzalloc(size_t size) {
    void *p = kmalloc(size);
    if (p) memset(p, 0, size);
    return p;
}

/* The slab holding `ptr` and its object index, or a panic naming what is wrong with ptr. */
static struct slab *slab_lookup(const void *ptr, const char *who, unsigned *index_out) {
    uint64_t address = (uint64_t)(uintptr_t)ptr;
    uint8_t meta = page_meta[address >> PAGE_SHIFT];
    struct slab *slab = (struct slab *)(uintptr_t)(address & ~((PAGE_SIZE << meta_order(meta)) - 1));
    if (slab->magic != SLAB_MAGIC) panic("%s(%p): slab header at %p is corrupted (magic %#x)", who, ptr, (void *)slab, slab->magic);
    const struct size_class *c = &classes[slab->class_index];
    uint64_t offset = address - (uint64_t)(uintptr_t)slab;
    if (offset < OBJECTS_OFFSET || (offset - OBJECTS_OFFSET) % c->size != 0 ||
        (offset - OBJECTS_OFFSET) / c->size >= slab->capacity)
        panic("%s(%p): not the start of an object (it points into a slab of %u-byte objects at %p)", who, ptr,
              c->size, (void *)slab);
    *index_out = (unsigned)((offset - OBJECTS_OFFSET) / c->size);
    return slab;
}

/* Checks that ptr is something kmalloc returned; returns its page metadata byte. */
static uint8_t heap_meta(const void *ptr, const char *who) {
    uint64_t address = (uint64_t)(uintptr_t)ptr;
    uint64_t pfn = address >> PAGE_SHIFT;
    if (pfn >= page_frames) panic("%s(%p): not a heap address (above the managed memory)", who, ptr);
    uint8_t meta = page_meta[pfn];
    switch (meta_kind(meta)) {
    case META_KIND_SLAB: return meta;
    case META_KIND_LARGE:
        if ((address & (PAGE_SIZE - 1)) != 0) panic("%s(%p): not the start of a large object", who, ptr);
        return meta;
    case META_KIND_PAGES: panic("%s(%p): this memory came from page_alloc; release it with page_free", who, ptr);
    case META_KIND_FREE: panic("%s(%p): the memory is already free (double free, or a pointer into freed memory)", who, ptr);
    default: panic("%s(%p): not a heap object: the page is %s", who, ptr, page_meta_describe(meta));
    }
}

void kfree(void *ptr) {
    if (ptr == NULL) return;
    uint8_t meta = heap_meta(ptr, "kfree");
    if (meta_kind(meta) == META_KIND_LARGE) {
        unsigned order = meta_order(meta);
        large_pages -= 1ull << order;
        bytes_in_use -= PAGE_SIZE << order;
        objects_in_use--;
        block_free((uint64_t)(uintptr_t)ptr >> PAGE_SHIFT, order);
        return;
    }
    unsigned index;
    struct slab *slab = slab_lookup(ptr, "kfree", &index);
    struct size_class *c = &classes[slab->class_index];
    uint64_t bit = 1ull << (index % 64);
    if (!(slab->live[index / 64] & bit))
        panic("kfree(%p): double free (the %u-byte object is already free)", ptr, c->size);
    slab->live[index / 64] &= ~bit;
    bool was_full = slab->free_list == NULL;
    *(void **)ptr = slab->free_list;
    slab->free_list = ptr;
    slab->in_use--;
    bytes_in_use -= c->size;
    objects_in_use--;
    if (slab->in_use == 0) {
        if (!was_full) list_del(&slab->link);
        slab_release(slab);
    } else if (was_full) {
        list_push_back(&c->partial, &slab->link);
    }
}

size_t kmalloc_usable_size(const void *ptr) {
    if (ptr == NULL) return 0;
    uint8_t meta = heap_meta(ptr, "kmalloc_usable_size");
    if (meta_kind(meta) == META_KIND_LARGE) return PAGE_SIZE << meta_order(meta);
    unsigned index;
    struct slab *slab = slab_lookup(ptr, "kmalloc_usable_size", &index);
    return classes[slab->class_index].size;
}

void *krealloc(void *ptr, size_t size) {
    if (ptr == NULL) return kmalloc(size);
    if (size == 0) {
        kfree(ptr);
        return NULL;
    }
    size_t usable = kmalloc_usable_size(ptr);
    if (size <= usable && (usable <= SMALL_MAX || size > usable / 2)) return ptr;
    void *fresh = kmalloc(size);
    if (!fresh) return NULL;
    memcpy(fresh, ptr, MIN(size, usable));
    kfree(ptr);
    return fresh;
}

void alloc_get_stats(struct alloc_stats *stats) {
    page_get_stats(stats);
    stats->heap_bytes_in_use = bytes_in_use;
    stats->heap_objects_in_use = objects_in_use;
    stats->heap_slab_pages = slab_pages;
    stats->heap_large_pages = large_pages;
}

/* <stdlib.h> */
void *malloc(size_t size) { return kmalloc(size); }
void free(void *ptr) { kfree(ptr); }
void *realloc(void *ptr, size_t size) { return krealloc(ptr, size); }
void *calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    return kzalloc(count * size);
}
