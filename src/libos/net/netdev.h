/*
 * net/netdev.h: network devices, in the style of Unikraft's uknetdev: a driver fills a struct
 * netdev (MAC, MTU, ops) and registers it; the stack above sees only this interface, so another
 * driver (or a loopback device) plugs in without touching the stack.
 *
 * A driver's probe finds and resets the device, negotiates and sets up its queues, and registers
 * it; netdev_start (by the stack's glue, once `receive` is set) makes it live. The data path is
 * polled from the scheduler: a device's interrupt handler only acknowledges the
 * device and sets `event_pending`; netdev_poll() (called from the network's scheduler poller)
 * then reclaims finished transmissions and hands each received frame to `receive`, refilling
 * the device's receive buffers. `transmit` copies the frame into a device buffer before it
 * returns, or returns ERR_AGAIN when every buffer is in flight.
 *
 * Counters follow Linux's /proc/net/dev: frames and bytes each way, drops (no buffer, or a frame
 * the device could not take) and errors (malformed descriptors, frames over the MTU).
 */
#ifndef NET_NETDEV_H
#define NET_NETDEV_H

#include "base/base.h"
#include "net/wire/ethernet.h"

struct netdev;

struct netdev_ops {
    /* Makes the device live: receive buffers posted, interrupts on. Frames may arrive (to
     * dev->receive, which must be set first) from the next poll on. */
    int (*start)(struct netdev *dev);
    int (*transmit)(struct netdev *dev, const uint8_t *frame, size_t length);
    /* reclaims transmit buffers and delivers received frames to dev->receive; returns frames received */
    unsigned (*poll)(struct netdev *dev);
    bool (*link_up)(struct netdev *dev);
};

struct netdev_stats {
    uint64_t rx_frames, rx_bytes, rx_drops, rx_errors;
    uint64_t tx_frames, tx_bytes, tx_drops, tx_errors;
    uint64_t interrupts;
};

struct netdev {
    char name[16];
    uint8_t mac[ETH_ADDR_LEN];
    uint16_t mtu;
    const struct netdev_ops *ops;
    void *driver; /* the driver's state */
    /* where received frames go (set by the stack's glue before the first poll) */
    void (*receive)(void *ctx, const uint8_t *frame, size_t length);
    void *receive_ctx;
    /* set by the interrupt handler, cleared by netdev_poll */
    volatile bool event_pending;
    struct netdev_stats stats;
};

void netdev_register(struct netdev *dev);
/* The first registered device, or NULL. */
struct netdev *netdev_first(void);

int netdev_start(struct netdev *dev);
int netdev_transmit(struct netdev *dev, const uint8_t *frame, size_t length);
unsigned netdev_poll(struct netdev *dev);

/* Probes the drivers this kernel has (virtio-net) and registers what they find. */
void netdev_probe_all(void);

/* "eth0: rx 12 frames 1480 bytes 0 drops 0 errors, tx ..." */
void netdev_format_stats(const struct netdev *dev, char *text, size_t size);

#endif
