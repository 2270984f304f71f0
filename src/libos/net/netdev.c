/* net/netdev.c: the device registry and the ops wrappers. */
#include "net/netdev.h"
#include "net/virtio_net.h"
#include <stdio.h>

#define NETDEV_MAX 4
static struct netdev *devices[NETDEV_MAX];
static unsigned device_count;

void netdev_register(struct netdev *dev) {
    if (device_count < NETDEV_MAX) devices[device_count++] = dev;
}

struct netdev *netdev_first(void) { return device_count > 0 ? devices[0] : NULL; }

int netdev_start(struct netdev *dev) { return dev->ops->start(dev); }

int netdev_transmit(struct netdev *dev, const uint8_t *frame, size_t length) { return dev->ops->transmit(dev, frame, length); }

unsigned netdev_poll(struct netdev *dev) {
    dev->event_pending = false;
    return dev->ops->poll(dev);
}

void netdev_probe_all(void) { virtio_net_probe(); }

void netdev_format_stats(const struct netdev *dev, char *text, size_t size) {
    const struct netdev_stats *s = &dev->stats;
    snprintf(text, size,
             "%s: rx %lu frames %lu bytes %lu drops %lu errors, tx %lu frames %lu bytes %lu drops %lu errors, %lu interrupts",
             dev->name, s->rx_frames, s->rx_bytes, s->rx_drops, s->rx_errors, s->tx_frames, s->tx_bytes, s->tx_drops, s->tx_errors,
             s->interrupts);
}
