/*
 * net/wire/ethernet.h: Ethernet II frames (no 802.1Q tags: a tagged frame is "unknown type").
 *
 * A frame on the wire here is destination MAC, source MAC, EtherType, payload; the FCS is the
 * NIC's business. Frames shorter than the header are malformed; the 60-byte minimum is not
 * enforced on input (slirp does not pad its frames, DESIGN.md §8), and output is not padded.
 */
#ifndef NET_WIRE_ETHERNET_H
#define NET_WIRE_ETHERNET_H

#include "base/base.h"

#define ETH_ADDR_LEN 6
#define ETH_HEADER_LEN 14
#define ETH_MTU 1500
#define ETH_FRAME_MAX (ETH_HEADER_LEN + ETH_MTU)

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd

struct eth_header {
    uint8_t destination[ETH_ADDR_LEN];
    uint8_t source[ETH_ADDR_LEN];
    uint16_t type; /* host order */
};

extern const uint8_t eth_broadcast[ETH_ADDR_LEN];

/* Parses the header of `frame`; false if it is shorter than one. */
bool eth_parse(const uint8_t *frame, size_t length, struct eth_header *out);
/* Writes the 14-byte header at `frame`. */
void eth_write(uint8_t *frame, const uint8_t destination[ETH_ADDR_LEN], const uint8_t source[ETH_ADDR_LEN], uint16_t type);
bool eth_is_broadcast(const uint8_t address[ETH_ADDR_LEN]);
bool eth_is_multicast(const uint8_t address[ETH_ADDR_LEN]); /* group bit: broadcast included */
bool eth_equal(const uint8_t a[ETH_ADDR_LEN], const uint8_t b[ETH_ADDR_LEN]);
/* "52:54:00:12:34:56" into `text` (18 bytes). */
void eth_format(const uint8_t address[ETH_ADDR_LEN], char text[18]);

#endif
