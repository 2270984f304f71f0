/*
 * net/tcp/tcp.h: TCP (RFC 9293) for one host, as portable C with no clock and no threads.
 *
 * A struct tcp_stack holds every TCB, listener, statistic and secret of one host; there is no
 * global state. The stack is driven from outside and never blocks:
 *   - tcp_input() takes each segment the IPv4 or IPv6 layer delivers (header + payload, with its
 *     addresses as struct ip_addr) and may emit segments and notifications;
 *   - tcp_timers(now) runs whatever is due; tcp_next_deadline() says when to call it next;
 *   - the API calls (listen, connect, send, recv, shutdown, close, abort) act at once.
 * Every entry point that needs the time takes `now_ns` (monotonic nanoseconds); times passed in
 * must never decrease. Segments leave through the tcp_output_fn given to tcp_stack_new, which
 * gets a finished segment (checksum filled in for the given addresses) and must not call back
 * into the stack. Notification functions (tcp_set_notify, tcp_listener_set_notify) are called
 * from inside the stack and must not call into it either: they should only wake whoever waits
 * (a fiber, a promise), which then calls the API.
 *
 * Handles. tcp_connect and tcp_accept return a struct tcp_conn that the caller holds until it
 * calls tcp_close or tcp_abort; until then the pointer stays valid whatever happens to the
 * connection (a reset leaves it CLOSED with tcp_conn_error() set). After tcp_close the TCB
 * lives on without a handle, as RFC 9293 requires (sending queued data and FIN, FIN_WAIT_2,
 * TIME_WAIT), and is freed by the stack when it reaches CLOSED. A listener stays valid until
 * tcp_listener_close. tcp_stack_free frees everything, handles included.
 *
 * Invariants (checked by tcp_stack_check, which the tests and the fuzzer call):
 *   - for every TCB: SND.UNA ≤ SND.NXT ≤ SND.MAX (modulo 2^32), and the send buffer holds
 *     exactly the bytes from SND.UNA (after the SYN) to the end of the queued data;
 *   - for every TCB: its local and remote addresses are of one family (IPv4 or IPv6), and its
 *     segments carry at most that family's MSS of payload;
 *   - the receive buffer holds at most receive_buffer bytes, in order; out-of-order data lies
 *     beyond RCV.NXT within the same buffer, never past its end;
 *   - the advertised window's right edge (RCV.NXT + RCV.WND) never moves left;
 *   - the number of TCBs (handshaking, established, closing, TIME_WAIT, and CLOSED ones still
 *     held by a handle) never exceeds max_connections; a listener's half-open plus
 *     not-yet-accepted connections never exceed its backlog;
 *   - the stack's cached earliest deadline (what tcp_next_deadline answers without a scan) is
 *     the earliest of its TCBs' deadlines, unless marked stale.
 *
 * Addresses (net/ip_addr.h). The stack is dual: every TCB, listener and segment carries
 * `struct ip_addr` values, and a connection's two addresses are of one family (IPv4 or IPv6).
 * The checksum uses that family's pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1). config.mss is
 * the IPv4 MSS (MTU - 40); an IPv6 connection announces config.mss - 20 (MTU - 60: the header is
 * 20 bytes longer) and clamps the peer's MSS to that. A listener on IP_FAMILY_ANY takes SYNs of
 * both families; one on a given address takes only SYNs to that address.
 *
 * Errors are base/err.h codes: ERR_AGAIN (would block), ERR_CONNREFUSED, ERR_CONNRESET,
 * ERR_CONNABORTED, ERR_TIMEOUT, ERR_NOTCONN, ERR_ADDRINUSE, ERR_NOMEM, ERR_INVAL.
 *
 * Choices (docs/net-tcp.md has the rest): MSL 30 s, so TIME_WAIT lasts 60 s; RTO initial 1 s,
 * floor 200 ms (as Linux), ceiling 60 s; 15 data retransmissions, 6 SYN and 5 SYN-ACK
 * retransmissions before giving up with ERR_TIMEOUT; delayed ACKs after 40 ms or at the second
 * full segment; initial window 10 segments (RFC 6928), 1 after a lost SYN; an orphaned
 * FIN_WAIT_2 (closed handle) gives up after 60 s. No SACK, no ECN, no keepalive, no urgent
 * data (URG is ignored and the data treated as ordinary, RFC 6093).
 */
