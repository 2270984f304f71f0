/* net/wire/ethernet.c: Ethernet II headers. */
#include "net/wire/ethernet.h"
#include "net/wire/bytes.h"

const uint8_t eth_broadcast[ETH_ADDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

bool eth_parse(const uint8_t *frame, size_t length, struct eth_header *out) {
    if (length < ETH_HEADER_LEN) return false;
    __builtin_memcpy(out->destination, frame, ETH_ADDR_LEN);
    __builtin_memcpy(out->source, frame + 6, ETH_ADDR_LEN);
    out->type = wire_get16(frame + 12);
    return true;
}

void eth_write(uint8_t *frame, const uint8_t destination[ETH_ADDR_LEN], const uint8_t source[ETH_ADDR_LEN], uint16_t type) {
    __builtin_memcpy(frame, destination, ETH_ADDR_LEN);
    __builtin_memcpy(frame + 6, source, ETH_ADDR_LEN);
    wire_put16(frame + 12, type);
}

bool eth_is_broadcast(const uint8_t address[ETH_ADDR_LEN]) {
    return __builtin_memcmp(address, eth_broadcast, ETH_ADDR_LEN) == 0;
}

bool eth_is_multicast(const uint8_t address[ETH_ADDR_LEN]) { return (address[0] & 1) != 0; }

bool eth_equal(const uint8_t a[ETH_ADDR_LEN], const uint8_t b[ETH_ADDR_LEN]) {
    return __builtin_memcmp(a, b, ETH_ADDR_LEN) == 0;
}

void eth_format(const uint8_t address[ETH_ADDR_LEN], char text[18]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < ETH_ADDR_LEN; i++) {
        text[3 * i] = digits[address[i] >> 4];
        text[3 * i + 1] = digits[address[i] & 15];
        text[3 * i + 2] = i == ETH_ADDR_LEN - 1 ? 0 : ':';
    }
}
