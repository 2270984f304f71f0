/*
 * net/tcp/tcp_timer.c: the per-connection timers and the RTO estimator.
 *
 *   retransmission (RFC 6298): runs while anything sent is unacknowledged; on expiry the RTO
 *     doubles (up to TCP_RTO_MAX), SND.NXT goes back to SND.UNA and the first segment is sent
 *     again with cwnd = 1 segment (RFC 5681 §3.1); after too many expirations in a row the
 *     connection ends with ERR_TIMEOUT (and a RST if it was synchronized).
 *   persist: runs while data waits, nothing is in flight and the window is too small
 *     (usually 0); probes at RTO << backoff, clamped to [200 ms, 60 s], for as long as the
 *     peer keeps answering (RFC 9293 §3.8.6.1: a zero window may stay closed indefinitely);
 *     after TCP_MAX_RETRIES probes without any ACK the connection ends with ERR_TIMEOUT.
 *   delayed ACK: at most TCP_DELACK after the first unacknowledged in-order segment.
 *   close: the end of TIME_WAIT (2*MSL), or of an orphaned FIN_WAIT_2.
 */
#include "net/tcp/tcp_internal.h"

void tcp_rto_start(struct tcp_conn *conn, uint64_t now) { tcp_set_deadline(conn, &conn->rto_deadline, now + conn->rto); }

void tcp_rto_stop(struct tcp_conn *conn) { tcp_set_deadline(conn, &conn->rto_deadline, TCP_NEVER); }

void tcp_persist_start(struct tcp_conn *conn, uint64_t now) {
    uint64_t interval = conn->rto << conn->persist_backoff;
    if (interval < TCP_PERSIST_MIN) interval = TCP_PERSIST_MIN;
    if (interval > TCP_PERSIST_MAX) interval = TCP_PERSIST_MAX;
    tcp_set_deadline(conn, &conn->persist_deadline, now + interval);
    tcp_set_deadline(conn, &conn->rto_deadline, TCP_NEVER);
}

/* RFC 6298 §2: the first sample sets SRTT = R, RTTVAR = R/2; later ones blend with
 * alpha = 1/8, beta = 1/4; RTO = SRTT + max(G, 4*RTTVAR), clamped. */
void tcp_rtt_sample(struct tcp_conn *conn, uint64_t rtt) {
    if (!conn->rtt_valid) {
        conn->srtt = rtt;
        conn->rttvar = rtt / 2;
        conn->rtt_valid = true;
    } else {
        uint64_t delta = conn->srtt > rtt ? conn->srtt - rtt : rtt - conn->srtt;
        conn->rttvar = (3 * conn->rttvar + delta) / 4;
        conn->srtt = (7 * conn->srtt + rtt) / 8;
    }
    uint64_t rto = conn->srtt + MAX(TCP_CLOCK_GRANULARITY, 4 * conn->rttvar);
    if (rto < TCP_RTO_MIN) rto = TCP_RTO_MIN;
    if (rto > TCP_RTO_MAX) rto = TCP_RTO_MAX;
    conn->rto = rto;
}

static void rto_expired(struct tcp_conn *conn, uint64_t now) {
    struct tcp_stack *stack = conn->stack;
    tcp_set_deadline(conn, &conn->rto_deadline, TCP_NEVER);
    stack->stats.timeouts++;
    bool handshake = conn->state == TCP_SYN_SENT || conn->state == TCP_SYN_RECEIVED;
    unsigned limit = conn->state == TCP_SYN_SENT       ? TCP_SYN_RETRIES
                     : conn->state == TCP_SYN_RECEIVED ? TCP_SYNACK_RETRIES
                                                       : TCP_MAX_RETRIES;
    if (conn->retries >= limit) {
        stack->stats.aborts_timeout++;
        if (!handshake) tcp_send_rst(conn, now);
        tcp_conn_finish(conn, ERR_TIMEOUT);
        return;
    }
    conn->retries++;
    if (handshake) conn->syn_retransmitted = true;
    /* RFC 5681 (4): halve on the first timeout of a loss episode only; RFC 6582: no fast
     * retransmit for duplicate ACKs of data sent before the timeout */
    if (conn->retries == 1) conn->ssthresh = MAX(tcp_flight(conn) / 2, 2u * conn->snd_mss);
    conn->cwnd = conn->snd_mss;
    conn->bytes_acked = 0;
    conn->dupacks = 0;
    conn->in_recovery = false;
    conn->recover = conn->snd_max;
    /* RFC 6298 (5.5), and Karn: no sample from what is sent again */
    conn->rto = MIN(conn->rto * 2, TCP_RTO_MAX);
    conn->rtt_timing = false;
    conn->snd_nxt = conn->snd_una;
    tcp_output(conn, now);
}

static void persist_expired(struct tcp_conn *conn, uint64_t now) {
    tcp_set_deadline(conn, &conn->persist_deadline, TCP_NEVER);
    /* RFC 1122 §4.2.2.17: a closed window may last forever while the peer answers the probes;
     * a peer that answers nothing is gone (as Linux, after as many probes as retransmissions) */
    if (conn->probes >= TCP_MAX_RETRIES) {
        conn->stack->stats.aborts_timeout++;
        tcp_send_rst(conn, now);
        tcp_conn_finish(conn, ERR_TIMEOUT);
        return;
    }
    conn->probes++;
    tcp_output_probe(conn, now);
    if (conn->rto_deadline == TCP_NEVER && conn->snd_nxt - conn->snd_buf_seq < conn->send.length) {
        /* still nothing in flight: probe again later, backing off */
        if (conn->persist_backoff < 16) conn->persist_backoff++;
        tcp_persist_start(conn, now);
    }
}

void tcp_conn_timers(struct tcp_conn *conn, uint64_t now) {
    if (conn->delack_deadline <= now) {
        tcp_set_deadline(conn, &conn->delack_deadline, TCP_NEVER);
        conn->ack_now = true;
        tcp_output(conn, now);
    }
    if (!conn->dead && conn->rto_deadline <= now) rto_expired(conn, now);
    if (!conn->dead && conn->persist_deadline <= now) persist_expired(conn, now);
    if (!conn->dead && conn->close_deadline <= now) {
        tcp_set_deadline(conn, &conn->close_deadline, TCP_NEVER);
        tcp_conn_finish(conn, conn->state == TCP_TIME_WAIT ? 0 : ERR_TIMEOUT);
    }
}

void tcp_set_deadline(struct tcp_conn *conn, uint64_t *deadline, uint64_t when) {
    struct tcp_stack *stack = conn->stack;
    uint64_t old = *deadline;
    *deadline = when;
    if (when < stack->next_deadline) stack->next_deadline = when;
    else if (old == stack->next_deadline && when != old) stack->next_deadline_stale = true;
}

void tcp_clear_deadlines(struct tcp_conn *conn) {
    tcp_set_deadline(conn, &conn->rto_deadline, TCP_NEVER);
    tcp_set_deadline(conn, &conn->persist_deadline, TCP_NEVER);
    tcp_set_deadline(conn, &conn->delack_deadline, TCP_NEVER);
    tcp_set_deadline(conn, &conn->close_deadline, TCP_NEVER);
}

uint64_t tcp_conn_deadline(const struct tcp_conn *conn) {
    uint64_t deadline = conn->rto_deadline;
    if (conn->persist_deadline < deadline) deadline = conn->persist_deadline;
    if (conn->delack_deadline < deadline) deadline = conn->delack_deadline;
    if (conn->close_deadline < deadline) deadline = conn->close_deadline;
    return deadline;
}
