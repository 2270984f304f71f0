/*
 * pci/pci.h: PCI configuration space through the legacy ports 0xCF8 (address) / 0xCFC (data),
 * and the bus-0 scan.
 */
#ifndef LIBOS_PCI_H
#define LIBOS_PCI_H

#include "base/base.h"

#define PCI_MAX_DEVICES 64

struct pci_device {
    uint8_t bus, device, function;
    uint16_t vendor_id, device_id;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type; /* without the multi-function bit */
    uint16_t subsystem_vendor_id, subsystem_id;
    uint8_t interrupt_line, interrupt_pin;
    uint32_t bar[6];
};

uint32_t pci_config_read32(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset);
uint16_t pci_config_read16(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset);
uint8_t pci_config_read8(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset);
void pci_config_write32(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset, uint32_t value);

/* Scans bus 0 (every device, every function of multi-function devices) and logs each function:
 *   [INFO] pci: 00:1f.2 8086:2922 class 01.06.01 SATA controller (AHCI) */
void pci_init(void);
/* The functions found by pci_init. */
const struct pci_device *pci_devices(size_t *count);
const struct pci_device *pci_find(uint16_t vendor_id, uint16_t device_id);
const char *pci_class_name(uint8_t class_code, uint8_t subclass, uint8_t prog_if);

#endif
