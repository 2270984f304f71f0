/*
 * net/tcp/tcp_internal.h: the TCB and what the TCP files share (not for other layers).
 *
 * Files: tcp.c (stack, demultiplexing, ISNs, the API), tcp_input.c (segment arrival, RFC 9293
 * §3.10.7), tcp_output.c (what to send and building segments), tcp_timer.c (RTO, persist,
 * delayed ACK, TIME_WAIT), tcp_buffer.c (byte rings and out-of-order ranges).
 *
 * Sequence space of a TCB:
 *
 *     ISS   snd_buf_seq                                       fin_seq
 *      |SYN|  sent and acked | sent, not acked | not sent yet  |FIN|
 *               (freed)      ^ SND.UNA         ^ SND.NXT (SND.MAX ≥ SND.NXT: highest sent)
 *
 * The send ring holds the bytes from snd_buf_seq (= SND.UNA once the SYN is acked, except that
 * an acked FIN makes SND.UNA = fin_seq + 1) to the end of the queued data; the FIN, when
 * queued (fin_queued), has sequence number fin_seq = snd_buf_seq + ring length. After an RTO
 * SND.NXT goes back to SND.UNA and segments below SND.MAX are retransmissions.
 *
 * The receive ring holds the bytes read in order but not yet by the user; the byte with
 * sequence number s ≥ RCV.NXT lives at ring offset len + (s - RCV.NXT), which is where
 * out-of-order data is written (its extent recorded in `ooo`, sorted, disjoint, non-adjacent),
 * so reassembly only extends the ring's length.
 *
 * Timers are absolute deadlines in ns, TCP_NEVER when off; persist and retransmission are
 * never both on.
 */
#ifndef NET_TCP_INTERNAL_H
#define NET_TCP_INTERNAL_H

#include "net/net_env.h"
#include "net/tcp/tcp.h"
#include "net/wire/tcp_wire.h"

#define TCP_NEVER UINT64_MAX
#define TCP_MS 1000000ull
#define TCP_SEC 1000000000ull

#define TCP_MSL (30 * TCP_SEC)                 /* maximum segment lifetime: TIME_WAIT = 2*MSL */
#define TCP_RTO_INITIAL (1 * TCP_SEC)          /* RFC 6298 (2.1) */
#define TCP_RTO_MIN (200 * TCP_MS)             /* Linux's floor, not RFC 6298's 1 s */
#define TCP_RTO_MAX (60 * TCP_SEC)             /* RFC 6298 (2.5) allows a ceiling ≥ 60 s */
#define TCP_RTO_AFTER_SYN_LOSS (3 * TCP_SEC)   /* RFC 6298 (5.7) */
#define TCP_CLOCK_GRANULARITY (1 * TCP_MS)     /* G of RFC 6298 */
#define TCP_MAX_RETRIES 15                     /* data/FIN retransmissions before ERR_TIMEOUT */
#define TCP_SYN_RETRIES 6
#define TCP_SYNACK_RETRIES 5
#define TCP_PERSIST_MIN (200 * TCP_MS)
#define TCP_PERSIST_MAX (60 * TCP_SEC)
#define TCP_DELACK (40 * TCP_MS)
#define TCP_FIN_WAIT_2_TIMEOUT (60 * TCP_SEC)  /* orphans only */
#define TCP_DEFAULT_MSS 536                    /* RFC 9293 §3.7.1 when the peer sends none */
#define TCP_MIN_PEER_MSS 64                    /* smaller announced values are raised to this */
#define TCP_INITIAL_WINDOW_SEGMENTS 10         /* RFC 6928 */
#define TCP_OOO_RANGES 16                      /* out-of-order holes tracked per connection */
#define TCP_CHALLENGE_ACKS_PER_SEC 100         /* RFC 5961 §7, per connection */
#define TCP_TS_MAX_IDLE (24ull * 24 * 3600 * TCP_SEC) /* RFC 7323 §5.5: TS.Recent expires */
#define TCP_EPHEMERAL_FIRST 49152
#define TCP_EPHEMERAL_COUNT 16384

