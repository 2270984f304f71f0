/*
 * net/tcp/tcp_input.c: segment arrival (RFC 9293 §3.10.7), with RFC 5961's defences, PAWS and
 * TS.Recent (RFC 7323), RTT samples (RFC 6298), congestion control (RFC 5681) with NewReno
 * (RFC 6582), delayed ACKs and reassembly.
 *
 * The order is the RFC's: checksum and header, demultiplexing (TCB, else listener, else the
 * CLOSED rules that answer with RST), then for a synchronized TCB: sequence acceptability
 * (unacceptable: ACK and drop), RST (exact: reset; in window: challenge ACK), SYN (challenge
 * ACK), ACK (SYN_RECEIVED → ESTABLISHED; SND.UNA, RTT, cwnd, FIN acknowledged), text, FIN.
 * Whatever the segment made due (ACK, data, window update) leaves through one tcp_output at
 * the end.
 */
#include "net/tcp/tcp_internal.h"

/* Unicast addresses only get RSTs and connections: not 0.0.0.0, multicast, class E or the
 * limited broadcast; in IPv6 not :: or multicast (ff00::/8). */
static bool unicast(const struct ip_addr *addr) {
    if (addr->family == IP_FAMILY_V4) return addr->v4 != 0 && (addr->v4 >> 28) < 0xe;
    if (addr->family != IP_FAMILY_V6 || addr->v6[0] == 0xff) return false;
    for (int i = 0; i < IPV6_ADDR_LEN; i++)
        if (addr->v6[i] != 0) return true;
    return false;
}

/* ---- CLOSED and LISTEN --------------------------------------------------------------- */

static uint32_t segment_length(const struct tcp_header *header, uint32_t data_length) {
    return data_length + ((header->flags & TCP_FLAG_SYN) ? 1 : 0) + ((header->flags & TCP_FLAG_FIN) ? 1 : 0);
}

/* RFC 9293 §3.10.7.1: no TCB. A RST is answered by nothing; a segment with ACK by
 * <SEQ=SEG.ACK><CTL=RST>; any other by <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
static void closed_input(struct tcp_stack *stack, const struct ip_addr *src, const struct ip_addr *dst,
                         const struct tcp_header *header, uint32_t data_length) {
    if ((header->flags & TCP_FLAG_RST) || !unicast(src) || !unicast(dst)) {
        stack->stats.dropped++;
        return;
    }
    if (header->flags & TCP_FLAG_ACK)
        tcp_send_reset(stack, dst, header->dst_port, src, header->src_port, header->ack, 0, TCP_FLAG_RST);
    else
        tcp_send_reset(stack, dst, header->dst_port, src, header->src_port, 0,
                       header->seq + segment_length(header, data_length), TCP_FLAG_RST | TCP_FLAG_ACK);
}

void tcp_listen_input(struct tcp_listener *listener, const struct ip_addr *src, const struct ip_addr *dst,
                      const struct tcp_header *header, uint32_t data_length, uint64_t now) {
    struct tcp_stack *stack = listener->stack;
    uint8_t flags = header->flags;
    /* never a reply (not even a RST) to a broadcast or multicast address */
    if ((flags & TCP_FLAG_RST) || !unicast(src) || !unicast(dst)) {
        stack->stats.dropped++;
        return;
    }
    if (flags & TCP_FLAG_ACK) { /* nothing can be acknowledged yet */
        tcp_send_reset(stack, dst, header->dst_port, src, header->src_port, header->ack, 0, TCP_FLAG_RST);
        return;
    }
    /* SYN+FIN is no way to open a connection (Linux drops it too) */
    if (!(flags & TCP_FLAG_SYN) || (flags & TCP_FLAG_FIN)) {
        stack->stats.dropped++;
        return;
    }
    if (listener->count >= listener->backlog) {
        stack->stats.listen_overflows++;
        return;
    }
    struct tcp_conn *conn = tcp_conn_new(stack, dst, header->dst_port, src, header->src_port, now);
    if (conn == NULL) {
        stack->stats.listen_overflows++;
        return;
    }
    conn->passive = true;
    conn->listener = listener;
    list_push_back(&listener->pending, &conn->queue_link);
    listener->count++;

    conn->irs = header->seq;
    conn->rcv_nxt = header->seq + 1;
    conn->rcv_adv = conn->rcv_nxt;
    conn->last_ack_sent = conn->rcv_nxt;
    tcp_apply_syn_options(conn, &header->options, now);
    conn->snd_wnd = header->window; /* never scaled in a SYN */
    conn->max_snd_wnd = conn->snd_wnd;
    conn->snd_wl1 = header->seq;
    conn->iss = tcp_isn(stack, dst, header->dst_port, src, header->src_port, now);
    conn->snd_una = conn->snd_nxt = conn->snd_max = conn->iss;
    conn->snd_wl2 = conn->iss;
    conn->snd_buf_seq = conn->iss + 1;
    conn->recover = conn->iss;
    conn->snd_sml = conn->iss;
    conn->state = TCP_SYN_RECEIVED;
    stack->stats.passive_opens++;
    /* data in the SYN is not taken: it is not acknowledged, so the peer sends it again */
    (void)data_length;
    tcp_output(conn, now);
}

