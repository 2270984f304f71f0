/* net/wire/checksum.c: the Internet checksum (RFC 1071) and the IPv4 and IPv6 pseudo-headers. */
#include "net/wire/checksum.h"

uint32_t checksum_add(uint32_t sum, const void *data, size_t length) {
    /* Eight bytes per step as two 32-bit words in the CPU's (little-endian) order: a one's
     * complement sum does not depend on byte order (RFC 1071 §2(B)), so the 16-bit fold is
     * swapped into network order once at the end. A step adds at most 2^33, so the 64-bit
     * total cannot overflow for any buffer that fits in memory. */
    const uint8_t *bytes = data;
    uint64_t total = 0;
    for (; length >= 8; bytes += 8, length -= 8) {
        uint64_t word;
        __builtin_memcpy(&word, bytes, 8);
        total += (word & 0xffffffffu) + (word >> 32);
    }
    if (length >= 4) {
        uint32_t word;
        __builtin_memcpy(&word, bytes, 4);
        total += word;
        bytes += 4;
        length -= 4;
    }
    if (length >= 2) {
        uint16_t word;
        __builtin_memcpy(&word, bytes, 2);
        total += word;
        bytes += 2;
        length -= 2;
    }
    if (length == 1) total += bytes[0]; /* the high byte of a zero-padded word, once swapped */
    while (total >> 16) total = (total & 0xffff) + (total >> 16);
    total = ((total & 0xff) << 8 | total >> 8) + sum;
    /* fold into 32 bits now: callers chain many pieces */
    while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
    return (uint32_t)total;
}

uint16_t checksum_finish(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t checksum_pseudo_ipv4(uint32_t source, uint32_t destination, uint8_t protocol, uint16_t length) {
    uint64_t sum = (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) + protocol + length;
    while (sum >> 32) sum = (sum & 0xffffffffu) + (sum >> 32);
    return (uint32_t)sum;
}

uint32_t checksum_pseudo_ipv6(const uint8_t source[16], const uint8_t destination[16], uint8_t next_header,
                              uint32_t length) {
    uint32_t sum = checksum_add(0, source, 16);
    sum = checksum_add(sum, destination, 16);
    uint64_t total = (uint64_t)sum + (length >> 16) + (length & 0xffff) + next_header;
    while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
    return (uint32_t)total;
}

uint32_t checksum_pseudo(const struct ip_addr *source, const struct ip_addr *destination, uint8_t protocol,
                         uint32_t length) {
    if (source->family == IP_FAMILY_V4 && destination->family == IP_FAMILY_V4)
        return checksum_pseudo_ipv4(source->v4, destination->v4, protocol, (uint16_t)length);
    if (source->family == IP_FAMILY_V6 && destination->family == IP_FAMILY_V6)
        return checksum_pseudo_ipv6(source->v6, destination->v6, protocol, length);
    return 0;
}