/* Sequence-number comparisons modulo 2^32 (RFC 9293 §3.4). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }

/* A byte ring of fixed capacity; `data` is NULL before tcp_conn_buffers and once released. */
struct tcp_ring {
    uint8_t *data;
    uint32_t capacity;
    uint32_t head; /* offset of the first byte */
    uint32_t length;
};

struct tcp_range {
    uint32_t start; /* sequence numbers [start, end) */
    uint32_t end;
};

struct tcp_conn {
    struct list_node link;       /* stack->conns, or stack->dead once destroyed */
    struct list_node hash_link;  /* stack->buckets[], while the 4-tuple is in use */
    struct list_node queue_link; /* listener->pending or ->ready while the listener owns it */
    struct tcp_stack *stack;
    struct tcp_listener *listener; /* the owning listener until accepted */

    enum tcp_state state;
    int error;
    bool has_handle;   /* the user holds it (after connect / accept, until close / abort) */
    bool passive;      /* opened by a listener: a RST in SYN_RECEIVED just deletes it */
    bool fin_queued;   /* the user shut down sending: FIN at fin_seq */
    bool fin_received; /* the peer's FIN was read in order */
    bool rcv_closed;   /* handle closed: data arriving now is answered with RST */
    bool nodelay;
    bool ack_now;      /* an ACK must go out at the next output */
    bool dead;         /* destroyed: on stack->dead, freed at the end of the entry point */
    bool syn_retransmitted;
    bool ws_ok;        /* window scaling negotiated */
    bool ts_ok;        /* timestamps negotiated */
    bool in_recovery;  /* NewReno fast recovery (RFC 6582) */
    bool partial_ack_seen;
    bool rtt_timing;   /* rtt_seq is being timed (no timestamps) */
    bool rtt_valid;    /* srtt/rttvar hold at least one sample */
    bool ooo_fin;      /* a FIN arrived out of order at ooo_fin_seq */

    struct ip_addr local, remote; /* one family, never IP_FAMILY_ANY */
    uint16_t local_port, remote_port;
    uint16_t mss;          /* ours for this family (tcp_family_mss): announced, and SND.MSS's cap */

    /* send side */
    uint32_t iss, snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd;      /* peer's window, scaled */
    uint32_t max_snd_wnd;  /* largest window seen (sender SWS, RFC 5961 §5 ACK check) */
    uint32_t snd_wl1, snd_wl2;
    uint32_t snd_buf_seq;  /* sequence number of the send ring's first byte */
    uint32_t snd_sml;      /* end of the last segment shorter than SND.MSS (Minshall's Nagle) */
    struct tcp_ring send;
    uint16_t peer_mss;     /* as announced (default 536, at least TCP_MIN_PEER_MSS) */
    uint16_t snd_mss;      /* payload per segment: min(peer, ours) minus option space */
    uint8_t snd_wscale, rcv_wscale;

    /* receive side */
    uint32_t irs, rcv_nxt;
    uint32_t rcv_adv;       /* right edge of the window we advertised */
    uint32_t last_ack_sent; /* RCV.NXT in our last ACK (RFC 7323 TS.Recent rule) */
    uint32_t syn_window;    /* window in our SYN (SYN_SENT: rcv_adv once IRS is known) */
    struct tcp_ring recv;
    struct tcp_range ooo[TCP_OOO_RANGES];
    uint8_t ooo_count;
    uint32_t ooo_fin_seq;
    uint32_t rcv_unacked;   /* in-order bytes received since our last ACK */
    uint16_t rcv_mss;       /* largest segment payload seen (delayed-ACK "full segment") */

    /* timestamps (RFC 7323) */
    uint32_t ts_offset;     /* added to the ms clock: random per connection (§5.4) */
    uint32_t ts_recent;
    uint64_t ts_recent_time;

    /* round trip (RFC 6298) */
    uint64_t srtt, rttvar, rto;
    uint32_t rtt_seq;
    uint64_t rtt_start;
    uint8_t retries;         /* consecutive RTO expirations */
    uint8_t persist_backoff;
    uint8_t probes;          /* zero-window probes since the peer last ACKed anything */

    /* congestion control (RFC 5681, RFC 6582) */
    uint32_t cwnd, ssthresh;
    uint32_t bytes_acked;    /* congestion avoidance: bytes acked since cwnd last grew */
    uint32_t recover;
    uint8_t dupacks;

