/*
 * pci/pci.c: configuration mechanism #1 and the bus-0 scan.
 */
#include "pci/pci.h"
#include "arch/arch.h"
#include "log/log.h"

LOG_SOURCE(log_src, "pci");

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC

static struct pci_device devices[PCI_MAX_DEVICES];
static size_t device_count;

static uint32_t config_address(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset) {
    return 0x80000000u | ((uint32_t)bus << 16) | ((uint32_t)(device & 31) << 11) | ((uint32_t)(function & 7) << 8) |
           (offset & 0xFC);
}

uint32_t pci_config_read32(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset) {
    outl(PCI_CONFIG_ADDRESS, config_address(bus, device, function, offset));
    return inl(PCI_CONFIG_DATA);
}

uint16_t pci_config_read16(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset) {
    return (uint16_t)(pci_config_read32(bus, device, function, offset) >> ((offset & 2) * 8));
}

uint8_t pci_config_read8(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset) {
    return (uint8_t)(pci_config_read32(bus, device, function, offset) >> ((offset & 3) * 8));
}

void pci_config_write32(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset, uint32_t value) {
    outl(PCI_CONFIG_ADDRESS, config_address(bus, device, function, offset));
    outl(PCI_CONFIG_DATA, value);
}

const char *pci_class_name(uint8_t class_code, uint8_t subclass, uint8_t prog_if) {
    switch ((class_code << 8) | subclass) {
    case 0x0100: return "SCSI controller";
    case 0x0101: return "IDE controller";
    case 0x0106: return prog_if == 0x01 ? "SATA controller (AHCI)" : "SATA controller";
    case 0x0108: return "NVMe controller";
    case 0x0200: return "Ethernet controller";
    case 0x0300: return "VGA controller";
    case 0x0600: return "host bridge";
    case 0x0601: return "ISA bridge";
    case 0x0604: return "PCI-to-PCI bridge";
    case 0x0c03: return "USB controller";
    case 0x0c05: return "SMBus controller";
    default: break;
    }
    switch (class_code) {
    case 0x01: return "storage controller";
    case 0x02: return "network controller";
    case 0x03: return "display controller";
    case 0x06: return "bridge";
    case 0x0c: return "serial bus controller";
    default: return "device";
    }
}

static void probe(uint8_t bus, uint8_t device, uint8_t function) {
    uint32_t id = pci_config_read32(bus, device, function, 0x00);
    if ((id & 0xFFFF) == 0xFFFF) return;
    if (device_count == PCI_MAX_DEVICES) {
        LOG_WARN(log_src, "more than %d functions; ignoring %02x:%02x.%x", PCI_MAX_DEVICES, bus, device, function);
        return;
    }
    struct pci_device *d = &devices[device_count++];
    d->bus = bus;
    d->device = device;
    d->function = function;
    d->vendor_id = id & 0xFFFF;
    d->device_id = id >> 16;
    uint32_t class_reg = pci_config_read32(bus, device, function, 0x08);
    d->revision = class_reg & 0xFF;
    d->prog_if = (class_reg >> 8) & 0xFF;
    d->subclass = (class_reg >> 16) & 0xFF;
    d->class_code = class_reg >> 24;
    d->header_type = pci_config_read8(bus, device, function, 0x0E) & 0x7F;
    if (d->header_type == 0) {
        for (int i = 0; i < 6; i++) d->bar[i] = pci_config_read32(bus, device, function, (uint8_t)(0x10 + 4 * i));
        uint32_t subsystem = pci_config_read32(bus, device, function, 0x2C);
        d->subsystem_vendor_id = subsystem & 0xFFFF;
        d->subsystem_id = subsystem >> 16;
    }
    uint32_t interrupt = pci_config_read32(bus, device, function, 0x3C);
    d->interrupt_line = interrupt & 0xFF;
    d->interrupt_pin = (interrupt >> 8) & 0xFF;
    LOG_INFO(log_src, "%02x:%02x.%x %04x:%04x class %02x.%02x.%02x %s", bus, device, function, d->vendor_id,
             d->device_id, d->class_code, d->subclass, d->prog_if, pci_class_name(d->class_code, d->subclass, d->prog_if));
    if (d->header_type == 0)
        LOG_DEBUG(log_src, "  subsystem %04x:%04x, irq line %u pin %u, BARs %#x %#x %#x %#x %#x %#x",
                  d->subsystem_vendor_id, d->subsystem_id, d->interrupt_line, d->interrupt_pin, d->bar[0], d->bar[1],
                  d->bar[2], d->bar[3], d->bar[4], d->bar[5]);
}

void pci_init(void) {
    device_count = 0;
    for (uint8_t device = 0; device < 32; device++) {
        if ((pci_config_read32(0, device, 0, 0x00) & 0xFFFF) == 0xFFFF) continue;
        bool multifunction = (pci_config_read8(0, device, 0, 0x0E) & 0x80) != 0;
        for (uint8_t function = 0; function < (multifunction ? 8 : 1); function++) probe(0, device, function);
    }
    LOG_INFO(log_src, "bus 0: %zu functions", device_count);
}

const struct pci_device *pci_devices(size_t *count) {
    *count = device_count;
    return devices;
}

const struct pci_device *pci_find(uint16_t vendor_id, uint16_t device_id) {
    for (size_t i = 0; i < device_count; i++)
        if (devices[i].vendor_id == vendor_id && devices[i].device_id == device_id) return &devices[i];
    return NULL;
}
