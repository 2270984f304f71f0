/*
 * net/wire/checksum.h: the Internet checksum (RFC 1071) and the IPv4 pseudo-header sum that
 * TCP and UDP add to it (RFC 9293 §3.1, RFC 768).
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

/* `sum` plus the 16-bit words of `data` (when `length` is odd, the last byte is padded with a
 * zero byte; so only the last piece of a message may have an odd length). */
uint32_t checksum_add(uint32_t sum, const void *data, size_t length);

/* Folds the carries and complements: the value to store in a checksum field (network order
 * when written with wire_put16). */
uint16_t checksum_finish(uint32_t sum);

/* The partial sum of the IPv4 pseudo-header: source and destination (host order), zero,
 * protocol, and the upper-layer length (header plus data). */
uint32_t checksum_pseudo_ipv4(uint32_t source, uint32_t destination, uint8_t protocol, uint16_t length);

#endif