/* ---- receiving data ------------------------------------------------------------------ */

static void fin_arrived(struct tcp_conn *conn, uint64_t now) {
    conn->rcv_nxt++;
    conn->fin_received = true;
    conn->ooo_fin = false;
    conn->ooo_count = 0; /* nothing can follow a FIN */
    conn->ack_now = true;
    switch (conn->state) {
    case TCP_ESTABLISHED:
        conn->state = TCP_CLOSE_WAIT;
        break;
    case TCP_FIN_WAIT_1: /* our FIN is not acknowledged yet (else we would be in FIN_WAIT_2) */
        conn->state = TCP_CLOSING;
        break;
    case TCP_FIN_WAIT_2:
        tcp_enter_time_wait(conn, now);
        break;
    default:
        break;
    }
    tcp_notify(conn);
}

/* RFC 9293 §3.10.7.4 seventh and eighth: text and FIN, in ESTABLISHED / FIN_WAIT_1 / FIN_WAIT_2.
 * `seq` is the sequence number of data[0] (the SYN, if any, already stripped). */
static void receive(struct tcp_conn *conn, uint32_t seq, const uint8_t *data, uint32_t length, bool fin, uint64_t now) {
    struct tcp_ring *ring = &conn->recv;
    if (seq_lt(seq, conn->rcv_nxt)) { /* the front was received before */
        uint32_t old = conn->rcv_nxt - seq;
        if (old > length) {
            length = 0;
            fin = false;
        } else {
            data += old;
            length -= old;
        }
        seq = conn->rcv_nxt;
        conn->ack_now = true; /* our ACK may have been lost */
    }
    if (length > 0 && conn->rcv_closed) {
        /* nobody will read it: reset (RFC 9293 §3.10.4, as Linux does) */
        tcp_send_rst(conn, now);
        tcp_conn_finish(conn, ERR_CONNABORTED);
        return;
    }
    uint32_t offset = seq - conn->rcv_nxt;
    uint32_t space = ring->capacity - ring->length;
    if (offset > space || length > space - offset) { /* beyond the buffer: cut (and the FIN) */
        length = space > offset ? space - offset : 0;
        fin = false;
        conn->ack_now = true;
    }
    if (length == 0 && !fin) return;

    if (offset > 0) { /* out of order: keep it in place and say what we miss at once */
        conn->stack->stats.out_of_order++;
        if (length > 0 && tcp_ooo_add(conn, seq, seq + length)) tcp_ring_write(ring, ring->length + offset, data, length);
        if (fin && !conn->ooo_fin) {
            conn->ooo_fin = true;
            conn->ooo_fin_seq = seq + length;
        }
        conn->ack_now = true;
        return;
    }

    tcp_ring_write(ring, ring->length, data, length);
    ring->length += length;
    conn->rcv_nxt += length;
    uint32_t delivered = length;
    if (conn->ooo_count > 0) { /* this may fill a hole */
        uint32_t more = tcp_ooo_advance(conn);
        ring->length += more;
        conn->rcv_nxt += more;
        delivered += more;
        conn->ack_now = true; /* RFC 5681 §4.2: ACK a segment that fills a hole at once */
    }
    if (length > conn->rcv_mss) conn->rcv_mss = (uint16_t)MIN(length, (uint32_t)conn->mss);
    conn->rcv_unacked += delivered;
    if (fin || (conn->ooo_fin && conn->rcv_nxt == conn->ooo_fin_seq)) {
        fin_arrived(conn, now);
        return;
    }
    if (delivered > 0) {
        /* delayed ACK: at once for every second full segment, else within TCP_DELACK */
        if (conn->rcv_unacked >= 2u * conn->rcv_mss) conn->ack_now = true;
        else if (conn->delack_deadline == TCP_NEVER) tcp_set_deadline(conn, &conn->delack_deadline, now + TCP_DELACK);
        tcp_notify(conn);
    }
}

