/*
 * net/tcp/tcp_output.c: deciding what to send, and building segments.
 *
 * tcp_output() is called after anything that may allow or require a segment: new data queued,
 * an ACK or window update received, data read by the user, a timer. It follows the shape of
 * BSD's tcp_output: send the SYN if due; otherwise as much queued data as the smaller of the
 * peer's window and cwnd allows, in segments of at most SND.MSS bytes, holding back a small
 * segment while an earlier small one is unacknowledged (Nagle, RFC 9293 §3.7.4, with
 * Minshall's refinement as in Linux) or while the window is
 * small (sender SWS avoidance, RFC 9293 §3.8.6.2.1); the FIN when the data before it has
 * gone; a pure ACK when one is owed; a window update when the user's reads opened the window
 * by two segments or half the buffer. When data waits but nothing can go and no
 * retransmission timer runs, the persist timer starts (zero-window probes, and the override
 * of sender SWS avoidance).
 */
#include "net/tcp/tcp_internal.h"

uint32_t tcp_ts_now(const struct tcp_conn *conn, uint64_t now) { return (uint32_t)(now / TCP_MS) + conn->ts_offset; }

bool tcp_fin_sent(const struct tcp_conn *conn) {
    return conn->fin_queued && seq_gt(conn->snd_max, tcp_fin_seq(conn));
}

bool tcp_fin_acked(const struct tcp_conn *conn) {
    return conn->fin_queued && seq_gt(conn->snd_una, tcp_fin_seq(conn));
}

/* RFC 6928: min(10*MSS, max(2*MSS, 14600)); one segment after a lost SYN (RFC 5681 §3.1). */
uint32_t tcp_initial_window(const struct tcp_conn *conn) {
    uint32_t mss = conn->snd_mss;
    if (conn->syn_retransmitted) return mss;
    return MIN(TCP_INITIAL_WINDOW_SEGMENTS * mss, MAX(2 * mss, 14600u));
}

uint32_t tcp_rcv_window(const struct tcp_conn *conn) {
    const struct tcp_ring *ring = &conn->recv;
    uint32_t space = ring->capacity - ring->length;
    uint32_t largest = (uint32_t)0xffff << conn->rcv_wscale;
    if (space > largest) space = largest;
    uint32_t offered = seq_gt(conn->rcv_adv, conn->rcv_nxt) ? conn->rcv_adv - conn->rcv_nxt : 0;
    if (space <= offered) return offered; /* never pull the right edge back */
    /* receiver SWS avoidance: open the window only by a useful amount */
    uint32_t step = MIN(ring->capacity / 2, (uint32_t)conn->mss);
    if (space - offered < step) return offered;
    return space;
}

/* Can data (and our FIN) be sent in this state? */
static bool sending_state(enum tcp_state state) {
    return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT || state == TCP_FIN_WAIT_1 || state == TCP_CLOSING ||
           state == TCP_LAST_ACK;
}

