/*
 * net/wire/checksum.h: the Internet checksum (RFC 1071) and the pseudo-header sums that TCP and
 * UDP add to it: IPv4's (RFC 9293 §3.1, RFC 768) and IPv6's (RFC 8200 §8.1).
 *
 * Sums are kept as 32-bit partial sums of big-endian 16-bit words (an odd trailing byte is the
 * high byte of a word padded with zero), folded and complemented only at the end, so a header
 * and a payload in different buffers can be summed separately: checksum_finish(checksum_add(
 * checksum_add(0, header, h), payload, p)). Adding the partial sum of data that carries a
 * correct checksum field gives a finished checksum of 0.
 */
#ifndef NET_WIRE_CHECKSUM_H
#define NET_WIRE_CHECKSUM_H

#include "base/base.h"
#include "net/ip_addr.h"

/* `sum` plus the 16-bit words of `data` (when `length` is odd, the last byte is padded with a
 * zero byte; so only the last piece of a message may have an odd length). */
uint32_t checksum_add(uint32_t sum, const void *data, size_t length);

/* Folds the carries and complements: the value to store in a checksum field (network order
 * when written with wire_put16). */
uint16_t checksum_finish(uint32_t sum);

/* The partial sum of the IPv4 pseudo-header: source and destination (host order), zero,
 * protocol, and the upper-layer length (header plus data). */
uint32_t checksum_pseudo_ipv4(uint32_t source, uint32_t destination, uint8_t protocol, uint16_t length);

/* The partial sum of the IPv6 pseudo-header: source and destination (16 bytes each, network
 * order), the 32-bit upper-layer length, three zero bytes and the next header. */
uint32_t checksum_pseudo_ipv6(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                              uint32_t length);

/* The pseudo-header of the addresses' family (both IPv4 or both IPv6; anything else sums to 0,
 * which no caller uses: the layers above check the families first). */
uint32_t checksum_pseudo(const struct ip_addr *source, const struct ip_addr *destination, uint8_t protocol,
                         uint32_t length);

#endif