/* ---- ACK processing ------------------------------------------------------------------ */

static void duplicate_ack(struct tcp_conn *conn, uint64_t now) {
    uint32_t mss = conn->snd_mss;
    if (conn->dupacks < 255) conn->dupacks++;
    if (conn->in_recovery) {
        /* RFC 6582 step 4 / RFC 5681: each further duplicate means a segment left the network */
        conn->cwnd += mss;
        return;
    }
    if (conn->dupacks != 3) return;
    /* RFC 6582 step 2: only if the ACK covers more than `recover` (not data sent before the
     * last loss episode) */
    if (!seq_geq(conn->snd_una, conn->recover)) return;
    conn->ssthresh = MAX(tcp_flight(conn) / 2, 2u * mss);
    conn->recover = conn->snd_max;
    conn->in_recovery = true;
    conn->partial_ack_seen = false;
    conn->rtt_timing = false; /* Karn */
    tcp_retransmit_first(conn, now);
    conn->cwnd = conn->ssthresh + 3 * mss;
    tcp_rto_start(conn, now);
}

/* An ACK of new data: SND.UNA moves to `ack`. */
static void new_ack(struct tcp_conn *conn, const struct tcp_header *header, uint64_t now) {
    uint32_t ack = header->ack;
    uint32_t acked = ack - conn->snd_una;
    uint32_t mss = conn->snd_mss;

    uint32_t data_acked = 0;
    if (seq_gt(ack, conn->snd_buf_seq)) {
        data_acked = MIN(ack - conn->snd_buf_seq, conn->send.length);
        tcp_ring_consume(&conn->send, data_acked);
        conn->snd_buf_seq += data_acked;
    }

    /* RTT: from the echoed timestamp (RFC 7323 §4), else from the timed segment (Karn) */
    const struct tcp_options *options = &header->options;
    if (conn->ts_ok && options->has_timestamps && options->ts_ecr != 0) {
        uint32_t ms = tcp_ts_now(conn, now) - options->ts_ecr;
        if (ms < 3600u * 1000) tcp_rtt_sample(conn, (uint64_t)ms * TCP_MS);
    } else if (conn->rtt_timing && seq_gt(ack, conn->rtt_seq)) {
        conn->rtt_timing = false;
        tcp_rtt_sample(conn, now - conn->rtt_start);
    }

    conn->snd_una = ack;
    if (seq_lt(conn->snd_nxt, ack)) conn->snd_nxt = ack;
    conn->retries = 0;

    bool restart_timer = true;
    if (conn->in_recovery) {
        if (seq_geq(ack, conn->recover)) {
            /* full ACK: leave fast recovery (RFC 6582 step 3, option 2) */
            uint32_t flight = conn->snd_max - ack;
            conn->cwnd = MIN(conn->ssthresh, MAX(flight, mss) + mss);
            conn->in_recovery = false;
            conn->dupacks = 0;
        } else {
            /* partial ACK: the next hole is lost too; deflate by what left, resend it
             * (step 4), and restart the timer only for the first one (Impatient variant) */
            tcp_retransmit_first(conn, now);
            conn->cwnd = conn->cwnd > data_acked ? conn->cwnd - data_acked : 0;
            if (data_acked >= mss) conn->cwnd += mss;
            if (conn->cwnd < mss) conn->cwnd = mss;
            restart_timer = !conn->partial_ack_seen;
            conn->partial_ack_seen = true;
        }
    } else {
        conn->dupacks = 0;
        if (data_acked > 0) {
            if (conn->cwnd < conn->ssthresh) {
                conn->cwnd += MIN(data_acked, mss); /* slow start, L = 1 (RFC 3465) */
            } else {
                conn->bytes_acked += data_acked; /* congestion avoidance: + 1 MSS per cwnd */
                if (conn->bytes_acked >= conn->cwnd) {
                    conn->bytes_acked -= conn->cwnd;
                    conn->cwnd += mss;
                }
            }
            if (conn->cwnd > (1u << 30)) conn->cwnd = 1u << 30;
        }
    }

    /* RFC 6298 (5.2), (5.3); while persisting (a zero window after an RTO left data
     * outstanding) the persist timer stays in charge, as in BSD */
    if (conn->snd_una == conn->snd_max) tcp_rto_stop(conn);
    else if (restart_timer && conn->persist_deadline == TCP_NEVER) tcp_rto_start(conn, now);
    (void)acked;
    if (data_acked > 0) tcp_notify(conn); /* room in the send buffer */
}

