/*
 * net/wire/udp_wire.h: UDP datagrams (RFC 768) over IPv4 and IPv6.
 *
 * udp_parse checks the length field against the IP payload (it may be shorter: the rest is
 * ignored, never longer) and the checksum with the pseudo-header of the addresses' family.
 * Over IPv4 a checksum of 0 means the sender computed none; over IPv6 the checksum is
 * mandatory and a datagram with 0 is invalid (RFC 8200 §8.1: UDP_BAD_CHECKSUM). Outgoing
 * datagrams always carry a checksum (0 is sent as 0xffff).
 */
#ifndef NET_WIRE_UDP_WIRE_H
#define NET_WIRE_UDP_WIRE_H

#include "base/base.h"
#include "net/ip_addr.h"

#define UDP_HEADER_LEN 8
#define UDP_PROTOCOL 17 /* IPv4 protocol number, IPv6 next header */

enum udp_parse_result { UDP_OK = 0, UDP_TOO_SHORT, UDP_BAD_LENGTH, UDP_BAD_CHECKSUM };

struct udp_header {
    uint16_t source_port, destination_port;
    const uint8_t *data;
    size_t data_length;
};

/* `source` and `destination` are both IPv4 or both IPv6 (anything else: UDP_BAD_CHECKSUM). */
enum udp_parse_result udp_parse(const uint8_t *datagram, size_t length, const struct ip_addr *source,
                                const struct ip_addr *destination, struct udp_header *out);
/* Writes the header at `datagram` and the checksum over it and the data that follows it. */
void udp_write(uint8_t *datagram, uint16_t source_port, uint16_t destination_port, size_t data_length,
               const struct ip_addr *source, const struct ip_addr *destination);

#endif
