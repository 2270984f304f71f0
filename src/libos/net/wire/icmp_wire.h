/*
 * net/wire/icmp_wire.h: ICMPv4 messages (RFC 792): echo request/reply and destination
 * unreachable. The checksum covers the whole message.
 */
#ifndef NET_WIRE_ICMP_WIRE_H
#define NET_WIRE_ICMP_WIRE_H

#include "base/base.h"

#define ICMP_HEADER_LEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACHABLE 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_TIME_EXCEEDED 11

#define ICMP_CODE_PORT_UNREACHABLE 3

struct icmp_header {
    uint8_t type, code;
    uint16_t id, sequence; /* echo messages; for the others the "rest of header" word */
    const uint8_t *data;   /* after the 8-byte header */
    size_t data_length;
};

/* Parses an ICMP message; false if shorter than 8 bytes or its checksum is wrong. */
bool icmp_parse(const uint8_t *message, size_t length, struct icmp_header *out);
/* Writes the 8-byte header at `message` and the checksum over it and the `data_length` bytes
 * that follow it (already in place). */
void icmp_write(uint8_t *message, uint8_t type, uint8_t code, uint16_t id, uint16_t sequence, size_t data_length);

#endif
