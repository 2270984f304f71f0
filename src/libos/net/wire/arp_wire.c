/* net/wire/arp_wire.c: ARP packets (RFC 826), Ethernet/IPv4 only. */
#include "net/wire/arp_wire.h"
#include "net/wire/bytes.h"

bool arp_parse(const uint8_t *data, size_t length, struct arp_packet *out) {
    if (length < ARP_PACKET_LEN) return false;
    if (wire_get16(data) != 1 || wire_get16(data + 2) != ETHERTYPE_IPV4 || data[4] != ETH_ADDR_LEN || data[5] != 4) return false;
    out->operation = wire_get16(data + 6);
    __builtin_memcpy(out->sender_mac, data + 8, ETH_ADDR_LEN);
    out->sender_ip = wire_get32(data + 14);
    __builtin_memcpy(out->target_mac, data + 18, ETH_ADDR_LEN);
    out->target_ip = wire_get32(data + 24);
    return true;
}

void arp_write(uint8_t *data, const struct arp_packet *packet) {
    wire_put16(data, 1);
    wire_put16(data + 2, ETHERTYPE_IPV4);
    data[4] = ETH_ADDR_LEN;
    data[5] = 4;
    wire_put16(data + 6, packet->operation);
    __builtin_memcpy(data + 8, packet->sender_mac, ETH_ADDR_LEN);
    wire_put32(data + 14, packet->sender_ip);
    __builtin_memcpy(data + 18, packet->target_mac, ETH_ADDR_LEN);
    wire_put32(data + 24, packet->target_ip);
}
