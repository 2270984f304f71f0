/*
 * net/wire/tcp_wire.h: the TCP header (RFC 9293 §3.1) and its options, parsed and built.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------------------------------+-------------------------------+
 *   |          Source Port          |       Destination Port        |
 *   +-------------------------------+-------------------------------+
 *   |                        Sequence Number                        |
 *   +---------------------------------------------------------------+
 *   |                    Acknowledgment Number                      |
 *   +-------+-------+---------------+-------------------------------+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   +-------+-------+---------------+-------------------------------+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-------------------------------+-------------------------------+
 *   |                    Options (0 to 40 bytes)                    |
 *
 * Parsing checks every length before reading: the data offset must be at least 5 words and
 * within the segment, and every option must fit in the option area with the length its kind
 * requires (MSS 4, window scale 3, SACK-permitted 2, timestamps 10; other kinds need a length
 * of at least 2). A segment that breaks any of these is malformed: tcp_wire_parse fails and
 * the caller drops and counts it. Unknown options are skipped by their length; SACK blocks are
 * skipped (this stack does not use SACK).
 *
 * Options are built in the layout Linux uses, padded with NOPs to whole words:
 *   SYN:      MSS(4) [NOP NOP TS(10)] [NOP WS(3)]
 *   others:   [NOP NOP TS(10)]
 */
#ifndef NET_WIRE_TCP_WIRE_H
#define NET_WIRE_TCP_WIRE_H

#include "base/base.h"
#include "net/ip_addr.h"

#define TCP_HEADER_MIN 20
#define TCP_OPTIONS_MAX 40
#define TCP_HEADER_MAX (TCP_HEADER_MIN + TCP_OPTIONS_MAX)
#define TCP_PROTOCOL 6 /* IPv4 protocol number, IPv6 next header */

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define TCP_FLAG_URG 0x20
#define TCP_FLAG_ECE 0x40
#define TCP_FLAG_CWR 0x80

#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_WSCALE 3
#define TCP_OPT_SACK_PERMITTED 4
#define TCP_OPT_SACK 5
#define TCP_OPT_TIMESTAMPS 8

#define TCP_WSCALE_MAX 14   /* RFC 7323 §2.3: larger shifts are treated as 14 */
#define TCP_TS_OPTION_SPACE 12 /* NOP NOP TS: what timestamps cost every segment */

struct tcp_options {
    bool has_mss;
    bool has_wscale;
    bool sack_permitted;
    bool has_timestamps;
    uint16_t mss;
    uint8_t wscale;   /* as received (not yet clamped to TCP_WSCALE_MAX) */
    uint32_t ts_val;
    uint32_t ts_ecr;
};

/* A parsed (or to-be-built) header; ports and numbers in host order. */
struct tcp_header {
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;            /* TCP_FLAG_* */
    uint16_t window;          /* as on the wire (not scaled) */
    uint16_t checksum;
    uint16_t urgent;
    uint16_t header_length;   /* bytes, including options (parse only) */
    struct tcp_options options;
};

#define TCP_WIRE_OK 0
#define TCP_WIRE_SHORT (-1)      /* shorter than the fixed header */
#define TCP_WIRE_BAD_OFFSET (-2) /* data offset < 5 words or beyond the segment */
#define TCP_WIRE_BAD_OPTION (-3) /* an option overruns the area or has the wrong length */

/* Parses the header of `segment` (`length` bytes). TCP_WIRE_OK or a TCP_WIRE_* error; the
 * payload is segment + out->header_length. Does not check the checksum. */
int tcp_wire_parse(const uint8_t *segment, size_t length, struct tcp_header *out);

/* Parses an option area alone (`length` ≤ 40 bytes): TCP_WIRE_OK or TCP_WIRE_BAD_OPTION. */
int tcp_wire_parse_options(const uint8_t *area, size_t length, struct tcp_options *out);

/* Writes `options` into `out` (room for TCP_OPTIONS_MAX bytes) in the layout above; returns
 * the byte count, a multiple of 4. MSS and window scale are written only when `syn`. */
size_t tcp_wire_write_options(uint8_t *out, const struct tcp_options *options, bool syn);

/* Writes the header with its options at `out` (room for TCP_HEADER_MAX bytes), checksum field
 * zero; returns the header length. */
size_t tcp_wire_write_header(uint8_t *out, const struct tcp_header *header, bool syn_options);

/* True when the checksum of `segment` (header + payload, as from the IP layer) is right for the
 * pseudo-header of the addresses' family (IPv4 or IPv6, both the same; at most 65535 bytes). */
bool tcp_wire_checksum_ok(const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment, size_t length);

/* Computes and stores the checksum of a built segment (header + payload, contiguous). */
void tcp_wire_set_checksum(const struct ip_addr *src, const struct ip_addr *dst, uint8_t *segment, size_t length);

#endif