#ifndef NET_TCP_H
#define NET_TCP_H

#include "base/base.h"
#include "base/err.h"
#include "net/ip_addr.h"

struct tcp_stack;    /* all TCP state of one host */
struct tcp_conn;     /* one connection (TCB) */
struct tcp_listener; /* one passive open */

enum tcp_state {
    TCP_CLOSED,
    TCP_LISTEN,
    TCP_SYN_SENT,
    TCP_SYN_RECEIVED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
};

struct tcp_config {
    uint16_t mss;             /* our IPv4 MSS to announce (1460 for Ethernet; IPv6 gets 20 less); 64..65495 */
    uint32_t send_buffer;     /* bytes, per connection (bounded); 1..1 GiB */
    uint32_t receive_buffer;  /* bytes, per connection (bounded); 1..1 GiB; the window follows it */
    bool window_scaling;      /* offer RFC 7323 options; used only when the peer offers them too */
    bool timestamps;
    uint32_t max_connections; /* TCBs at most, including half-open and TIME_WAIT; >= 1 */
};

/* Sends one segment: `segment` is the TCP header + payload with the checksum filled in for
 * `src` and `dst` (one family, never IP_FAMILY_ANY). */
typedef void (*tcp_output_fn)(void *ctx, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment,
                              size_t length);

/* A new stack, or NULL (out of memory, or a config value out of range). */
struct tcp_stack *tcp_stack_new(const struct tcp_config *config, tcp_output_fn output, void *ctx);
/* Frees every TCB, listener and handle without sending anything. */
void tcp_stack_free(struct tcp_stack *stack);

/* A segment from IPv4 or IPv6 (the IP layer already checked its header; `src` and `dst` of
 * one family). Checks the checksum and the header; bad segments are dropped and counted. */
void tcp_input(struct tcp_stack *stack, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment,
               size_t length, uint64_t now_ns);

void tcp_timers(struct tcp_stack *stack, uint64_t now_ns); /* runs what is due */
uint64_t tcp_next_deadline(struct tcp_stack *stack); /* UINT64_MAX: none */

/* Passive open on `addr` (IP_FAMILY_ANY: any local address of either family) and `port` (1..65535). `backlog` bounds the
 * half-open plus established-but-not-accepted connections (at least 1); SYNs beyond it are
 * dropped silently so the peer retries. ERR_ADDRINUSE if a listener overlaps, ERR_INVAL,
 * ERR_NOMEM. */
int tcp_listen(struct tcp_stack *stack, const struct ip_addr *addr, uint16_t port, unsigned backlog,
               struct tcp_listener **out);
/* The next established connection (the caller now holds it), or ERR_AGAIN. */
int tcp_accept(struct tcp_listener *listener, struct tcp_conn **out);
/* Active open from `src` (an ephemeral port is chosen) to dst:dst_port, both addresses of one
 * family (not IP_FAMILY_ANY: the caller picks the source address); sends the SYN.
 * The handle is returned at once in SYN_SENT; the outcome arrives as a notification (state
 * ESTABLISHED, or CLOSED with ERR_CONNREFUSED / ERR_TIMEOUT). ERR_NOMEM (no memory or
 * max_connections TCBs exist and none is in TIME_WAIT), ERR_ADDRINUSE (no free port), ERR_INVAL. */
int tcp_connect(struct tcp_stack *stack, const struct ip_addr *src, const struct ip_addr *dst, uint16_t dst_port,
                uint64_t now_ns, struct tcp_conn **out);

/* Queues data: bytes queued (may be < length), ERR_AGAIN if the send buffer is full, ERR_NOTCONN
 * after tcp_shutdown or when closed, or the error that ended the connection. Data may be
 * queued in SYN_SENT/SYN_RECEIVED; it is sent once established. */