/* The ACK field and window of an acceptable segment (RFC 9293 §3.10.7.4 fifth). False when
 * the segment must be dropped (or the TCB is gone). */
static bool ack_input(struct tcp_conn *conn, const struct tcp_header *header, uint32_t seq, uint32_t data_length,
                      uint64_t now) {
    uint32_t ack = header->ack;
    if (seq_gt(ack, conn->snd_max)) { /* acknowledges what we never sent */
        conn->stack->stats.dropped++;
        conn->ack_now = true;
        tcp_output(conn, now);
        return false;
    }
    if (seq_lt(ack, conn->snd_una - conn->max_snd_wnd)) { /* RFC 5961 §5.2: too old */
        conn->stack->stats.dropped++;
        tcp_challenge_ack(conn, now);
        return false;
    }
    uint32_t window = (uint32_t)header->window << conn->snd_wscale;
    conn->probes = 0; /* the peer is there */
    if (seq_gt(ack, conn->snd_una)) {
        new_ack(conn, header, now);
    } else if (ack == conn->snd_una && data_length == 0 && !(header->flags & TCP_FLAG_FIN) &&
               window == conn->snd_wnd && conn->snd_max != conn->snd_una && conn->rto_deadline != TCP_NEVER) {
        duplicate_ack(conn, now); /* RFC 5681 §2's five conditions (a persist probe's answer is not one) */
    } else if (!conn->in_recovery) {
        conn->dupacks = 0;
    }

    /* window update, if this segment is newer than the one that set it */
    if (seq_lt(conn->snd_wl1, seq) || (conn->snd_wl1 == seq && seq_leq(conn->snd_wl2, ack))) {
        conn->snd_wnd = window;
        conn->snd_wl1 = seq;
        conn->snd_wl2 = ack;
        if (window > conn->max_snd_wnd) conn->max_snd_wnd = window;
        if (window > 0 && conn->persist_deadline != TCP_NEVER) {
            tcp_set_deadline(conn, &conn->persist_deadline, TCP_NEVER); /* open again: tcp_output sends */
            conn->persist_backoff = 0;
        }
    }

    if (tcp_fin_acked(conn)) {
        switch (conn->state) {
        case TCP_FIN_WAIT_1:
            conn->state = TCP_FIN_WAIT_2;
            if (conn->rcv_closed) tcp_set_deadline(conn, &conn->close_deadline, now + TCP_FIN_WAIT_2_TIMEOUT);
            tcp_notify(conn);
            break;
        case TCP_CLOSING:
            tcp_enter_time_wait(conn, now);
            break;
        case TCP_LAST_ACK:
            tcp_conn_finish(conn, 0);
            return false;
        default:
            break;
        }
    }
    return true;
}

