/*
 * test/net/tcp_script.h: scripted TCP peers in the spirit of packetdrill.
 *
 * A script is a list of lines, each at a simulated time (seconds: "1.5" absolute, "+0.2" after
 * the previous line). Before a line runs, the stack's timers run up to its time, and every
 * segment the stack sent before then must have been expected by an earlier line: nothing is
 * sent unexpectedly. Lines:
 *
 *   T < FLAGS SEQ:END(LEN) [ack N] [win N] [<OPTIONS>] [sport P] [dport P] [sum4]
 *       a segment from the peer. FLAGS: S F R P U and . (ACK). SEQ is the peer's raw sequence
 *       number; ack N is relative to the stack's ISN (once it has sent a SYN). The payload is
 *       LEN bytes of the peer's pattern at its stream offset. win defaults to 65535. sum4: the
 *       checksum is computed over the IPv4 pseudo-header of 10.0.0.2 > 10.0.0.1, whatever the
 *       peer's family (wrong for an IPv6 peer).
 *   T > FLAGS SEQ:END(LEN) [ack N] [win N] [<OPTIONS>] [sport P] [dport P]
 *       the next segment the stack sent must be this, sent exactly at T: flags, sequence number
 *       (relative to the stack's ISN, learned from its first SYN), length, payload (the
 *       application's pattern), and ack / window / options / ports when given (sport is the
 *       stack's port here, as in the segment), between the stack's and the peer's addresses;
 *       its checksum is checked with the pseudo-header of their family.
 *   OPTIONS: mss N, wscale N, sackOK, TS val V ecr E (V or E may be *), nop, eol; built in
 *       that order (incoming; padded with EOL to a word) or compared byte for byte (outgoing).
 *       Outgoing TS val is relative to the stack's first TSval seen; incoming ecr the same.
 *
 *   T listen [PORT [BACKLOG]] | listen_at ADDR [PORT [BACKLOG]] | listen_close | accept
 *   T accept_again | connect | peer ADDR
 *   T send N [M] | send_again | send_err ERR | recv N | recv_again | recv_eof | recv_err ERR
 *   T shutdown | close | abort | nodelay
 *   T state NAME | error ERR | stat FIELD N | conns N | deadline T2|none | quiet
 *
 * The stack is 10.0.0.1, the peer 10.0.0.2:40000 (a passive test's client) talking to port
 * 8080; an active test connects to the peer at 8080 from an ephemeral port. `listen` listens on
 * any address of both families, `listen_at` on one. `peer ADDR` makes the following lines about
 * the peer at ADDR (IPv4 or IPv6), which talks to the stack's address of its family (10.0.0.1 or
 * fd00::1) from port 40000: each peer has its own connection, ISNs, timestamps and stream
 * offsets, kept while the script talks to another, so one script can drive connections of both
 * families side by side.
 */
#ifndef TEST_NET_TCP_SCRIPT_H
#define TEST_NET_TCP_SCRIPT_H

#include "net/tcp/tcp.h"

struct script;

/* The config the scripts use unless they say otherwise: MSS 1460, 64 KiB buffers (window
 * 65535), no window scaling or timestamps, 16 TCBs. */
struct tcp_config script_default_config(void);

struct script *script_start(const char *name, const struct tcp_config *config);
void script_line(struct script *script, const char *line);
/* Checks that nothing unexpected was sent, frees the stack and checks nothing leaked. */
void script_end(struct script *script);
/* All of `lines` (NULL-terminated) between start and end. */
void script_run(const char *name, const struct tcp_config *config, const char *const *lines);

struct tcp_stack *script_stack(struct script *script);
struct tcp_conn *script_conn(struct script *script);
uint64_t script_now(struct script *script);

#endif