    /* timers */
    uint64_t rto_deadline;
    uint64_t persist_deadline;
    uint64_t delack_deadline;
    uint64_t close_deadline;   /* TIME_WAIT end, or an orphan's FIN_WAIT_2 limit */
    uint64_t last_send;        /* when a segment last carried data (idle restart) */

    /* RFC 5961 §7 rate limit */
    uint64_t challenge_window;
    uint32_t challenge_count;

    void (*notify_fn)(void *arg);
    void *notify_arg;
};

struct tcp_listener {
    struct list_node link;    /* stack->listeners */
    struct tcp_stack *stack;
    struct ip_addr addr;      /* IP_FAMILY_ANY: every local address of both families */
    uint16_t port;
    unsigned backlog;
    unsigned count;           /* pending + ready */
    struct list_node pending; /* SYN_RECEIVED */
    struct list_node ready;   /* established, not yet accepted (FIFO) */
    void (*notify_fn)(void *arg);
    void *notify_arg;
};

struct tcp_stack {
    struct tcp_config config;
    tcp_output_fn output;
    void *output_ctx;
    struct list_node conns;     /* live TCBs */
    struct list_node dead;      /* destroyed TCBs not yet freed */
    struct list_node listeners;
    struct list_node *buckets;  /* 4-tuple hash */
    uint32_t bucket_mask;
    uint32_t conn_count;        /* TCBs on conns (counts against max_connections) */
    uint8_t rcv_wscale;         /* the shift we offer for config.receive_buffer */
    uint8_t isn_key[16];        /* RFC 6528 secret */
    uint32_t hash_seed;
    uint32_t next_port;         /* ephemeral port search start */
    uint64_t now;               /* the latest time given to an entry point */
    uint64_t next_deadline;     /* the earliest deadline of any TCB, unless next_deadline_stale */
    bool next_deadline_stale;   /* a TCB's deadline that was the earliest moved later: rescan */
    struct tcp_stats stats;
    uint8_t *segment;           /* TCP_HEADER_MAX + mss bytes: where segments are built */
};

/* ---- tcp_buffer.c -------------------------------------------------------------------- */
int tcp_ring_init(struct tcp_ring *ring, uint32_t capacity);
void tcp_ring_release(struct tcp_ring *ring);
uint32_t tcp_ring_append(struct tcp_ring *ring, const uint8_t *data, uint32_t length);
/* Copies `length` bytes from `offset` (from the head) to `out`; offset + length ≤ capacity. */
void tcp_ring_read(const struct tcp_ring *ring, uint32_t offset, uint8_t *out, uint32_t length);
/* Writes at `offset` from the head without changing the length; offset + length ≤ capacity. */
void tcp_ring_write(struct tcp_ring *ring, uint32_t offset, const uint8_t *data, uint32_t length);
void tcp_ring_consume(struct tcp_ring *ring, uint32_t length);
/* Adds [start, end) to the out-of-order ranges (merging); false when the table is full. */
bool tcp_ooo_add(struct tcp_conn *conn, uint32_t start, uint32_t end);
/* After RCV.NXT moved: how far the ranges extend it contiguously (removes those ranges). */
uint32_t tcp_ooo_advance(struct tcp_conn *conn);

/* ---- tcp_output.c -------------------------------------------------------------------- */
/* Sends whatever is allowed and due: SYN, data, FIN, ACK, window update. */
void tcp_output(struct tcp_conn *conn, uint64_t now);
/* Sends one segment at `seq` carrying `length` bytes of queued data. */
void tcp_send_segment(struct tcp_conn *conn, uint32_t seq, uint8_t flags, uint32_t length, uint64_t now);
/* Retransmits the first unacknowledged segment (fast retransmit, partial ACK). */
void tcp_retransmit_first(struct tcp_conn *conn, uint64_t now);
/* Persist: one byte into a zero window (or whatever the window allows). */
void tcp_output_probe(struct tcp_conn *conn, uint64_t now);
void tcp_send_ack(struct tcp_conn *conn, uint64_t now);
void tcp_send_rst(struct tcp_conn *conn, uint64_t now);
/* A RST with no TCB (RFC 9293 reset generation). */
void tcp_send_reset(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                    const struct ip_addr *remote, uint16_t remote_port, uint32_t seq, uint32_t ack, uint8_t flags);
/* The window to advertise now, in bytes (receiver SWS avoidance, never shrinking). */
uint32_t tcp_rcv_window(const struct tcp_conn *conn);
uint32_t tcp_ts_now(const struct tcp_conn *conn, uint64_t now);
uint32_t tcp_initial_window(const struct tcp_conn *conn);
bool tcp_fin_sent(const struct tcp_conn *conn);
bool tcp_fin_acked(const struct tcp_conn *conn);
static inline uint32_t tcp_fin_seq(const struct tcp_conn *conn) { return conn->snd_buf_seq + conn->send.length; }
static inline uint32_t tcp_flight(const struct tcp_conn *conn) { return conn->snd_max - conn->snd_una; }