static void reset_arrived(struct tcp_conn *conn) {
    conn->stack->stats.resets_in++;
    switch (conn->state) {
    case TCP_SYN_RECEIVED:
        /* passive: back to LISTEN, which here means the half-open TCB just goes */
        tcp_conn_finish(conn, conn->passive ? 0 : ERR_CONNREFUSED);
        break;
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2:
    case TCP_CLOSE_WAIT:
        tcp_conn_finish(conn, ERR_CONNRESET);
        break;
    default: /* CLOSING, LAST_ACK, TIME_WAIT */
        tcp_conn_finish(conn, 0);
        break;
    }
}

/* RFC 7323 §5.3: a timestamp older than TS.Recent marks an old duplicate, unless TS.Recent is
 * itself older than 24 days. */
static bool paws_reject(const struct tcp_conn *conn, uint32_t ts_val, uint64_t now) {
    return seq_lt(ts_val, conn->ts_recent) && now - conn->ts_recent_time < TCP_TS_MAX_IDLE;
}

/* RFC 9293 §3.10.7.4's four cases; a zero window still accepts a segment starting at RCV.NXT
 * for its ACK and RST (its text is cut). */
static bool acceptable(uint32_t rcv_nxt, uint32_t window, uint32_t seq, uint32_t length) {
    if (window == 0) return seq == rcv_nxt;
    bool first = seq_leq(rcv_nxt, seq) && seq_lt(seq, rcv_nxt + window);
    if (length == 0) return first;
    uint32_t last = seq + length - 1;
    return first || (seq_leq(rcv_nxt, last) && seq_lt(last, rcv_nxt + window));
}

static void syn_sent_input(struct tcp_conn *conn, const struct tcp_header *header, const uint8_t *data,
                           uint32_t data_length, uint64_t now) {
    struct tcp_stack *stack = conn->stack;
    uint8_t flags = header->flags;
    bool ack_ok = false;
    if (flags & TCP_FLAG_ACK) {
        if (seq_leq(header->ack, conn->iss) || seq_gt(header->ack, conn->snd_max)) {
            stack->stats.dropped++;
            if (!(flags & TCP_FLAG_RST))
                tcp_send_reset(stack, &conn->local, conn->local_port, &conn->remote, conn->remote_port,
                               header->ack, 0, TCP_FLAG_RST);
            return;
        }
        ack_ok = true;
    }
    if (flags & TCP_FLAG_RST) {
        /* RFC 5961 §3.2: in SYN_SENT a RST counts when it acknowledges our SYN */
        if (ack_ok) {
            stack->stats.resets_in++;
            tcp_conn_finish(conn, ERR_CONNREFUSED);
        } else {
            stack->stats.dropped++;
        }
        return;
    }
    if (!(flags & TCP_FLAG_SYN)) {
        stack->stats.dropped++;
        return;
    }
    conn->irs = header->seq;
    conn->rcv_nxt = header->seq + 1;
    conn->rcv_adv = conn->rcv_nxt + conn->syn_window;
    conn->last_ack_sent = conn->rcv_nxt;
    tcp_apply_syn_options(conn, &header->options, now);
    conn->snd_wnd = header->window;
    conn->max_snd_wnd = conn->snd_wnd;
    conn->snd_wl1 = header->seq;
    conn->snd_wl2 = header->ack;
    if (ack_ok) {
        const struct tcp_options *options = &header->options;
        if (conn->ts_ok && options->ts_ecr != 0) {
            uint32_t ms = tcp_ts_now(conn, now) - options->ts_ecr;
            if (ms < 3600u * 1000) tcp_rtt_sample(conn, (uint64_t)ms * TCP_MS);
        } else if (conn->rtt_timing && seq_gt(header->ack, conn->rtt_seq)) {
            tcp_rtt_sample(conn, now - conn->rtt_start);
        }
        conn->rtt_timing = false;
        conn->snd_una = header->ack;
        tcp_rto_stop(conn);
        if (!tcp_conn_established(conn, now)) return;
        conn->ack_now = true;
        if (data_length > 0 || (flags & TCP_FLAG_FIN))
            receive(conn, header->seq + 1, data, data_length, flags & TCP_FLAG_FIN, now);
    } else {
        /* simultaneous open (RFC 9293 Figure 8): our SYN goes again, now as SYN-ACK */
        conn->state = TCP_SYN_RECEIVED;
        conn->snd_nxt = conn->iss;
    }
    tcp_output(conn, now);
}