void tcp_send_segment(struct tcp_conn *conn, uint32_t seq, uint8_t flags, uint32_t length, uint64_t now) {
    struct tcp_stack *stack = conn->stack;
    struct tcp_header header;
    __builtin_memset(&header, 0, sizeof header);
    header.src_port = conn->local_port;
    header.dst_port = conn->remote_port;
    header.seq = seq;
    header.flags = flags;
    if (flags & TCP_FLAG_ACK) header.ack = conn->rcv_nxt;

    bool syn = flags & TCP_FLAG_SYN;
    uint32_t window = tcp_rcv_window(conn);
    if (flags & TCP_FLAG_RST) {
        header.window = 0;
    } else if (syn) {
        /* the window in a SYN is never scaled (RFC 7323 §2.2) */
        header.window = (uint16_t)MIN(window, 0xffffu);
        if (conn->state == TCP_SYN_SENT) conn->syn_window = header.window;
    } else {
        uint32_t shift = conn->rcv_wscale;
        uint32_t field = window >> shift;
        /* rounding down must not pull the edge back: round up instead (as Linux does) */
        if (seq_lt(conn->rcv_nxt + (field << shift), conn->rcv_adv)) field = (window + (1u << shift) - 1) >> shift;
        if (field > 0xffff) field = 0xffff;
        header.window = (uint16_t)field;
        window = field << shift;
    }
    if ((flags & TCP_FLAG_ACK) && !(flags & TCP_FLAG_RST)) {
        uint32_t edge = conn->rcv_nxt + (syn ? header.window : window);
        if (seq_gt(edge, conn->rcv_adv)) conn->rcv_adv = edge;
    }

    struct tcp_options *options = &header.options;
    if (syn) {
        bool offering = conn->state == TCP_SYN_SENT;
        options->has_mss = true;
        options->mss = conn->mss; /* the family's: IPv6 announces 20 less */
        if (offering ? stack->config.window_scaling : conn->ws_ok) {
            options->has_wscale = true;
            options->wscale = stack->rcv_wscale;
        }
        if (offering ? stack->config.timestamps : conn->ts_ok) {
            options->has_timestamps = true;
            options->ts_val = tcp_ts_now(conn, now);
            options->ts_ecr = (flags & TCP_FLAG_ACK) ? conn->ts_recent : 0;
        }
    } else if (conn->ts_ok && !(flags & TCP_FLAG_RST)) {
        options->has_timestamps = true;
        options->ts_val = tcp_ts_now(conn, now);
        options->ts_ecr = conn->ts_recent;
    }

    uint8_t *out = stack->segment;
    size_t header_length = tcp_wire_write_header(out, &header, syn);
    if (length > 0) tcp_ring_read(&conn->send, seq - conn->snd_buf_seq, out + header_length, length);
    size_t total = header_length + length;
    tcp_wire_set_checksum(&conn->local, &conn->remote, out, total);
    stack->output(stack->output_ctx, &conn->local, &conn->remote, out, total);

    stack->stats.segments_out++;
    if (flags & TCP_FLAG_RST) stack->stats.resets_out++;
    if ((length > 0 || (flags & (TCP_FLAG_SYN | TCP_FLAG_FIN))) && seq_lt(seq, conn->snd_max))
        stack->stats.retransmissions++;
    if (flags & TCP_FLAG_ACK) {
        conn->last_ack_sent = conn->rcv_nxt;
        conn->rcv_unacked = 0;
        conn->ack_now = false;
        tcp_set_deadline(conn, &conn->delack_deadline, TCP_NEVER);
    }
    if (length > 0) conn->last_send = now;
}

/* Bookkeeping after sending `span` sequence numbers at `seq` from SND.NXT. */
static void advance(struct tcp_conn *conn, uint32_t seq, uint32_t span, uint64_t now) {
    if (span < conn->snd_mss) conn->snd_sml = seq + span;
    conn->snd_nxt = seq + span;
    if (seq_gt(conn->snd_nxt, conn->snd_max)) {
        /* time one segment per round trip when timestamps don't do it, never a retransmitted
         * one (Karn) */
        if (!conn->ts_ok && !conn->rtt_timing && seq == conn->snd_max) {
            conn->rtt_timing = true;
            conn->rtt_seq = seq;
            conn->rtt_start = now;
        }
        conn->snd_max = conn->snd_nxt;
    }
    if (span > 0 && conn->rto_deadline == TCP_NEVER) {
        tcp_set_deadline(conn, &conn->persist_deadline, TCP_NEVER);
        tcp_rto_start(conn, now);
    }
}

/* Sends the SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED) if it is due. */
static void output_syn(struct tcp_conn *conn, uint64_t now) {
    if (conn->snd_nxt == conn->iss) {
        uint8_t flags = TCP_FLAG_SYN | (conn->state == TCP_SYN_RECEIVED ? TCP_FLAG_ACK : 0);
        tcp_send_segment(conn, conn->iss, flags, 0, now);
        advance(conn, conn->iss, 1, now);
    } else if (conn->ack_now && conn->state == TCP_SYN_RECEIVED) {
        tcp_send_ack(conn, now);
    }
}

