/*
 * net/virtio_net.c: virtio-net over the legacy PCI interface.
 *
 * Bring-up follows the legacy sequence: reset, ACKNOWLEDGE, DRIVER, feature negotiation (we
 * take MAC and STATUS and nothing else, so the per-frame header is the 10-byte virtio_net_hdr,
 * all zeros on transmit: no checksum offload, no GSO), the two queues (receive 0, transmit 1) as
 * legacy split rings aligned to 4096 bytes and handed over by page frame number, DRIVER_OK.
 * The firmware leaves bus mastering off; we switch it on before the device may touch memory.
 *
 * Buffers: descriptor i of each queue always points at buffer i (2 KiB each), so no descriptor
 * is ever shared. Every receive buffer is posted at start and re-posted as soon as its frame has
 * been handed up; transmit buffers come back through the used ring and return to a free stack.
 * Interrupts: INTx on the line the firmware wrote into the interrupt-line register, level
 * triggered through the PIC; the handler reads ISR (which acknowledges and lowers the line) and
 * flags the device for the next poll. Everything the device writes (used-ring indices, ids,
 * lengths) is checked before use: a bad one counts an error and is skipped, never followed.
 */
#include "net/virtio_net.h"
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "log/log.h"
#include "net/netdev.h"
#include "pci/pci.h"
#include <stdio.h>
#include <string.h>

LOG_SOURCE(log_src, "virtio-net");

/* legacy I/O registers */
#define REG_HOST_FEATURES 0x00
#define REG_GUEST_FEATURES 0x04
#define REG_QUEUE_PFN 0x08
#define REG_QUEUE_SIZE 0x0c
#define REG_QUEUE_SELECT 0x0e
#define REG_QUEUE_NOTIFY 0x10
#define REG_STATUS 0x12
#define REG_ISR 0x13
#define REG_CONFIG 0x14 /* device config while MSI-X is off: MAC (6 bytes), status (16 bits) */

#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FAILED 0x80

#define F_MAC (1u << 5)
#define F_STATUS (1u << 16)
#define NET_STATUS_LINK_UP 1

#define DESC_F_WRITE 2
#define USED_F_NO_NOTIFY 1

#define HEADER_LEN 10 /* struct virtio_net_hdr without num_buffers */
#define BUFFER_SIZE 2048
#define QUEUE_MAX 256 /* we use at most this many entries of a queue */
#define RX_QUEUE 0
#define TX_QUEUE 1

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} PACKED;

struct virtq {
    uint16_t size;       /* as the device reports it */
    uint16_t used_seen;  /* used-ring entries consumed */
    uint16_t avail_next; /* our copy of avail->idx */
    volatile struct vring_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
    volatile uint8_t *used;   /* flags, idx, ring[size] of {u32 id, u32 len}, avail_event */
    uint8_t *buffers;         /* size * BUFFER_SIZE */
    uint16_t *free_stack;     /* transmit: free descriptor ids */
    uint16_t free_count;
};

struct virtio_net {
    struct netdev dev;
    uint16_t io;
    uint32_t features;
    struct virtq rx, tx;
    unsigned irq;
};

static struct virtio_net *irq_owner[16];

static uint16_t used_idx(const struct virtq *q) { return *(volatile const uint16_t *)(q->used + 2); }
static uint32_t used_id(const struct virtq *q, uint16_t slot) { return *(volatile const uint32_t *)(q->used + 4 + 8 * (size_t)slot); }
static uint32_t used_len(const struct virtq *q, uint16_t slot) { return *(volatile const uint32_t *)(q->used + 8 + 8 * (size_t)slot); }
static uint16_t used_flags(const struct virtq *q) { return *(volatile const uint16_t *)q->used; }

static void make_available(struct virtq *q, uint16_t id) {
    q->avail[2 + q->avail_next % q->size] = id;
    barrier(); /* the ring entry before the index that publishes it (x86 keeps stores in order) */
    q->avail_next++;
    q->avail[1] = q->avail_next;
}

static void notify(struct virtio_net *vn, uint16_t queue, const struct virtq *q) {
    barrier();
    if (!(used_flags(q) & USED_F_NO_NOTIFY)) outw(vn->io + REG_QUEUE_NOTIFY, queue);
}

