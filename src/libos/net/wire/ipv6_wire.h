/*
 * net/wire/ipv6_wire.h: the IPv6 header and its extension headers (RFC 8200), and the address
 * classes of RFC 4291 the stack needs.
 *
 * Parsers check every length before reading a field:
 *   - ipv6_parse: version 6, the 40-byte header inside the buffer, the payload length inside the
 *     buffer (bytes past it are link padding and are ignored). A payload length of 0 with a
 *     hop-by-hop header would be a jumbogram (RFC 2675), which Ethernet cannot carry: it is parsed
 *     as an empty payload and the walk above fails on it.
 *   - ipv6_ext_parse: one hop-by-hop, routing, destination options or fragment header at the start
 *     of `data`, its stated length inside `length`.
 *   - ipv6_option_next: one option of a hop-by-hop or destination options header, inside the
 *     header's option area.
 * Addresses are 16 bytes in network order everywhere.
 */
#ifndef NET_WIRE_IPV6_WIRE_H
#define NET_WIRE_IPV6_WIRE_H

#include "base/base.h"

#define IPV6_HEADER_LEN 40
#define IPV6_ADDRESS_LEN 16
#define IPV6_MIN_MTU 1280

/* next header values */
#define IPV6_NEXT_HOP_BY_HOP 0
#define IPV6_NEXT_TCP 6
#define IPV6_NEXT_UDP 17
#define IPV6_NEXT_ROUTING 43
#define IPV6_NEXT_FRAGMENT 44
#define IPV6_NEXT_ICMPV6 58
#define IPV6_NEXT_NONE 59
#define IPV6_NEXT_DESTINATION 60

#define IPV6_FRAGMENT_HEADER_LEN 8

enum ipv6_parse_result {
    IPV6_OK = 0,
    IPV6_TOO_SHORT,          /* shorter than the 40-byte header */
    IPV6_BAD_VERSION,
    IPV6_BAD_PAYLOAD_LENGTH, /* the payload length runs past the buffer */
};

struct ipv6_header {
    uint8_t traffic_class;
    uint32_t flow_label; /* 20 bits */
    uint16_t payload_length;
    uint8_t next_header;
    uint8_t hop_limit;
    uint8_t source[IPV6_ADDRESS_LEN];
    uint8_t destination[IPV6_ADDRESS_LEN];
};

enum ipv6_parse_result ipv6_parse(const uint8_t *packet, size_t length, struct ipv6_header *out);
const char *ipv6_parse_result_name(enum ipv6_parse_result result);
/* Writes the 40-byte header at `packet`. */
void ipv6_write(uint8_t *packet, const struct ipv6_header *header);

/* ---- extension headers ---- */

/* One extension header: its type (the next header value that named it), its length in bytes,
 * the next header it names, and the parts of the types that have them. */
struct ipv6_ext {
    uint8_t type;
    uint8_t next_header;
    size_t length;          /* the whole header: 8 for a fragment header, (hdr ext len + 1) * 8 otherwise */
    const uint8_t *options; /* hop-by-hop and destination options: the option area ... */
    size_t options_length;  /* ... (length - 2 bytes) */
    uint8_t routing_type, segments_left; /* routing */
    uint16_t fragment_offset;            /* fragment: in bytes (a multiple of 8) */
    bool more_fragments;
    uint32_t fragment_id;
};

/* True if `type` is one of the four extension headers parsed here. */
bool ipv6_is_extension(uint8_t type);
/* Parses the extension header of `type` at `data`; false if it is not one of the four or its
 * length runs past `length`. */
bool ipv6_ext_parse(const uint8_t *data, size_t length, uint8_t type, struct ipv6_ext *out);

/* Options of hop-by-hop and destination options headers (RFC 8200 §4.2). */
#define IPV6_OPTION_PAD1 0
#define IPV6_OPTION_PADN 1
#define IPV6_OPTION_ROUTER_ALERT 5
/* what a node that does not recognize an option does: the option type's two high bits */
#define IPV6_OPTION_ACTION(type) ((uint8_t)(type) >> 6)
enum ipv6_option_action {
    IPV6_OPTION_SKIP = 0,           /* 00: skip it and go on */
    IPV6_OPTION_DISCARD = 1,        /* 01: discard the packet silently */
    IPV6_OPTION_DISCARD_ICMP = 2,   /* 10: discard, Parameter Problem code 2 even to multicast */
    IPV6_OPTION_DISCARD_ICMP_UNICAST = 3, /* 11: discard, Parameter Problem code 2 unless to multicast */
};

struct ipv6_option {
    uint8_t type;
    size_t offset;      /* of its type byte in the option area */
    const uint8_t *data;
    size_t data_length; /* 0 for Pad1 */
};

enum ipv6_option_result { IPV6_OPTION_OK, IPV6_OPTION_END, IPV6_OPTION_MALFORMED };
/* The option at *at in `options` (`length` bytes), advancing *at past it; END when *at reached
 * `length`; MALFORMED when the option's length runs past the area. */
enum ipv6_option_result ipv6_option_next(const uint8_t *options, size_t length, size_t *at, struct ipv6_option *out);

/* ---- addresses ---- */

extern const uint8_t ipv6_unspecified[IPV6_ADDRESS_LEN]; /* :: */
extern const uint8_t ipv6_all_nodes[IPV6_ADDRESS_LEN];   /* ff02::1 */
extern const uint8_t ipv6_all_routers[IPV6_ADDRESS_LEN]; /* ff02::2 */

bool ipv6_equal(const uint8_t a[IPV6_ADDRESS_LEN], const uint8_t b[IPV6_ADDRESS_LEN]);
bool ipv6_is_unspecified(const uint8_t address[IPV6_ADDRESS_LEN]);
bool ipv6_is_loopback(const uint8_t address[IPV6_ADDRESS_LEN]);
bool ipv6_is_multicast(const uint8_t address[IPV6_ADDRESS_LEN]);
bool ipv6_is_link_local(const uint8_t address[IPV6_ADDRESS_LEN]); /* fe80::/10 */
/* A multicast address of interface- or link-local scope (ff01::/16, ff02::/16: RFC 4291 §2.7). */
bool ipv6_is_multicast_link_scope(const uint8_t address[IPV6_ADDRESS_LEN]);
/* An IPv4-mapped address (::ffff:a.b.c.d), never valid on the wire (RFC 4291 §2.5.5.2). */
bool ipv6_is_v4_mapped(const uint8_t address[IPV6_ADDRESS_LEN]);
/* The first `bits` bits of a and b are equal. */
bool ipv6_prefix_equal(const uint8_t a[IPV6_ADDRESS_LEN], const uint8_t b[IPV6_ADDRESS_LEN], unsigned bits);
/* The number of leading bits a and b share (0..128). */
unsigned ipv6_common_prefix(const uint8_t a[IPV6_ADDRESS_LEN], const uint8_t b[IPV6_ADDRESS_LEN]);
/* ff02::1:ffXX:XXXX from the low 24 bits of `address` (RFC 4291 §2.7.1). */
void ipv6_solicited_node(const uint8_t address[IPV6_ADDRESS_LEN], uint8_t out[IPV6_ADDRESS_LEN]);
/* 33:33 and the low 32 bits of a multicast address (RFC 2464 §7). */
void ipv6_multicast_mac(const uint8_t address[IPV6_ADDRESS_LEN], uint8_t mac[6]);
/* The modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A) into bytes 8..15. */
void ipv6_interface_id(const uint8_t mac[6], uint8_t address[IPV6_ADDRESS_LEN]);

#endif
