/*
 * net/wire/ipv4_wire.h: the IPv4 header (RFC 791).
 *
 * ipv4_parse checks everything a receiver must before trusting a field: version 4, IHL >= 5,
 * the header inside the buffer, total length >= header length and <= the buffer (bytes past the
 * total length are link padding and are ignored), and the header checksum. Options are kept
 * (their bytes are skipped) but not interpreted.
 */
#ifndef NET_WIRE_IPV4_WIRE_H
#define NET_WIRE_IPV4_WIRE_H

#include "base/base.h"

#define IPV4_HEADER_LEN 20
#define IPV4_PROTOCOL_ICMP 1
#define IPV4_PROTOCOL_TCP 6
#define IPV4_PROTOCOL_UDP 17

#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff

#define IPV4_BROADCAST 0xffffffffu
#define IPV4_ADDR(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

enum ipv4_parse_result {
    IPV4_OK = 0,
    IPV4_TOO_SHORT,     /* shorter than a header, or than the header length it states */
    IPV4_BAD_VERSION,
    IPV4_BAD_HEADER_LENGTH,
    IPV4_BAD_TOTAL_LENGTH,
    IPV4_BAD_CHECKSUM,
};

struct ipv4_header {
    uint8_t header_length; /* bytes */
    uint8_t tos;
    uint16_t total_length;
    uint16_t id;
    uint16_t flags_offset; /* DF, MF and the fragment offset in 8-byte units */
    uint8_t ttl;
    uint8_t protocol;
    uint32_t source, destination; /* host order */
};

enum ipv4_parse_result ipv4_parse(const uint8_t *packet, size_t length, struct ipv4_header *out);
const char *ipv4_parse_result_name(enum ipv4_parse_result result);
/* Writes a 20-byte header (no options) with its checksum at `packet`. */
void ipv4_write(uint8_t *packet, const struct ipv4_header *header);
/* "10.0.2.15" into `text` (16 bytes). */
void ipv4_format(uint32_t address, char text[16]);
/* Parses a dotted quad; false unless it is exactly four numbers 0..255. */
bool ipv4_from_text(const char *text, uint32_t *out);

#endif
