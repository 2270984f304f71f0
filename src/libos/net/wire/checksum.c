/* net/wire/checksum.c: the Internet checksum (RFC 1071). */
#include "net/wire/checksum.h"

uint32_t checksum_add(uint32_t sum, const void *data, size_t length) {
    const uint8_t *bytes = data;
    uint64_t total = sum;
    size_t i = 0;
    for (; i + 1 < length; i += 2) total += (uint32_t)bytes[i] << 8 | bytes[i + 1];
    if (i < length) total += (uint32_t)bytes[i] << 8;
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