static int setup_queue(struct virtio_net *vn, uint16_t index, struct virtq *q) {
    outw(vn->io + REG_QUEUE_SELECT, index);
    uint16_t size = inw(vn->io + REG_QUEUE_SIZE);
    if (size == 0 || (size & (size - 1)) != 0 || size > 32768) {
        LOG_ERROR(log_src, "queue %u: size %u is not a power of two in 1..32768", index, size);
        return ERR_INVAL;
    }
    size_t ring_bytes = ALIGN_UP(16 * (size_t)size + 6 + 2 * (size_t)size, 4096) + ALIGN_UP(6 + 8 * (size_t)size, 4096);
    uint8_t *ring = page_alloc(page_order_for(ring_bytes));
    uint16_t used_entries = MIN(size, QUEUE_MAX);
    q->buffers = page_alloc(page_order_for((size_t)used_entries * BUFFER_SIZE));
    q->free_stack = kmalloc(sizeof(uint16_t) * used_entries);
    if (!ring || !q->buffers || !q->free_stack) return ERR_NOMEM;
    memset(ring, 0, ring_bytes);
    q->size = size;
    q->desc = (volatile struct vring_desc *)ring;
    q->avail = (volatile uint16_t *)(ring + 16 * (size_t)size);
    q->used = ring + ALIGN_UP(16 * (size_t)size + 6 + 2 * (size_t)size, 4096);
    for (uint16_t i = 0; i < used_entries; i++) {
        q->desc[i].addr = (uint64_t)(uintptr_t)(q->buffers + (size_t)i * BUFFER_SIZE);
        q->desc[i].len = BUFFER_SIZE;
        q->desc[i].flags = 0;
        q->desc[i].next = 0;
        q->free_stack[i] = (uint16_t)(used_entries - 1 - i);
    }
    q->free_count = used_entries;
    /* the ring is identity-mapped: its physical page frame is its address / 4096 */
    outl(vn->io + REG_QUEUE_PFN, (uint32_t)((uintptr_t)ring >> 12));
    return 0;
}

/* Transmit completions (used length 0 on QEMU: the id is all that matters). */
static void reclaim_tx(struct netdev *dev) {
    struct virtio_net *vn = dev->driver;
    uint16_t entries_tx = MIN(vn->tx.size, QUEUE_MAX);
    for (uint16_t end = used_idx(&vn->tx); vn->tx.used_seen != end; vn->tx.used_seen++) {
        uint32_t id = used_id(&vn->tx, vn->tx.used_seen % vn->tx.size);
        if (id >= entries_tx || vn->tx.free_count >= entries_tx) {
            dev->stats.tx_errors++;
            continue;
        }
        vn->tx.free_stack[vn->tx.free_count++] = (uint16_t)id;
    }
}

static int virtio_transmit(struct netdev *dev, const uint8_t *frame, size_t length) {
    struct virtio_net *vn = dev->driver;
    struct virtq *q = &vn->tx;
    if (length > ETH_FRAME_MAX || length + HEADER_LEN > BUFFER_SIZE) {
        dev->stats.tx_errors++;
        return ERR_MSGSIZE;
    }
    if (q->free_count == 0) {
        reclaim_tx(dev); /* only the TX ring: a full poll would deliver input from inside the transmit path */
        if (q->free_count == 0) {
            dev->stats.tx_drops++;
            return ERR_AGAIN;
        }
    }
    uint16_t id = q->free_stack[--q->free_count];
    uint8_t *buffer = q->buffers + (size_t)id * BUFFER_SIZE;
    memset(buffer, 0, HEADER_LEN);
    memcpy(buffer + HEADER_LEN, frame, length);
    q->desc[id].len = (uint32_t)(HEADER_LEN + length);
    q->desc[id].flags = 0;
    make_available(q, id);
    notify(vn, TX_QUEUE, q);
    dev->stats.tx_frames++;
    dev->stats.tx_bytes += length;
    return 0;
}

static unsigned virtio_poll(struct netdev *dev) {
    struct virtio_net *vn = dev->driver;
    uint16_t entries_rx = MIN(vn->rx.size, QUEUE_MAX);
    reclaim_tx(dev);
    unsigned received = 0;
    for (uint16_t end = used_idx(&vn->rx); vn->rx.used_seen != end; vn->rx.used_seen++) {
        uint16_t slot = vn->rx.used_seen % vn->rx.size;
        uint32_t id = used_id(&vn->rx, slot), len = used_len(&vn->rx, slot);
        if (id >= entries_rx) {
            dev->stats.rx_errors++;
            continue;
        }
        if (len < HEADER_LEN + ETH_HEADER_LEN || len > BUFFER_SIZE) {
            dev->stats.rx_errors++;
        } else {
            const uint8_t *frame = vn->rx.buffers + (size_t)id * BUFFER_SIZE + HEADER_LEN;
            size_t length = len - HEADER_LEN;
            dev->stats.rx_frames++;
            dev->stats.rx_bytes += length;
            received++;
            if (dev->receive) dev->receive(dev->receive_ctx, frame, length);
            else dev->stats.rx_drops++;
        }
        vn->rx.desc[id].len = BUFFER_SIZE;
        vn->rx.desc[id].flags = DESC_F_WRITE;
        make_available(&vn->rx, (uint16_t)id);
    }
    if (received) notify(vn, RX_QUEUE, &vn->rx);
    return received;
}

static bool virtio_link_up(struct netdev *dev) {
    struct virtio_net *vn = dev->driver;
    if (!(vn->features & F_STATUS)) return true;
    return (inw(vn->io + REG_CONFIG + 6) & NET_STATUS_LINK_UP) != 0;
}

static void virtio_irq(unsigned irq);

