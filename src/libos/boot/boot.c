/*
 * boot/boot.c: kmain, the order the layers come up in, and the workload dispatch.
 *
 *   console (so anything can print) -> GDT/IDT (so faults are reported) -> multiboot info copied
 *   -> command line and log levels -> page allocator -> boot-stack guard -> PIC, TSC, RTC, timer
 *   IRQ (interrupts on) -> PCI scan -> scheduler -> the workload named on the command line,
 *   whose return value is the exit value (EXIT_OK, EXIT_FAIL...).
 */
#include "boot/boot.h"
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "boot/multiboot.h"
#include "cmdline/cmdline.h"
#include "console/console.h"
#include "log/log.h"
#include "pci/pci.h"
#include "sched/sched.h"
#include "time/time.h"
#include "workload.h"
#include <stdio.h>
#include <string.h>

LOG_SOURCE(log_src, "boot");

static struct boot_info info;

const struct boot_info *boot_info(void) { return &info; }

static const char *region_type_name(uint32_t type) {
    switch (type) {
    case 1: return "available";
    case 2: return "reserved";
    case 3: return "ACPI reclaimable";
    case 4: return "ACPI NVS";
    case 5: return "bad";
    default: return "unknown";
    }
}

/* Copies what we need out of the multiboot structures (they live in memory the allocator will
 * hand out). */
static void copy_boot_info(uint32_t magic, uint32_t address) {
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        printf("boot: error: not started by a multiboot loader (EAX=%#x, expected %#x); boot the image with "
               "qemu-system-x86_64 -kernel or the emulator's CLI\n",
               magic, MULTIBOOT_BOOTLOADER_MAGIC);
        arch_exit(EXIT_PANIC);
    }
    const struct multiboot_info *mbi = (const struct multiboot_info *)(uintptr_t)address;
    info.flags = mbi->flags;
    if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
        info.mem_lower = mbi->mem_lower;
        info.mem_upper = mbi->mem_upper;
    }
    if ((mbi->flags & MULTIBOOT_INFO_CMDLINE) && mbi->cmdline)
        strlcpy(info.cmdline, (const char *)(uintptr_t)mbi->cmdline, sizeof(info.cmdline));
    if ((mbi->flags & MULTIBOOT_INFO_LOADER_NAME) && mbi->boot_loader_name)
        strlcpy(info.loader_name, (const char *)(uintptr_t)mbi->boot_loader_name, sizeof(info.loader_name));
    if (mbi->flags & MULTIBOOT_INFO_MEM_MAP) {
        uint64_t entry = mbi->mmap_addr, end = (uint64_t)mbi->mmap_addr + mbi->mmap_length;
        while (entry + sizeof(struct multiboot_mmap_entry) <= end) {
            const struct multiboot_mmap_entry *e = (const struct multiboot_mmap_entry *)(uintptr_t)entry;
            if (info.region_count == BOOT_MAX_REGIONS) {
                info.regions_truncated = true;
                break;
            }
            info.regions[info.region_count++] = (struct mem_region){.base = e->base, .length = e->length, .type = e->type};
            entry += e->size + sizeof(e->size);
        }
    } else if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
        /* no map: the conventional memory and the extended memory from 1 MiB */
        info.regions[info.region_count++] = (struct mem_region){.base = 0, .length = KiB(info.mem_lower), .type = MEM_AVAILABLE};
        info.regions[info.region_count++] = (struct mem_region){.base = MiB(1), .length = KiB(info.mem_upper), .type = MEM_AVAILABLE};
    }
}

static void log_boot_info(void) {
    LOG_INFO(log_src, "multiboot: flags %#x, mem_lower %u KiB, mem_upper %u KiB, loader '%s'", info.flags,
             info.mem_lower, info.mem_upper, info.loader_name);
    LOG_INFO(log_src, "cmdline: '%s'", info.cmdline);
    for (unsigned i = 0; i < info.region_count; i++) {
        const struct mem_region *r = &info.regions[i];
        LOG_INFO(log_src, "memory 0x%010lx-0x%010lx %s", r->base, r->base + r->length, region_type_name(r->type));
    }
    if (info.regions_truncated) LOG_WARN(log_src, "memory map truncated to %d regions", BOOT_MAX_REGIONS);
}

static void configure_logging(void) {
    const char *spec = arg_str("log", "info");
    char error[160];
    if (log_configure(spec, error, sizeof(error)) != 0) cmdline_usage_error("log=%s: %s", spec, error);
}

NORETURN void kmain(uint32_t magic, uint32_t info_address) {
    console_init();
    arch_init();
    copy_boot_info(magic, info_address);
    cmdline_boot_init(info.cmdline);
    configure_logging();
    log_boot_info();

    alloc_init(&info);
    if (paging_set_present((uint64_t)(uintptr_t)boot_stack_guard, false) != 0)
        LOG_WARN(log_src, "could not unmap the boot stack's guard page");
    pic_init();
    time_init();
    pci_init();
    sched_init();

    const char *name = cmdline_boot()->workload;
    const struct workload *workload = workload_find(name);
    if (!workload) {
        char names[160];
        workload_names(names, sizeof(names));
        cmdline_usage_error("unknown workload '%s' (available: %s)", name, names);
    }
    LOG_INFO(log_src, "running workload '%s'", workload->name);
    int exit_value = workload->main();
    LOG_INFO(log_src, "workload '%s' exited with %d (process status %d)", workload->name, exit_value,
             (exit_value << 1) | 1);
    arch_exit((uint8_t)exit_value);
}