static void conn_input(struct tcp_conn *conn, const struct tcp_header *header, const uint8_t *data,
                       uint32_t data_length, uint64_t now) {
    struct tcp_stack *stack = conn->stack;
    if (conn->state == TCP_SYN_SENT) {
        syn_sent_input(conn, header, data, data_length, now);
        return;
    }
    uint8_t flags = header->flags;
    uint32_t seq = header->seq;
    bool syn = flags & TCP_FLAG_SYN, fin = flags & TCP_FLAG_FIN;

    /* SYN_RECEIVED and the peer's SYN again: a lost SYN-ACK (answer it again), or in a
     * simultaneous open the peer's SYN-ACK, whose SYN we already have */
    if (syn && conn->state == TCP_SYN_RECEIVED && seq == conn->irs && !(flags & TCP_FLAG_RST)) {
        if (!(flags & TCP_FLAG_ACK)) {
            tcp_send_segment(conn, conn->iss, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, now);
            return;
        }
        syn = false;
        seq++;
    }

    const struct tcp_options *options = &header->options;
    if (conn->ts_ok && options->has_timestamps && !(flags & TCP_FLAG_RST) &&
        paws_reject(conn, options->ts_val, now)) {
        stack->stats.dropped++;
        conn->ack_now = true;
        tcp_output(conn, now);
        return;
    }

    /* first: is it in the window? */
    uint32_t length = data_length + (syn ? 1 : 0) + (fin ? 1 : 0);
    uint32_t offered = seq_gt(conn->rcv_adv, conn->rcv_nxt) ? conn->rcv_adv - conn->rcv_nxt : 0;
    uint32_t space = conn->recv.capacity - conn->recv.length;
    uint32_t window = MAX(offered, MIN(space, (uint32_t)0xffff << conn->rcv_wscale));
    if (!acceptable(conn->rcv_nxt, window, seq, length)) {
        stack->stats.dropped++;
        if (!(flags & TCP_FLAG_RST)) {
            if (conn->state == TCP_TIME_WAIT && fin) tcp_set_deadline(conn, &conn->close_deadline, now + 2 * TCP_MSL);
            conn->ack_now = true;
            tcp_output(conn, now);
        }
        return;
    }

    /* second: RST (RFC 5961 §3.2) */
    if (flags & TCP_FLAG_RST) {
        if (seq == conn->rcv_nxt) reset_arrived(conn);
        else tcp_challenge_ack(conn, now);
        return;
    }
    /* fourth: SYN (RFC 5961 §4) */
    if (syn) {
        tcp_challenge_ack(conn, now);
        return;
    }
    /* fifth: ACK */
    if (!(flags & TCP_FLAG_ACK)) {
        stack->stats.dropped++;
        return;
    }
    if (conn->ts_ok && options->has_timestamps && seq_leq(seq, conn->last_ack_sent)) {
        conn->ts_recent = options->ts_val; /* RFC 7323 §4.3 */
        conn->ts_recent_time = now;
    }
    if (conn->state == TCP_SYN_RECEIVED) {
        if (!seq_gt(header->ack, conn->snd_una) || seq_gt(header->ack, conn->snd_max)) {
            stack->stats.dropped++;
            tcp_send_reset(stack, &conn->local, conn->local_port, &conn->remote, conn->remote_port,
                           header->ack, 0, TCP_FLAG_RST);
            return;
        }
        conn->snd_wnd = (uint32_t)header->window << conn->snd_wscale;
        if (conn->snd_wnd > conn->max_snd_wnd) conn->max_snd_wnd = conn->snd_wnd;
        conn->snd_wl1 = seq;
        conn->snd_wl2 = header->ack;
        if (!tcp_conn_established(conn, now)) return;
    }
    if (!ack_input(conn, header, seq, data_length, now) || conn->dead) return;

    /* seventh and eighth: text and FIN */
    if (data_length > 0 || fin) {
        if (conn->state == TCP_ESTABLISHED || conn->state == TCP_FIN_WAIT_1 || conn->state == TCP_FIN_WAIT_2)
            receive(conn, seq, data, data_length, fin, now);
        /* else the peer's FIN came before: nothing more is taken (a retransmitted FIN was
         * answered by the acceptability test) */
        if (conn->dead) return;
    }
    tcp_output(conn, now);
}