/* PCI INTx is level-triggered: the line's bit in the PIC's edge/level control register (ELCR,
 * ports 0x4d0/0x4d1) must say so. SeaBIOS sets it for the lines it assigns; we make sure. */
static void set_level_triggered(unsigned irq) {
    uint16_t port = irq < 8 ? 0x4d0 : 0x4d1;
    outb(port, (uint8_t)(inb(port) | (1u << (irq & 7))));
}

static int virtio_start(struct netdev *dev) {
    struct virtio_net *vn = dev->driver;
    /* every receive buffer posted before the device may deliver */
    uint16_t rx_entries = MIN(vn->rx.size, QUEUE_MAX);
    for (uint16_t i = 0; i < rx_entries; i++) {
        vn->rx.desc[i].flags = DESC_F_WRITE;
        make_available(&vn->rx, i);
    }
    vn->rx.free_count = 0;
    irq_owner[vn->irq] = vn;
    set_level_triggered(vn->irq);
    irq_set_handler(vn->irq, virtio_irq);
    outb(vn->io + REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
    outw(vn->io + REG_QUEUE_NOTIFY, RX_QUEUE);
    return 0;
}

static const struct netdev_ops virtio_ops = {.start = virtio_start, .transmit = virtio_transmit, .poll = virtio_poll, .link_up = virtio_link_up};

static void virtio_irq(unsigned irq) {
    struct virtio_net *vn = irq_owner[irq];
    if (!vn) return;
    uint8_t isr = inb(vn->io + REG_ISR); /* reading acknowledges and lowers the line */
    if (isr & 1) {
        vn->dev.stats.interrupts++;
        vn->dev.event_pending = true;
    }
}

static void fail(struct virtio_net *vn, const char *what) {
    outb(vn->io + REG_STATUS, STATUS_FAILED);
    LOG_ERROR(log_src, "%s: %s; the device is left in FAILED state", vn->dev.name, what);
}

static void bring_up(const struct pci_device *pci, unsigned number) {
    if ((pci->bar[0] & 1) == 0) {
        LOG_ERROR(log_src, "%02x:%02x.%x: BAR0 is not an I/O BAR (0x%x): not a transitional device", pci->bus, pci->device,
                  pci->function, pci->bar[0]);
        return;
    }
    struct virtio_net *vn = kzalloc(sizeof *vn);
    if (!vn) return;
    snprintf(vn->dev.name, sizeof vn->dev.name, "eth%u", number);
    vn->io = (uint16_t)(pci->bar[0] & ~3u);
    /* I/O decoding and bus mastering on (SeaBIOS leaves command 0x0103: no bus master) */
    uint32_t command = pci_config_read16(pci->bus, pci->device, pci->function, 0x04);
    pci_config_write32(pci->bus, pci->device, pci->function, 0x04, command | 0x1 | 0x4);

    outb(vn->io + REG_STATUS, 0); /* reset */
    outb(vn->io + REG_STATUS, STATUS_ACKNOWLEDGE);
    outb(vn->io + REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    uint32_t offered = inl(vn->io + REG_HOST_FEATURES);
    vn->features = offered & (F_MAC | F_STATUS);
    outl(vn->io + REG_GUEST_FEATURES, vn->features);
    if (setup_queue(vn, RX_QUEUE, &vn->rx) != 0 || setup_queue(vn, TX_QUEUE, &vn->tx) != 0) return fail(vn, "queue setup failed");
    if (vn->features & F_MAC) {
        for (int i = 0; i < ETH_ADDR_LEN; i++) vn->dev.mac[i] = inb((uint16_t)(vn->io + REG_CONFIG + i));
    } else {
        /* no MAC from the device: a locally administered one */
        uint8_t mac[ETH_ADDR_LEN] = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + number)};
        memcpy(vn->dev.mac, mac, sizeof mac);
    }
    vn->dev.mtu = ETH_MTU;
    vn->dev.ops = &virtio_ops;
    vn->dev.driver = vn;
    vn->irq = pci->interrupt_line;
    if (vn->irq >= 16 || vn->irq == 2) return fail(vn, "no usable interrupt line");
    netdev_register(&vn->dev);
    char mac[18];
    eth_format(vn->dev.mac, mac);
    LOG_INFO(log_src, "%s: %02x:%02x.%x io 0x%x irq %u mac %s, queues %u/%u, features 0x%x of 0x%x, link %s", vn->dev.name,
             pci->bus, pci->device, pci->function, vn->io, vn->irq, mac, vn->rx.size, vn->tx.size, vn->features, offered,
             virtio_link_up(&vn->dev) ? "up" : "down");
}

void virtio_net_probe(void) {
    size_t count;
    const struct pci_device *devices = pci_devices(&count);
    unsigned number = 0;
    for (size_t i = 0; i < count; i++)
        if (devices[i].vendor_id == 0x1af4 && devices[i].device_id == 0x1000 && devices[i].class_code == 0x02)
            bring_up(&devices[i], number++);
}
