/*
 * net/wire/arp_wire.h: ARP packets for IPv4 over Ethernet (RFC 826): hardware type 1, protocol
 * 0x0800, address lengths 6 and 4. Anything else is not for us and fails to parse.
 */
#ifndef NET_WIRE_ARP_WIRE_H
#define NET_WIRE_ARP_WIRE_H

#include "net/wire/ethernet.h"

#define ARP_PACKET_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2

struct arp_packet {
    uint16_t operation;
    uint8_t sender_mac[ETH_ADDR_LEN];
    uint32_t sender_ip; /* host order */
    uint8_t target_mac[ETH_ADDR_LEN];
    uint32_t target_ip;
};

/* Parses an ARP payload (after the Ethernet header); false if short or not Ethernet/IPv4. */
bool arp_parse(const uint8_t *data, size_t length, struct arp_packet *out);
/* Writes the 28-byte packet at `data`. */
void arp_write(uint8_t *data, const struct arp_packet *packet);

#endif
