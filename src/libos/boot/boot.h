/*
 * boot/boot.h: what the boot loader told us, copied out of the multiboot structures before
 * anything can overwrite them, and the kernel's main entry.
 */
#ifndef LIBOS_BOOT_H
#define LIBOS_BOOT_H

#include "base/base.h"

#define BOOT_MAX_REGIONS 32
#define BOOT_CMDLINE_MAX 1024

#define MEM_AVAILABLE 1 /* multiboot memory-map type of usable RAM */

struct mem_region {
    uint64_t base;
    uint64_t length;
    uint32_t type; /* 1 available, 2 reserved, 3 ACPI reclaimable, 4 NVS, 5 bad */
};

struct boot_info {
    uint32_t flags;     /* multiboot info flags: which fields below the loader provided */
    uint32_t mem_lower; /* KiB below 1 MiB */
    uint32_t mem_upper; /* KiB above 1 MiB */
    char cmdline[BOOT_CMDLINE_MAX];
    char loader_name[64];
    struct mem_region regions[BOOT_MAX_REGIONS];
    unsigned region_count;
    bool regions_truncated;
};

const struct boot_info *boot_info(void);

NORETURN void kmain(uint32_t magic, uint32_t info_address);

#endif
