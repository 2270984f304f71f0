/*
 * net/ip_addr.h: an IPv4 or an IPv6 address as one value, so that UDP, TCP and the sockets above
 * them serve both families with one API (a dual stack, as mirage-tcpip's Ipaddr.t).
 *
 * Invariants:
 *   - `family` is IP_FAMILY_V4 or IP_FAMILY_V6, or IP_FAMILY_ANY for the unspecified address of
 *     a listener or a bind that accepts either family;
 *   - an IPv4 address lives in `v4` in host order, as everywhere else in the stack; an IPv6
 *     address lives in `v6` as its 16 bytes in network order;
 *   - compare with ip_addr_equal, never with memcmp: the member a family does not use (and the
 *     padding) hold unspecified bytes.
 */
#ifndef NET_IP_ADDR_H
#define NET_IP_ADDR_H

#include "base/base.h"

enum ip_family {
    IP_FAMILY_ANY = 0,
    IP_FAMILY_V4 = 4,
    IP_FAMILY_V6 = 6,
};

#define IPV6_ADDR_LEN 16
/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" and its NUL */
#define IP_ADDR_TEXT_MAX 46

struct ip_addr {
    uint8_t family; /* enum ip_family */
    union {
        uint32_t v4;                 /* host order */
        uint8_t v6[IPV6_ADDR_LEN];   /* network order */
    };
};

struct ip_addr ip_addr_any(void);
struct ip_addr ip_addr_from_v4(uint32_t host_order);
struct ip_addr ip_addr_from_v6(const uint8_t bytes[IPV6_ADDR_LEN]);

/* Same family and same address; IP_FAMILY_ANY equals only itself. */
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);

/* Parses a dotted quad ("10.0.2.2") or an RFC 4291 text form ("fec0::2", "fe80::5054:ff:fe12:3456",
 * with at most one "::" and an optional trailing dotted quad). 0, or ERR_INVAL for anything else
 * (no zone ids, no prefixes, no surrounding brackets or blanks). */
int ip_addr_parse(const char *text, struct ip_addr *out);

/* Writes the RFC 5952 canonical text (lower case, the longest run of two or more zero groups as
 * "::", the leftmost on a tie) or a dotted quad; "any" for IP_FAMILY_ANY. Returns `buffer`, which
 * must hold IP_ADDR_TEXT_MAX bytes (a shorter `size` truncates, always NUL-terminated). */
char *ip_addr_format(const struct ip_addr *addr, char *buffer, size_t size);

#endif