long tcp_send(struct tcp_conn *conn, const void *data, size_t length, uint64_t now_ns);
/* Reads data: bytes (> 0), 0 at end of stream (FIN received and all read), ERR_AGAIN when
 * nothing is there yet, or the error that ended the connection. */
long tcp_recv(struct tcp_conn *conn, void *data, size_t length, uint64_t now_ns);
/* Half-close: sends FIN after the queued data (FIN_WAIT_1 / LAST_ACK). 0, or ERR_NOTCONN. */
int tcp_shutdown(struct tcp_conn *conn, uint64_t now_ns);
/* Releases the handle. The TCB lives on (queued data, FIN, FIN_WAIT/TIME_WAIT) as RFC 9293
 * says; if unread data is waiting (or data arrives later) the connection is reset instead. */
void tcp_close(struct tcp_conn *conn, uint64_t now_ns);
/* Sends RST (when synchronized), frees the TCB and releases the handle. */
void tcp_abort(struct tcp_conn *conn, uint64_t now_ns);
/* Stops listening; half-open and not-yet-accepted connections are reset. */
void tcp_listener_close(struct tcp_listener *listener);

/* Readiness: fn(arg) is called whenever the connection may have become readable, writable,
 * connected, or closed/failed (from tcp_input, tcp_timers and API calls), so a socket layer can
 * wake waiting fibers. Not called after the handle is released. fn may be NULL. */
void tcp_set_notify(struct tcp_conn *conn, void (*fn)(void *arg), void *arg);
/* Called when a connection is ready to be accepted. */
void tcp_listener_set_notify(struct tcp_listener *listener, void (*fn)(void *arg), void *arg);

/* Extension: disables Nagle's algorithm (TCP_NODELAY) when `nodelay`. */
void tcp_set_nodelay(struct tcp_conn *conn, bool nodelay);

enum tcp_state tcp_conn_state(const struct tcp_conn *conn);
const char *tcp_state_name(enum tcp_state state);
int tcp_conn_error(const struct tcp_conn *conn); /* the error that ended it, or 0 */
/* Any pointer may be NULL. */
void tcp_conn_endpoints(const struct tcp_conn *conn, struct ip_addr *local, uint16_t *local_port, struct ip_addr *remote,
                        uint16_t *remote_port);

struct tcp_stats {
    uint64_t segments_in;        /* every segment given to tcp_input */
    uint64_t segments_out;       /* every segment sent */
    uint64_t retransmissions;    /* segments sent again (RTO, fast retransmit, SYN) */
    uint64_t fast_retransmits;   /* fast retransmit / NewReno partial-ACK retransmissions */
    uint64_t timeouts;           /* retransmission timer expirations */
    uint64_t resets_in;          /* RSTs that ended a connection */
    uint64_t resets_out;         /* RSTs sent */
    uint64_t bad_checksums;
    uint64_t malformed;          /* header or options malformed, or port 0 */
    uint64_t dropped;            /* well-formed segments discarded (unacceptable, stale, ...) */
    uint64_t challenge_acks;     /* RFC 5961 */
    uint64_t listen_overflows;   /* SYNs dropped: backlog or max_connections reached */
    uint64_t out_of_order;       /* segments queued out of order */
    uint64_t persist_probes;     /* zero-window probes sent */
    uint64_t active_opens;
    uint64_t passive_opens;
    uint64_t aborts_timeout;     /* connections ended by ERR_TIMEOUT */
    uint32_t connections;        /* TCBs now */
    uint32_t established;        /* ESTABLISHED or CLOSE_WAIT now */
    uint32_t time_wait;          /* TIME_WAIT now */
};
void tcp_get_stats(const struct tcp_stack *stack, struct tcp_stats *out);

/* Extension for tests: checks the invariants above on every TCB; 0, or -1 with *what set to a
 * static description of the first broken one. */
int tcp_stack_check(const struct tcp_stack *stack, const char **what);

#endif
