/*
 * net/virtio_net.h: the driver for QEMU's transitional virtio-net-pci (1af4:1000), through its
 * legacy I/O interface (BAR0; virtio 0.9.5 / the "legacy interface" of virtio 1.x §4.1.4.8).
 */
#ifndef NET_VIRTIO_NET_H
#define NET_VIRTIO_NET_H

/* Finds every virtio-net function on bus 0, brings each up and registers it as a netdev. */
void virtio_net_probe(void);

#endif
