/* net/wire/udp_wire.c: UDP datagrams (RFC 768). */
#include "net/wire/udp_wire.h"
#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

enum udp_parse_result udp_parse(const uint8_t *datagram, size_t length, const struct ip_addr *source,
                                const struct ip_addr *destination, struct udp_header *out) {
    if (length < UDP_HEADER_LEN) return UDP_TOO_SHORT;
    uint16_t udp_length = wire_get16(datagram + 4);
    if (udp_length < UDP_HEADER_LEN || udp_length > length) return UDP_BAD_LENGTH;
    if (source->family != destination->family || source->family == IP_FAMILY_ANY) return UDP_BAD_CHECKSUM;
    bool v6 = source->family == IP_FAMILY_V6;
    if (wire_get16(datagram + 6) != 0) {
        uint32_t sum = checksum_pseudo(source, destination, UDP_PROTOCOL, udp_length);
        if (checksum_finish(checksum_add(sum, datagram, udp_length)) != 0) return UDP_BAD_CHECKSUM;
    } else if (v6) {
        return UDP_BAD_CHECKSUM;
    }
    out->source_port = wire_get16(datagram);
    out->destination_port = wire_get16(datagram + 2);
    out->data = datagram + UDP_HEADER_LEN;
    out->data_length = udp_length - UDP_HEADER_LEN;
    return UDP_OK;
}

void udp_write(uint8_t *datagram, uint16_t source_port, uint16_t destination_port, size_t data_length,
               const struct ip_addr *source, const struct ip_addr *destination) {
    uint16_t udp_length = (uint16_t)(UDP_HEADER_LEN + data_length);
    wire_put16(datagram, source_port);
    wire_put16(datagram + 2, destination_port);
    wire_put16(datagram + 4, udp_length);
    wire_put16(datagram + 6, 0);
    uint32_t sum = checksum_pseudo(source, destination, UDP_PROTOCOL, udp_length);
    uint16_t checksum = checksum_finish(checksum_add(sum, datagram, udp_length));
    wire_put16(datagram + 6, checksum == 0 ? 0xffff : checksum);
}
