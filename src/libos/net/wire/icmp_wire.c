/* net/wire/icmp_wire.c: ICMPv4 messages (RFC 792). */
#include "net/wire/icmp_wire.h"
#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

bool icmp_parse(const uint8_t *message, size_t length, struct icmp_header *out) {
    if (length < ICMP_HEADER_LEN) return false;
    if (checksum_finish(checksum_add(0, message, length)) != 0) return false;
    out->type = message[0];
    out->code = message[1];
    out->id = wire_get16(message + 4);
    out->sequence = wire_get16(message + 6);
    out->data = message + ICMP_HEADER_LEN;
    out->data_length = length - ICMP_HEADER_LEN;
    return true;
}

void icmp_write(uint8_t *message, uint8_t type, uint8_t code, uint16_t id, uint16_t sequence, size_t data_length) {
    message[0] = type;
    message[1] = code;
    wire_put16(message + 2, 0);
    wire_put16(message + 4, id);
    wire_put16(message + 6, sequence);
    wire_put16(message + 2, checksum_finish(checksum_add(0, message, ICMP_HEADER_LEN + data_length)));
}