/* RFC 6191 / RFC 9293 §3.6.1: a new SYN may take over a TIME_WAIT TCB if it cannot be mistaken
 * for an old duplicate: timestamps newer than TS.Recent, or (without) a higher sequence number. */
static bool time_wait_reopens(const struct tcp_conn *conn, const struct tcp_header *header) {
    if ((header->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN)) != TCP_FLAG_SYN) return false;
    if (conn->ts_ok && header->options.has_timestamps) return seq_gt(header->options.ts_val, conn->ts_recent);
    return seq_gt(header->seq, conn->rcv_nxt);
}

void tcp_input(struct tcp_stack *stack, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment,
               size_t length, uint64_t now) {
    if (now > stack->now) stack->now = now;
    stack->stats.segments_in++;
    struct tcp_header header;
    /* a segment comes from one family: the IP layer never mixes them, nor sends ANY */
    bool addresses_ok = (src->family == IP_FAMILY_V4 || src->family == IP_FAMILY_V6) && dst->family == src->family;
    if (length < TCP_HEADER_MIN || length > 0xffff || !addresses_ok) {
        stack->stats.malformed++;
        return;
    }
    if (!tcp_wire_checksum_ok(src, dst, segment, length)) {
        stack->stats.bad_checksums++;
        return;
    }
    if (tcp_wire_parse(segment, length, &header) != TCP_WIRE_OK || header.src_port == 0 || header.dst_port == 0) {
        stack->stats.malformed++;
        return;
    }
    uint32_t data_length = (uint32_t)(length - header.header_length);
    const uint8_t *data = segment + header.header_length;

    struct tcp_conn *conn = tcp_lookup(stack, dst, header.dst_port, src, header.src_port);
    struct tcp_listener *listener = NULL;
    if (conn == NULL || conn->state == TCP_TIME_WAIT) listener = tcp_find_listener(stack, dst, header.dst_port);
    if (conn != NULL && conn->state == TCP_TIME_WAIT && listener != NULL && time_wait_reopens(conn, &header)) {
        tcp_conn_finish(conn, 0);
        conn = NULL;
    }
    if (conn != NULL) conn_input(conn, &header, data, data_length, now);
    else if (listener != NULL) tcp_listen_input(listener, src, dst, &header, data_length, now);
    else closed_input(stack, src, dst, &header, data_length);
    tcp_reap(stack);
}