/* One pass of the output decision: true if data went out and more may follow. */
static bool output_once(struct tcp_conn *conn, uint64_t now) {
    uint32_t buffered = conn->send.length;
    uint32_t offset = conn->snd_nxt - conn->snd_buf_seq; /* sent data (+1 once the FIN is) */
    uint32_t avail = 0, length = 0;
    bool fin = false, send = false;

    if (sending_state(conn->state)) {
        /* restart from the initial window after an idle RTO (RFC 5681 §4.1) */
        if (conn->snd_max == conn->snd_una && conn->last_send != 0 && now - conn->last_send > conn->rto)
            conn->cwnd = MIN(conn->cwnd, tcp_initial_window(conn));
        avail = offset < buffered ? buffered - offset : 0;
        uint32_t window = MIN(conn->snd_wnd, conn->cwnd);
        uint32_t in_flight = conn->snd_nxt - conn->snd_una;
        uint32_t usable = window > in_flight ? window - in_flight : 0;
        length = MIN(avail, usable);
        if (length > conn->snd_mss) length = conn->snd_mss;
        /* the FIN rides on the segment that ends the data (it needs no window, as in BSD) */
        fin = conn->fin_queued && conn->snd_nxt + length == tcp_fin_seq(conn);
        if (length > 0) {
            /* Nagle with Minshall's refinement (as Linux): a short segment waits only while an
             * earlier short one is unacknowledged */
            bool small_unacked = seq_gt(conn->snd_sml, conn->snd_una);
            bool all = offset + length == buffered;
            if (length == conn->snd_mss) send = true;
            else if ((!small_unacked || conn->nodelay) && all) send = true;
            else if (conn->max_snd_wnd > 0 && length >= conn->max_snd_wnd / 2) send = true;
            else if (seq_lt(conn->snd_nxt, conn->snd_max)) send = true; /* going back after an RTO */
        }
        if (fin) send = true;
    }

    if (send) {
        uint8_t flags = TCP_FLAG_ACK;
        if (fin) flags |= TCP_FLAG_FIN;
        if (length > 0 && offset + length == buffered) flags |= TCP_FLAG_PSH;
        uint32_t seq = conn->snd_nxt;
        tcp_send_segment(conn, seq, flags, length, now);
        advance(conn, seq, length + (fin ? 1 : 0), now);
        return length > 0 && !fin;
    }

    /* a window update when the user's reads opened the window far enough */
    if (!conn->fin_received && conn->state != TCP_TIME_WAIT) {
        uint32_t window = tcp_rcv_window(conn);
        uint32_t offered = seq_gt(conn->rcv_adv, conn->rcv_nxt) ? conn->rcv_adv - conn->rcv_nxt : 0;
        if (window > offered) {
            uint32_t more = window - offered;
            if (more >= 2u * conn->mss || 2ull * more >= conn->recv.capacity) conn->ack_now = true;
        }
    }
    if (conn->ack_now) tcp_send_ack(conn, now);
    /* data waits, nothing is in flight to clock it out: probe / override SWS later */
    if (avail > 0 && conn->rto_deadline == TCP_NEVER && conn->persist_deadline == TCP_NEVER) {
        conn->persist_backoff = 0;
        tcp_persist_start(conn, now);
    }
    return false;
}

void tcp_output(struct tcp_conn *conn, uint64_t now) {
    if (conn->dead) return;
    switch (conn->state) {
    case TCP_CLOSED:
    case TCP_LISTEN:
        return;
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        output_syn(conn, now);
        return;
    default:
        /* bounded anyway by the window; the cap only guards against a logic error */
        for (int i = 0; i < 100000 && output_once(conn, now); i++) {}
        return;
    }
}

void tcp_retransmit_first(struct tcp_conn *conn, uint64_t now) {
    if (!sending_state(conn->state)) return;
    uint32_t seq = conn->snd_una;
    uint32_t offset = seq - conn->snd_buf_seq;
    uint32_t buffered = conn->send.length;
    uint32_t length = offset < buffered ? MIN(buffered - offset, conn->snd_mss) : 0;
    bool fin = conn->fin_queued && seq + length == tcp_fin_seq(conn) && tcp_fin_sent(conn);
    if (length == 0 && !fin) return;
    uint8_t flags = TCP_FLAG_ACK | (fin ? TCP_FLAG_FIN : 0);
    if (length > 0 && offset + length == buffered) flags |= TCP_FLAG_PSH;
    tcp_send_segment(conn, seq, flags, length, now);
    conn->stack->stats.fast_retransmits++;
    uint32_t end = seq + length + (fin ? 1 : 0);
    if (seq_lt(conn->snd_nxt, end)) conn->snd_nxt = end;
}