/* ---- tcp_timer.c --------------------------------------------------------------------- */
void tcp_rto_start(struct tcp_conn *conn, uint64_t now);
void tcp_rto_stop(struct tcp_conn *conn);
void tcp_persist_start(struct tcp_conn *conn, uint64_t now);
void tcp_rtt_sample(struct tcp_conn *conn, uint64_t rtt_ns);
void tcp_conn_timers(struct tcp_conn *conn, uint64_t now);
uint64_t tcp_conn_deadline(const struct tcp_conn *conn);
/* Every write of a TCB's timer deadlines goes through these two, so that tcp_next_deadline —
 * which the scheduler's poller asks at every scheduling point — is a cached value, kept exact,
 * not a scan of every connection. */
void tcp_set_deadline(struct tcp_conn *conn, uint64_t *deadline, uint64_t when);
void tcp_clear_deadlines(struct tcp_conn *conn);

/* ---- tcp.c --------------------------------------------------------------------------- */
void tcp_notify(struct tcp_conn *conn);
/* Frees the TCBs destroyed during this entry point (called last by every entry point). */
void tcp_reap(struct tcp_stack *stack);
/* The connection has ended: state CLOSED with `error` (0 for a graceful end); buffers and
 * timers released; freed at the end of the entry point unless a handle holds it. */
void tcp_conn_finish(struct tcp_conn *conn, int error);
void tcp_enter_time_wait(struct tcp_conn *conn, uint64_t now);
/* SYN_SENT/SYN_RECEIVED → ESTABLISHED (with the buffers); false if memory ran out and the
 * connection was reset instead. */
bool tcp_conn_established(struct tcp_conn *conn, uint64_t now);
/* Allocates the rings that are not there yet: 0 or ERR_NOMEM. */
int tcp_conn_buffers(struct tcp_conn *conn);
void tcp_challenge_ack(struct tcp_conn *conn, uint64_t now);
struct tcp_conn *tcp_lookup(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                            const struct ip_addr *remote, uint16_t remote_port);
/* The listener for a SYN to local:local_port: one on exactly that address, else one on
 * IP_FAMILY_ANY, else NULL. */
struct tcp_listener *tcp_find_listener(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port);
/* A new TCB in CLOSED for the 4-tuple, hashed and counted, without ring memory yet; NULL when
 * at the limit (after trying to reuse the oldest TIME_WAIT TCB) or out of memory. */
struct tcp_conn *tcp_conn_new(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                              const struct ip_addr *remote, uint16_t remote_port, uint64_t now);
uint32_t tcp_isn(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                 const struct ip_addr *remote, uint16_t remote_port, uint64_t now);
/* The MSS we announce for a family: config.mss for IPv4, 20 less for IPv6 (its header is 40
 * bytes, not 20), but never below TCP_MIN_PEER_MSS. */
uint16_t tcp_family_mss(const struct tcp_stack *stack, uint8_t family);
/* Takes the peer's SYN options (MSS, window scale, timestamps) into the TCB. */
void tcp_apply_syn_options(struct tcp_conn *conn, const struct tcp_options *options, uint64_t now);

/* ---- tcp_input.c --------------------------------------------------------------------- */
void tcp_listen_input(struct tcp_listener *listener, const struct ip_addr *src, const struct ip_addr *dst,
                      const struct tcp_header *header, uint32_t data_length, uint64_t now);

#endif
