/*
 * net/wire/icmpv6_wire.h: ICMPv6 messages (RFC 4443) and the Neighbor Discovery messages and
 * options (RFC 4861; RDNSS from RFC 8106).
 *
 * Every ICMPv6 message starts with type, code, checksum and a 32-bit "rest of header" word; the
 * checksum covers the IPv6 pseudo-header (next header 58) and the whole message.
 *
 * The ND parsers check the fixed part's length and every option: an option whose length is 0 or
 * runs past the message makes the whole message invalid (RFC 4861 §4.6: receivers silently
 * discard such packets). Options of a known type with a length other than the one their RFC
 * gives, options of unknown types and options past the caps below are skipped and counted in
 * `ignored`. Link-layer address options are Ethernet's (length 1, 6 bytes).
 */
#ifndef NET_WIRE_ICMPV6_WIRE_H
#define NET_WIRE_ICMPV6_WIRE_H

#include "base/base.h"
#include "net/wire/ipv6_wire.h"

#define ICMPV6_HEADER_LEN 8

#define ICMPV6_DEST_UNREACHABLE 1
#define ICMPV6_PACKET_TOO_BIG 2
#define ICMPV6_TIME_EXCEEDED 3
#define ICMPV6_PARAMETER_PROBLEM 4
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
#define ICMPV6_ROUTER_SOLICITATION 133
#define ICMPV6_ROUTER_ADVERTISEMENT 134
#define ICMPV6_NEIGHBOR_SOLICITATION 135
#define ICMPV6_NEIGHBOR_ADVERTISEMENT 136
#define ICMPV6_REDIRECT 137

/* destination unreachable codes */
#define ICMPV6_CODE_NO_ROUTE 0
#define ICMPV6_CODE_ADDRESS_UNREACHABLE 3
#define ICMPV6_CODE_PORT_UNREACHABLE 4
/* time exceeded codes */
#define ICMPV6_CODE_HOP_LIMIT 0
#define ICMPV6_CODE_REASSEMBLY_TIMEOUT 1
/* parameter problem codes */
#define ICMPV6_CODE_BAD_HEADER_FIELD 0
#define ICMPV6_CODE_UNKNOWN_NEXT_HEADER 1
#define ICMPV6_CODE_UNKNOWN_OPTION 2

/* Error messages are the types below 128 (RFC 4443 §2.1). */
static inline bool icmpv6_is_error(uint8_t type) { return type < 128; }

enum icmpv6_parse_result { ICMPV6_OK = 0, ICMPV6_TOO_SHORT, ICMPV6_BAD_CHECKSUM };

struct icmpv6_header {
    uint8_t type, code;
    uint32_t word;       /* "rest of header": echo id << 16 | sequence, MTU, pointer */
    const uint8_t *body; /* after the 8-byte header */
    size_t body_length;
};

/* Parses a message sent from `source` to `destination`: at least 8 bytes, the checksum right. */
enum icmpv6_parse_result icmpv6_parse(const uint8_t *message, size_t length, const uint8_t source[IPV6_ADDRESS_LEN],
                                      const uint8_t destination[IPV6_ADDRESS_LEN], struct icmpv6_header *out);
/* Writes type, code and the rest-of-header word (checksum 0) at `message`. */
void icmpv6_write_header(uint8_t *message, uint8_t type, uint8_t code, uint32_t word);
/* Computes and stores the checksum of the `length`-byte message at `message`. */
void icmpv6_set_checksum(uint8_t *message, size_t length, const uint8_t source[IPV6_ADDRESS_LEN],
                         const uint8_t destination[IPV6_ADDRESS_LEN]);

/* ---- Neighbor Discovery ---- */

#define NDP_OPTION_SOURCE_LINK_ADDRESS 1
#define NDP_OPTION_TARGET_LINK_ADDRESS 2
#define NDP_OPTION_PREFIX_INFORMATION 3
#define NDP_OPTION_REDIRECTED_HEADER 4
#define NDP_OPTION_MTU 5
#define NDP_OPTION_RDNSS 25

#define NDP_MAX_PREFIXES 4 /* prefix information options kept from one RA */
#define NDP_MAX_RDNSS 3    /* DNS server addresses kept from one RA */

#define NDP_NA_ROUTER 0x80000000u
#define NDP_NA_SOLICITED 0x40000000u
#define NDP_NA_OVERRIDE 0x20000000u

struct ndp_prefix {
    uint8_t length; /* bits */
    bool on_link, autonomous;
    uint32_t valid_s, preferred_s; /* 0xffffffff: infinity */
    uint8_t prefix[IPV6_ADDRESS_LEN];
};

struct ndp_options {
    const uint8_t *source_mac; /* NULL when absent */
    const uint8_t *target_mac;
    struct ndp_prefix prefixes[NDP_MAX_PREFIXES];
    size_t prefix_count;
    bool has_mtu;
    uint32_t mtu;
    uint32_t rdnss_lifetime_s;
    uint8_t rdnss[NDP_MAX_RDNSS][IPV6_ADDRESS_LEN];
    size_t rdnss_count;
    unsigned ignored; /* options skipped: unknown types, wrong lengths, past the caps */
};

/* The option list at `options`; false when an option has length 0 or runs past `length`. */
bool ndp_options_parse(const uint8_t *options, size_t length, struct ndp_options *out);

struct ndp_message {
    uint8_t type;
    /* NS, NA, redirect: the target; redirect: the destination too */
    uint8_t target[IPV6_ADDRESS_LEN];
    uint8_t destination[IPV6_ADDRESS_LEN];
    /* NA */
    bool router, solicited, override;
    /* RA */
    uint8_t cur_hop_limit;
    bool managed, other_config;
    uint16_t router_lifetime_s;
    uint32_t reachable_time_ms, retrans_timer_ms;
    struct ndp_options options;
};

/* Parses an RS, RA, NS, NA or redirect whose ICMPv6 header `icmp` was parsed already: the fixed
 * part's length (RS 8, RA 16, NS and NA 24, redirect 40 bytes) and the options; false if either
 * is wrong (or `icmp` is another type). Code, hop limit and addresses are the caller's checks. */
bool ndp_parse(const struct icmpv6_header *icmp, struct ndp_message *out);

/* Writers: the message at `message` without its checksum (icmpv6_set_checksum does that once
 * the addresses are known); a NULL MAC leaves the link-layer address option out. They return
 * the message's length. */
size_t ndp_write_rs(uint8_t *message, const uint8_t *source_mac);
size_t ndp_write_ns(uint8_t *message, const uint8_t target[IPV6_ADDRESS_LEN], const uint8_t *source_mac);
size_t ndp_write_na(uint8_t *message, uint32_t flags, const uint8_t target[IPV6_ADDRESS_LEN], const uint8_t *target_mac);

#endif
