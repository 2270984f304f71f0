/*
 * net/wire/udp_wire.h: UDP datagrams (RFC 768) over IPv4.
 *
 * udp_parse checks the length field against the IP payload (it may be shorter: the rest is
 * ignored, never longer) and the checksum with the pseudo-header when it is not 0 (0: the
 * sender computed none). Outgoing datagrams always carry a checksum (0 is sent as 0xffff).
 */
#ifndef NET_WIRE_UDP_WIRE_H
#define NET_WIRE_UDP_WIRE_H

#include "base/base.h"

#define UDP_HEADER_LEN 8

enum udp_parse_result { UDP_OK = 0, UDP_TOO_SHORT, UDP_BAD_LENGTH, UDP_BAD_CHECKSUM };

struct udp_header {
    uint16_t source_port, destination_port;
    const uint8_t *data;
    size_t data_length;
};

enum udp_parse_result udp_parse(const uint8_t *datagram, size_t length, uint32_t source_ip, uint32_t destination_ip, struct udp_header *out);
/* Writes the header at `datagram` and the checksum over it and the data that follows it. */
void udp_write(uint8_t *datagram, uint16_t source_port, uint16_t destination_port, size_t data_length, uint32_t source_ip, uint32_t destination_ip);

#endif