void tcp_output_probe(struct tcp_conn *conn, uint64_t now) {
    if (!sending_state(conn->state)) return;
    uint32_t buffered = conn->send.length;
    uint32_t offset = conn->snd_nxt - conn->snd_buf_seq;
    uint32_t avail = offset < buffered ? buffered - offset : 0;
    if (avail == 0) return;
    uint32_t window = MIN(conn->snd_wnd, conn->cwnd);
    uint32_t in_flight = conn->snd_nxt - conn->snd_una;
    uint32_t usable = window > in_flight ? window - in_flight : 0;
    uint32_t seq = conn->snd_nxt;
    if (usable > 0) {
        /* the window is open but small: send what fits (SWS override) */
        uint32_t length = MIN(MIN(avail, usable), conn->snd_mss);
        bool fin = conn->fin_queued && seq + length == tcp_fin_seq(conn);
        uint8_t flags = TCP_FLAG_ACK | (fin ? TCP_FLAG_FIN : 0);
        if (offset + length == buffered) flags |= TCP_FLAG_PSH;
        tcp_send_segment(conn, seq, flags, length, now);
        advance(conn, seq, length + (fin ? 1 : 0), now);
        return;
    }
    /* zero window: one byte beyond it, without advancing SND.NXT (as BSD does), so the probe is
     * sent again until the window opens; the peer ACKs it with its current window */
    uint8_t flags = TCP_FLAG_ACK | (avail == 1 ? TCP_FLAG_PSH : 0);
    tcp_send_segment(conn, seq, flags, 1, now);
    if (seq_gt(seq + 1, conn->snd_max)) conn->snd_max = seq + 1;
    conn->stack->stats.persist_probes++;
}

/* The sequence number for a segment without data (Linux's tcp_acceptable_seq): SND.MAX, since
 * after an RTO SND.NXT is behind what the peer has seen and a number below its RCV.NXT would be
 * unacceptable; but no further than the peer's window reaches (a zero-window probe byte it has
 * not taken), so a RST is exactly RCV.NXT whenever we can know it. */
static uint32_t acceptable_seq(const struct tcp_conn *conn) {
    uint32_t edge = conn->snd_una + conn->snd_wnd;
    return seq_gt(conn->snd_max, edge) ? edge : conn->snd_max;
}

void tcp_send_ack(struct tcp_conn *conn, uint64_t now) {
    uint32_t seq = conn->state == TCP_SYN_RECEIVED ? conn->snd_max : acceptable_seq(conn);
    tcp_send_segment(conn, seq, TCP_FLAG_ACK, 0, now);
}

void tcp_send_rst(struct tcp_conn *conn, uint64_t now) {
    if (conn->state == TCP_SYN_SENT || conn->state == TCP_CLOSED || conn->state == TCP_LISTEN) return;
    uint32_t seq = conn->state == TCP_SYN_RECEIVED ? conn->snd_max : acceptable_seq(conn);
    tcp_send_segment(conn, seq, TCP_FLAG_RST | TCP_FLAG_ACK, 0, now);
}

void tcp_send_reset(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                    const struct ip_addr *remote, uint16_t remote_port, uint32_t seq, uint32_t ack, uint8_t flags) {
    struct tcp_header header;
    __builtin_memset(&header, 0, sizeof header);
    header.src_port = local_port;
    header.dst_port = remote_port;
    header.seq = seq;
    header.ack = ack;
    header.flags = flags;
    uint8_t *out = stack->segment;
    size_t length = tcp_wire_write_header(out, &header, false);
    tcp_wire_set_checksum(local, remote, out, length);
    stack->output(stack->output_ctx, local, remote, out, length);
    stack->stats.segments_out++;
    stack->stats.resets_out++;
}
