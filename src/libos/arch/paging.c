/*
 * arch/paging.c: 4 KiB edits to the boot identity map.
 *
 * entry.S maps 0-4 GiB with 2 MiB pages (the first 2 MiB with 4 KiB pages). To unmap a single
 * 4 KiB page (a stack guard) we split its 2 MiB page into a page table taken from the page
 * allocator; split tables are never merged back. All tables are identity-mapped, so their
 * physical addresses are usable as pointers.
 */
#include "arch/arch.h"
#include "alloc/alloc.h"
#include <string.h>

#define PTE_PRESENT 0x1ull
#define PTE_WRITE 0x2ull
#define PTE_LARGE 0x80ull
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ull

static uint64_t *table_at(uint64_t entry) { return (uint64_t *)(uintptr_t)(entry & PTE_ADDR_MASK); }

/* The page-directory entry for `addr`, or NULL if the upper levels are not present. */
static uint64_t *pde_for(uint64_t addr) {
    uint64_t *pml4 = table_at(read_cr3());
    uint64_t pml4e = pml4[(addr >> 39) & 511];
    if (!(pml4e & PTE_PRESENT)) return NULL;
    uint64_t pdpte = table_at(pml4e)[(addr >> 30) & 511];
    if (!(pdpte & PTE_PRESENT) || (pdpte & PTE_LARGE)) return NULL;
    return &table_at(pdpte)[(addr >> 21) & 511];
}

bool paging_is_present(uint64_t addr) {
    if (addr >= IDENTITY_MAP_LIMIT) return false;
    uint64_t *pde = pde_for(addr);
    if (!pde || !(*pde & PTE_PRESENT)) return false;
    if (*pde & PTE_LARGE) return true;
    return (table_at(*pde)[(addr >> 12) & 511] & PTE_PRESENT) != 0;
}

int paging_set_present(uint64_t addr, bool present) {
    if (addr >= IDENTITY_MAP_LIMIT) return ERR_RANGE;
    uint64_t *pde = pde_for(addr);
    if (!pde || !(*pde & PTE_PRESENT)) return ERR_RANGE;
    if (*pde & PTE_LARGE) {
        uint64_t *table = page_alloc_pagetable();
        if (!table) return ERR_NOMEM;
        uint64_t base = *pde & PTE_ADDR_MASK & ~(uint64_t)(MiB(2) - 1);
        uint64_t flags = *pde & (PTE_PRESENT | PTE_WRITE);
        for (unsigned i = 0; i < 512; i++) table[i] = (base + (uint64_t)i * PAGE_SIZE) | flags;
        *pde = (uint64_t)(uintptr_t)table | PTE_PRESENT | PTE_WRITE;
        invlpg(base);
    }
    uint64_t *pte = &table_at(*pde)[(addr >> 12) & 511];
    if (present)
        *pte |= PTE_PRESENT;
    else
        *pte &= ~PTE_PRESENT;
    invlpg(addr & ~(uint64_t)(PAGE_SIZE - 1));
    return 0;
}
