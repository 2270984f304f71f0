/*
 * net/tcp/tcp.c: the stack, TCB lifetime and lookup, initial sequence numbers, and the API.
 *
 * TCB lifetime: tcp_conn_new puts a TCB on stack->conns and in the 4-tuple hash. When the
 * connection ends (tcp_conn_finish) it leaves the hash, so its 4-tuple is free again and later
 * segments get the CLOSED answer; without a handle it also moves to stack->dead, which every
 * entry point empties (tcp_reap) before it returns, so no function below an entry point ever
 * sees a freed TCB. With a handle it stays on conns, CLOSED, until tcp_close/tcp_abort.
 */
#include "net/tcp/tcp_internal.h"

/* ---- SipHash-2-4 (for RFC 6528 ISNs and timestamp offsets) ---------------------------- */

static uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static uint64_t load64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

#define SIP_ROUND(v0, v1, v2, v3)                                                                                      \
    do {                                                                                                               \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);                                                 \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                                                       \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                                                       \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);                                                 \
    } while (0)

static uint64_t siphash24(const uint8_t key[16], const uint8_t *in, size_t length) {
    uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    size_t whole = length & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load64_le(in + i);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)length << 56;
    for (size_t i = whole; i < length; i++) last |= (uint64_t)in[i] << (8 * (i - whole));
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++) SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* Appends an address as on the wire (4 or 16 bytes); returns the new end. */
static uint8_t *put_address(uint8_t *p, const struct ip_addr *addr) {
    if (addr->family == IP_FAMILY_V6) {
        __builtin_memcpy(p, addr->v6, IPV6_ADDR_LEN);
        return p + IPV6_ADDR_LEN;
    }
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(addr->v4 >> (24 - 8 * i));
    return p;
}

/* The keyed hash of a 4-tuple: the two addresses (their lengths tell the family apart), the
 * two ports and `purpose`, so that ISNs and timestamp offsets are unrelated. */
static uint64_t tuple_hash_keyed(const struct tcp_stack *stack, uint8_t purpose, const struct ip_addr *local,
                                 uint16_t local_port, const struct ip_addr *remote, uint16_t remote_port) {
    uint8_t in[2 * IPV6_ADDR_LEN + 5];
    uint8_t *p = put_address(in, local);
    p = put_address(p, remote);
    *p++ = (uint8_t)(local_port >> 8);
    *p++ = (uint8_t)local_port;
    *p++ = (uint8_t)(remote_port >> 8);
    *p++ = (uint8_t)remote_port;
    *p++ = purpose;
    return siphash24(stack->isn_key, in, (size_t)(p - in));
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a timer ticking every 4 µs. */
uint32_t tcp_isn(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                 const struct ip_addr *remote, uint16_t remote_port, uint64_t now) {
    uint32_t f = (uint32_t)tuple_hash_keyed(stack, 0, local, local_port, remote, remote_port);
    return f + (uint32_t)(now / 4000);
}

uint16_t tcp_family_mss(const struct tcp_stack *stack, uint8_t family) {
    uint16_t mss = stack->config.mss;
    if (family != IP_FAMILY_V6) return mss;
    return mss >= TCP_MIN_PEER_MSS + 20 ? (uint16_t)(mss - 20) : (uint16_t)TCP_MIN_PEER_MSS;
}

/* ---- lookup ---------------------------------------------------------------------------- */

/* An address folded to 32 bits for the bucket hash (an IPv6 address: its four words xored; the
 * seeded mixing below spreads them). */
static uint32_t address_word(const struct ip_addr *addr) {
    if (addr->family != IP_FAMILY_V6) return addr->v4;
    uint32_t word = 0;
    for (int i = 0; i < IPV6_ADDR_LEN; i += 4)
        word ^= (uint32_t)addr->v6[i] << 24 | (uint32_t)addr->v6[i + 1] << 16 | (uint32_t)addr->v6[i + 2] << 8 | addr->v6[i + 3];
    return word;
}

static uint32_t bucket_of(const struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                          const struct ip_addr *remote, uint16_t remote_port) {
    uint32_t h = stack->hash_seed;
    h = (h ^ address_word(local)) * 0x9e3779b1u;
    h = (h ^ address_word(remote)) * 0x85ebca6bu;
    h = (h ^ ((uint32_t)local_port << 16 | remote_port)) * 0xc2b2ae35u;
    h ^= h >> 16;
    return h & stack->bucket_mask;
}

struct tcp_conn *tcp_lookup(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                            const struct ip_addr *remote, uint16_t remote_port) {
    struct list_node *head = &stack->buckets[bucket_of(stack, local, local_port, remote, remote_port)];
    struct list_node *node;
    list_for_each(node, head) {
        struct tcp_conn *conn = list_entry(node, struct tcp_conn, hash_link);
        if (conn->local_port == local_port && conn->remote_port == remote_port && ip_addr_equal(&conn->local, local) &&
            ip_addr_equal(&conn->remote, remote))
            return conn;
    }
    return NULL;
}

struct tcp_listener *tcp_find_listener(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port) {
    struct tcp_listener *wildcard = NULL;
    struct list_node *node;
    list_for_each(node, &stack->listeners) {
        struct tcp_listener *listener = list_entry(node, struct tcp_listener, link);
        if (listener->port != local_port) continue;
        if (ip_addr_equal(&listener->addr, local)) return listener;
        if (listener->addr.family == IP_FAMILY_ANY) wildcard = listener;
    }
    return wildcard;
}

/* ---- TCB lifetime ---------------------------------------------------------------------- */

void tcp_notify(struct tcp_conn *conn) {
    if (conn->has_handle && conn->notify_fn != NULL) conn->notify_fn(conn->notify_arg);
}

/* Takes a TCB out of the hash and its listener and, without a handle, onto the dead list. */
static void conn_release(struct tcp_conn *conn) {
    if (list_linked(&conn->hash_link)) list_del(&conn->hash_link);
    if (conn->listener != NULL) {
        list_del(&conn->queue_link);
        conn->listener->count--;
        conn->listener = NULL;
    }
    if (!conn->has_handle && !conn->dead) {
        conn->dead = true;
        list_del(&conn->link);
        list_push_back(&conn->stack->dead, &conn->link);
        conn->stack->conn_count--;
    }
}

void tcp_conn_finish(struct tcp_conn *conn, int error) {
    if (conn->dead) return;
    if (conn->state != TCP_CLOSED) {
        conn->state = TCP_CLOSED;
        conn->error = error;
        tcp_clear_deadlines(conn);
        conn->ooo_count = 0;
        conn->ooo_fin = false;
        tcp_ring_release(&conn->send);
        /* a reset flushes what was received (RFC 9293); a graceful end leaves it to be read */
        if (error != 0 || !conn->has_handle) tcp_ring_release(&conn->recv);
        tcp_notify(conn);
    }
    conn_release(conn);
}

void tcp_enter_time_wait(struct tcp_conn *conn, uint64_t now) {
    conn->state = TCP_TIME_WAIT;
    tcp_clear_deadlines(conn);
    tcp_set_deadline(conn, &conn->close_deadline, now + 2 * TCP_MSL);
    tcp_ring_release(&conn->send); /* all acknowledged: only the ACK of a repeated FIN remains */
    if (!conn->has_handle) tcp_ring_release(&conn->recv);
    tcp_notify(conn);
}

bool tcp_conn_established(struct tcp_conn *conn, uint64_t now) {
    if (tcp_conn_buffers(conn) != 0) {
        tcp_send_rst(conn, now);
        tcp_conn_finish(conn, ERR_NOMEM);
        return false;
    }
    conn->state = TCP_ESTABLISHED;
    conn->cwnd = tcp_initial_window(conn);
    conn->ssthresh = UINT32_MAX >> 1; /* "arbitrarily high" (RFC 5681 §3.1) */
    if (conn->syn_retransmitted && !conn->rtt_valid) conn->rto = TCP_RTO_AFTER_SYN_LOSS;
    conn->retries = 0;
    if (conn->listener != NULL) {
        struct tcp_listener *listener = conn->listener;
        list_del(&conn->queue_link);
        list_push_back(&listener->ready, &conn->queue_link);
        if (listener->notify_fn != NULL) listener->notify_fn(listener->notify_arg);
    }
    if (conn->fin_queued) conn->state = TCP_FIN_WAIT_1; /* shut down while connecting */
    tcp_notify(conn);
    return true;
}

void tcp_challenge_ack(struct tcp_conn *conn, uint64_t now) {
    struct tcp_stack *stack = conn->stack;
    if (now - conn->challenge_window >= TCP_SEC) {
        conn->challenge_window = now;
        conn->challenge_count = 0;
    }
    stack->stats.dropped++;
    if (conn->challenge_count >= TCP_CHALLENGE_ACKS_PER_SEC) return;
    conn->challenge_count++;
    stack->stats.challenge_acks++;
    tcp_send_ack(conn, now);
}

void tcp_apply_syn_options(struct tcp_conn *conn, const struct tcp_options *options, uint64_t now) {
    const struct tcp_stack *stack = conn->stack;
    const struct tcp_config *config = &stack->config;
    conn->peer_mss = options->has_mss ? MAX(options->mss, (uint16_t)TCP_MIN_PEER_MSS) : TCP_DEFAULT_MSS;
    conn->ws_ok = config->window_scaling && options->has_wscale;
    conn->snd_wscale = conn->ws_ok ? MIN(options->wscale, (uint8_t)TCP_WSCALE_MAX) : 0;
    conn->rcv_wscale = conn->ws_ok ? stack->rcv_wscale : 0;
    conn->ts_ok = config->timestamps && options->has_timestamps;
    if (conn->ts_ok) {
        conn->ts_recent = options->ts_val;
        conn->ts_recent_time = now;
    }
    /* RFC 6691: the MSS counts no options; ours come off what we send */
    uint32_t mss = MIN(conn->peer_mss, conn->mss);
    if (conn->ts_ok) mss -= TCP_TS_OPTION_SPACE;
    conn->snd_mss = (uint16_t)mss;
    conn->cwnd = mss; /* the real initial window is set once established */
}

/* The oldest TIME_WAIT TCB nobody holds, to make room under max_connections. */
static struct tcp_conn *oldest_time_wait(struct tcp_stack *stack) {
    struct tcp_conn *oldest = NULL;
    struct list_node *node;
    list_for_each(node, &stack->conns) {
        struct tcp_conn *conn = list_entry(node, struct tcp_conn, link);
        if (conn->state == TCP_TIME_WAIT && !conn->has_handle &&
            (oldest == NULL || conn->close_deadline < oldest->close_deadline))
            oldest = conn;
    }
    return oldest;
}

struct tcp_conn *tcp_conn_new(struct tcp_stack *stack, const struct ip_addr *local, uint16_t local_port,
                              const struct ip_addr *remote, uint16_t remote_port, uint64_t now) {
    if (stack->conn_count >= stack->config.max_connections) {
        struct tcp_conn *victim = oldest_time_wait(stack);
        if (victim == NULL) return NULL;
        tcp_conn_finish(victim, 0);
    }
    struct tcp_conn *conn = net_env_alloc(sizeof *conn);
    if (conn == NULL) return NULL;
    __builtin_memset(conn, 0, sizeof *conn);
    /* the rings' memory comes with tcp_conn_buffers: a half-open TCB costs only itself */
    conn->send.capacity = stack->config.send_buffer;
    conn->recv.capacity = stack->config.receive_buffer;
    conn->stack = stack;
    list_init(&conn->queue_link);
    conn->state = TCP_CLOSED;
    conn->local = *local;
    conn->local_port = local_port;
    conn->remote = *remote;
    conn->remote_port = remote_port;
    conn->mss = tcp_family_mss(stack, local->family);
    conn->rto = TCP_RTO_INITIAL;
    /* no timer yet: the stack's earliest deadline is unchanged */
    conn->rto_deadline = conn->persist_deadline = conn->delack_deadline = conn->close_deadline = TCP_NEVER;
    conn->peer_mss = TCP_DEFAULT_MSS;
    conn->snd_mss = (uint16_t)MIN((uint16_t)TCP_DEFAULT_MSS, conn->mss);
    conn->rcv_mss = conn->snd_mss;
    conn->cwnd = conn->snd_mss;
    conn->ssthresh = UINT32_MAX >> 1;
    conn->challenge_window = now;
    conn->ts_offset = (uint32_t)tuple_hash_keyed(stack, 1, local, local_port, remote, remote_port);
    list_push_back(&stack->buckets[bucket_of(stack, local, local_port, remote, remote_port)], &conn->hash_link);
    list_push_back(&stack->conns, &conn->link);
    stack->conn_count++;
    return conn;
}

int tcp_conn_buffers(struct tcp_conn *conn) {
    if (conn->send.data == NULL && tcp_ring_init(&conn->send, conn->send.capacity) != 0) return ERR_NOMEM;
    if (conn->recv.data == NULL && tcp_ring_init(&conn->recv, conn->recv.capacity) != 0) return ERR_NOMEM;
    return 0;
}

void tcp_reap(struct tcp_stack *stack) {
    struct list_node *node;
    while ((node = list_pop_front(&stack->dead)) != NULL) {
        struct tcp_conn *conn = list_entry(node, struct tcp_conn, link);
        tcp_ring_release(&conn->send);
        tcp_ring_release(&conn->recv);
        net_env_free(conn, sizeof *conn);
    }
}

static void enter(struct tcp_stack *stack, uint64_t now) {
    if (now > stack->now) stack->now = now;
}

/* ---- the stack ------------------------------------------------------------------------- */

struct tcp_stack *tcp_stack_new(const struct tcp_config *config, tcp_output_fn output, void *ctx) {
    if (config == NULL || output == NULL || config->mss < 64 || config->mss > 65495 || config->send_buffer == 0 ||
        config->send_buffer > (1u << 30) || config->receive_buffer == 0 || config->receive_buffer > (1u << 30) ||
        config->max_connections == 0)
        return NULL;
    struct tcp_stack *stack = net_env_alloc(sizeof *stack);
    if (stack == NULL) return NULL;
    __builtin_memset(stack, 0, sizeof *stack);
    stack->config = *config;
    stack->output = output;
    stack->output_ctx = ctx;
    list_init(&stack->conns);
    list_init(&stack->dead);
    list_init(&stack->listeners);
    stack->next_deadline = TCP_NEVER;
    /* about one TCB per bucket at the limit, between 16 and 4096 buckets */
    uint32_t buckets = 16;
    while (buckets < config->max_connections && buckets < 4096) buckets *= 2;
    stack->buckets = net_env_alloc(buckets * sizeof *stack->buckets);
    stack->segment = net_env_alloc(TCP_HEADER_MAX + (size_t)config->mss);
    if (stack->buckets == NULL || stack->segment == NULL) {
        if (stack->buckets != NULL) net_env_free(stack->buckets, buckets * sizeof *stack->buckets);
        if (stack->segment != NULL) net_env_free(stack->segment, TCP_HEADER_MAX + (size_t)config->mss);
        net_env_free(stack, sizeof *stack);
        return NULL;
    }
    for (uint32_t i = 0; i < buckets; i++) list_init(&stack->buckets[i]);
    stack->bucket_mask = buckets - 1;
    /* the smallest shift that lets the window cover the whole buffer */
    while (stack->rcv_wscale < TCP_WSCALE_MAX && (config->receive_buffer >> stack->rcv_wscale) > 0xffff)
        stack->rcv_wscale++;
    net_env_random(stack->isn_key, sizeof stack->isn_key);
    net_env_random(&stack->hash_seed, sizeof stack->hash_seed);
    return stack;
}

void tcp_stack_free(struct tcp_stack *stack) {
    if (stack == NULL) return;
    struct list_node *node;
    while ((node = list_pop_front(&stack->conns)) != NULL) list_push_back(&stack->dead, node);
    tcp_reap(stack);
    while ((node = list_pop_front(&stack->listeners)) != NULL)
        net_env_free(list_entry(node, struct tcp_listener, link), sizeof(struct tcp_listener));
    net_env_free(stack->buckets, (stack->bucket_mask + 1) * sizeof *stack->buckets);
    net_env_free(stack->segment, TCP_HEADER_MAX + (size_t)stack->config.mss);
    net_env_free(stack, sizeof *stack);
}

void tcp_timers(struct tcp_stack *stack, uint64_t now_ns) {
    enter(stack, now_ns);
    struct list_node *node, *next;
    list_for_each_safe(node, next, &stack->conns) {
        struct tcp_conn *conn = list_entry(node, struct tcp_conn, link);
        if (tcp_conn_deadline(conn) <= now_ns) tcp_conn_timers(conn, now_ns);
    }
    tcp_reap(stack);
}

uint64_t tcp_next_deadline(struct tcp_stack *stack) {
    if (!stack->next_deadline_stale) return stack->next_deadline;
    uint64_t deadline = TCP_NEVER;
    const struct list_node *node;
    list_for_each(node, &stack->conns) {
        uint64_t d = tcp_conn_deadline(list_entry(node, const struct tcp_conn, link));
        if (d < deadline) deadline = d;
    }
    stack->next_deadline = deadline;
    stack->next_deadline_stale = false;
    return deadline;
}

/* ---- listeners ------------------------------------------------------------------------- */

int tcp_listen(struct tcp_stack *stack, const struct ip_addr *addr, uint16_t port, unsigned backlog,
               struct tcp_listener **out) {
    if (stack == NULL || addr == NULL || port == 0 || out == NULL) return ERR_INVAL;
    if (addr->family != IP_FAMILY_ANY && addr->family != IP_FAMILY_V4 && addr->family != IP_FAMILY_V6) return ERR_INVAL;
    struct list_node *node;
    list_for_each(node, &stack->listeners) {
        struct tcp_listener *other = list_entry(node, struct tcp_listener, link);
        /* an ANY listener overlaps every other on its port; two specific ones only when equal */
        bool overlap = ip_addr_equal(&other->addr, addr) || other->addr.family == IP_FAMILY_ANY ||
                       addr->family == IP_FAMILY_ANY;
        if (other->port == port && overlap) return ERR_ADDRINUSE;
    }
    struct tcp_listener *listener = net_env_alloc(sizeof *listener);
    if (listener == NULL) return ERR_NOMEM;
    __builtin_memset(listener, 0, sizeof *listener);
    listener->stack = stack;
    listener->addr = addr->family == IP_FAMILY_ANY ? ip_addr_any() : *addr;
    listener->port = port;
    listener->backlog = backlog == 0 ? 1 : backlog;
    list_init(&listener->pending);
    list_init(&listener->ready);
    list_push_back(&stack->listeners, &listener->link);
    *out = listener;
    return 0;
}

int tcp_accept(struct tcp_listener *listener, struct tcp_conn **out) {
    if (listener == NULL || out == NULL) return ERR_INVAL;
    struct list_node *node = list_pop_front(&listener->ready);
    if (node == NULL) return ERR_AGAIN;
    struct tcp_conn *conn = list_entry(node, struct tcp_conn, queue_link);
    conn->listener = NULL;
    listener->count--;
    conn->has_handle = true;
    *out = conn;
    return 0;
}

void tcp_listener_close(struct tcp_listener *listener) {
    if (listener == NULL) return;
    struct tcp_stack *stack = listener->stack;
    struct list_node *lists[2] = {&listener->pending, &listener->ready};
    for (int i = 0; i < 2; i++) {
        struct list_node *node;
        while ((node = list_pop_front(lists[i])) != NULL) {
            struct tcp_conn *conn = list_entry(node, struct tcp_conn, queue_link);
            list_init(&conn->queue_link);
            conn->listener = NULL;
            listener->count--;
            tcp_send_rst(conn, stack->now);
            tcp_conn_finish(conn, ERR_CONNABORTED);
        }
    }
    list_del(&listener->link);
    net_env_free(listener, sizeof *listener);
    tcp_reap(stack);
}

void tcp_listener_set_notify(struct tcp_listener *listener, void (*fn)(void *arg), void *arg) {
    listener->notify_fn = fn;
    listener->notify_arg = arg;
}

/* ---- active open ----------------------------------------------------------------------- */

static bool port_in_use(struct tcp_stack *stack, const struct ip_addr *src, uint16_t port, const struct ip_addr *dst,
                        uint16_t dst_port) {
    if (tcp_lookup(stack, src, port, dst, dst_port) != NULL) return true;
    return tcp_find_listener(stack, src, port) != NULL;
}

/* A destination a connection can go to: not unspecified (0.0.0.0, ::). */
static bool specified(const struct ip_addr *addr) {
    static const uint8_t zero[IPV6_ADDR_LEN];
    if (addr->family == IP_FAMILY_V4) return addr->v4 != 0;
    if (addr->family == IP_FAMILY_V6) return __builtin_memcmp(addr->v6, zero, IPV6_ADDR_LEN) != 0;
    return false;
}

int tcp_connect(struct tcp_stack *stack, const struct ip_addr *src, const struct ip_addr *dst, uint16_t dst_port,
                uint64_t now_ns, struct tcp_conn **out) {
    if (stack == NULL || src == NULL || dst == NULL || out == NULL || dst_port == 0) return ERR_INVAL;
    if (!specified(dst) || src->family != dst->family) return ERR_INVAL;
    enter(stack, now_ns);
    /* RFC 6056 algorithm 1: a random start, then the next free port */
    uint16_t start;
    net_env_random(&start, sizeof start);
    uint16_t port = 0;
    for (uint32_t i = 0; i < TCP_EPHEMERAL_COUNT; i++) {
        uint16_t candidate = (uint16_t)(TCP_EPHEMERAL_FIRST + (start + i) % TCP_EPHEMERAL_COUNT);
        if (!port_in_use(stack, src, candidate, dst, dst_port)) {
            port = candidate;
            break;
        }
    }
    if (port == 0) return ERR_ADDRINUSE;
    struct tcp_conn *conn = tcp_conn_new(stack, src, port, dst, dst_port, now_ns);
    if (conn != NULL && tcp_conn_buffers(conn) != 0) {
        tcp_conn_finish(conn, ERR_NOMEM); /* no handle yet: freed below */
        conn = NULL;
    }
    if (conn == NULL) {
        tcp_reap(stack);
        return ERR_NOMEM;
    }
    conn->has_handle = true;
    conn->iss = tcp_isn(stack, src, port, dst, dst_port, now_ns);
    conn->snd_una = conn->snd_nxt = conn->snd_max = conn->iss;
    conn->snd_buf_seq = conn->iss + 1;
    conn->recover = conn->iss;
    conn->snd_sml = conn->iss;
    conn->state = TCP_SYN_SENT;
    stack->stats.active_opens++;
    tcp_output(conn, now_ns);
    tcp_reap(stack);
    *out = conn;
    return 0;
}

/* ---- data ------------------------------------------------------------------------------ */

long tcp_send(struct tcp_conn *conn, const void *data, size_t length, uint64_t now_ns) {
    struct tcp_stack *stack = conn->stack;
    enter(stack, now_ns);
    if (conn->error != 0) return conn->error;
    if (conn->fin_queued) return ERR_NOTCONN;
    switch (conn->state) {
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        break;
    default:
        return ERR_NOTCONN;
    }
    if (length == 0) return 0;
    uint32_t chunk = length > UINT32_MAX ? UINT32_MAX : (uint32_t)length;
    uint32_t queued = tcp_ring_append(&conn->send, data, chunk);
    if (queued == 0) return ERR_AGAIN;
    tcp_output(conn, now_ns);
    tcp_reap(stack);
    return (long)queued;
}

long tcp_recv(struct tcp_conn *conn, void *data, size_t length, uint64_t now_ns) {
    struct tcp_stack *stack = conn->stack;
    enter(stack, now_ns);
    struct tcp_ring *ring = &conn->recv;
    if (ring->length > 0) {
        if (length == 0) return 0;
        uint32_t n = length < ring->length ? (uint32_t)length : ring->length;
        tcp_ring_read(ring, 0, data, n);
        tcp_ring_consume(ring, n);
        /* the window may have opened enough to say so */
        if (conn->state == TCP_ESTABLISHED || conn->state == TCP_FIN_WAIT_1 || conn->state == TCP_FIN_WAIT_2)
            tcp_output(conn, now_ns);
        tcp_reap(stack);
        return (long)n;
    }
    if (conn->error != 0) return conn->error;
    if (conn->fin_received) return 0;
    if (conn->state == TCP_CLOSED) return ERR_NOTCONN;
    return ERR_AGAIN;
}

int tcp_shutdown(struct tcp_conn *conn, uint64_t now_ns) {
    struct tcp_stack *stack = conn->stack;
    enter(stack, now_ns);
    if (conn->error != 0) return conn->error;
    if (conn->fin_queued) return 0;
    switch (conn->state) {
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED: /* the FIN follows once established */
        conn->fin_queued = true;
        return 0;
    case TCP_ESTABLISHED:
        conn->state = TCP_FIN_WAIT_1;
        break;
    case TCP_CLOSE_WAIT:
        conn->state = TCP_LAST_ACK;
        break;
    default:
        return ERR_NOTCONN;
    }
    conn->fin_queued = true;
    tcp_output(conn, now_ns);
    tcp_reap(stack);
    return 0;
}

void tcp_close(struct tcp_conn *conn, uint64_t now_ns) {
    struct tcp_stack *stack = conn->stack;
    enter(stack, now_ns);
    conn->has_handle = false;
    conn->notify_fn = NULL;
    switch (conn->state) {
    case TCP_CLOSED:
    case TCP_SYN_SENT: /* RFC 9293 CLOSE in SYN_SENT: delete the TCB */
        tcp_conn_finish(conn, 0);
        break;
    case TCP_TIME_WAIT:
        tcp_ring_release(&conn->recv);
        conn->rcv_closed = true;
        break;
    default:
        if (conn->recv.length > 0) {
            /* data the application never read: tell the peer (RFC 2525 §2.17, Linux) */
            tcp_send_rst(conn, now_ns);
            tcp_conn_finish(conn, ERR_CONNABORTED);
            break;
        }
        conn->rcv_closed = true;
        if (!conn->fin_queued) {
            if (conn->state == TCP_ESTABLISHED) conn->state = TCP_FIN_WAIT_1;
            else if (conn->state == TCP_CLOSE_WAIT) conn->state = TCP_LAST_ACK;
            conn->fin_queued = true;
        }
        if (conn->state == TCP_FIN_WAIT_2) tcp_set_deadline(conn, &conn->close_deadline, now_ns + TCP_FIN_WAIT_2_TIMEOUT);
        tcp_output(conn, now_ns);
        break;
    }
    tcp_reap(stack);
}

void tcp_abort(struct tcp_conn *conn, uint64_t now_ns) {
    struct tcp_stack *stack = conn->stack;
    enter(stack, now_ns);
    conn->has_handle = false;
    conn->notify_fn = NULL;
    if (conn->state != TCP_TIME_WAIT) tcp_send_rst(conn, now_ns);
    tcp_conn_finish(conn, ERR_CONNABORTED);
    tcp_reap(stack);
}

void tcp_set_notify(struct tcp_conn *conn, void (*fn)(void *arg), void *arg) {
    conn->notify_fn = fn;
    conn->notify_arg = arg;
}

void tcp_set_nodelay(struct tcp_conn *conn, bool nodelay) { conn->nodelay = nodelay; }

/* ---- introspection --------------------------------------------------------------------- */

enum tcp_state tcp_conn_state(const struct tcp_conn *conn) { return conn->state; }

const char *tcp_state_name(enum tcp_state state) {
    static const char *const names[] = {
        [TCP_CLOSED] = "CLOSED",           [TCP_LISTEN] = "LISTEN",           [TCP_SYN_SENT] = "SYN_SENT",
        [TCP_SYN_RECEIVED] = "SYN_RECEIVED", [TCP_ESTABLISHED] = "ESTABLISHED", [TCP_FIN_WAIT_1] = "FIN_WAIT_1",
        [TCP_FIN_WAIT_2] = "FIN_WAIT_2",   [TCP_CLOSE_WAIT] = "CLOSE_WAIT",   [TCP_CLOSING] = "CLOSING",
        [TCP_LAST_ACK] = "LAST_ACK",       [TCP_TIME_WAIT] = "TIME_WAIT",
    };
    if ((unsigned)state >= ARRAY_SIZE(names)) return "?";
    return names[state];
}

int tcp_conn_error(const struct tcp_conn *conn) { return conn->error; }

void tcp_conn_endpoints(const struct tcp_conn *conn, struct ip_addr *local, uint16_t *local_port, struct ip_addr *remote,
                        uint16_t *remote_port) {
    if (local != NULL) *local = conn->local;
    if (local_port != NULL) *local_port = conn->local_port;
    if (remote != NULL) *remote = conn->remote;
    if (remote_port != NULL) *remote_port = conn->remote_port;
}

void tcp_get_stats(const struct tcp_stack *stack, struct tcp_stats *out) {
    *out = stack->stats;
    out->connections = stack->conn_count;
    out->established = 0;
    out->time_wait = 0;
    const struct list_node *node;
    list_for_each(node, &stack->conns) {
        const struct tcp_conn *conn = list_entry(node, const struct tcp_conn, link);
        if (conn->state == TCP_ESTABLISHED || conn->state == TCP_CLOSE_WAIT) out->established++;
        if (conn->state == TCP_TIME_WAIT) out->time_wait++;
    }
}

/* ---- invariants ------------------------------------------------------------------------ */

static int check_conn(const struct tcp_conn *conn, const char **what) {
#define CHECK(condition, text)                                                                                         \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            *what = text;                                                                                              \
            return -1;                                                                                                 \
        }                                                                                                              \
    } while (0)
    CHECK(!conn->dead, "a dead TCB is on the live list");
    CHECK(conn->send.length <= conn->send.capacity, "send ring over capacity");
    CHECK(conn->recv.length <= conn->recv.capacity, "receive ring over capacity");
    CHECK(conn->send.data != NULL || conn->send.length == 0, "released send ring has data");
    CHECK(conn->rto_deadline == TCP_NEVER || conn->persist_deadline == TCP_NEVER, "RTO and persist both on");
    CHECK((conn->local.family == IP_FAMILY_V4 || conn->local.family == IP_FAMILY_V6) &&
              conn->remote.family == conn->local.family,
          "the TCB's addresses are not of one family");
    CHECK(conn->mss == tcp_family_mss(conn->stack, conn->local.family) && conn->snd_mss <= conn->mss,
          "SND.MSS above the family's MSS");
    if (conn->state == TCP_CLOSED) return 0;
    CHECK(seq_leq(conn->snd_una, conn->snd_nxt), "SND.UNA > SND.NXT");
    CHECK(seq_leq(conn->snd_nxt, conn->snd_max), "SND.NXT > SND.MAX");
    if (conn->state == TCP_SYN_SENT || (conn->state == TCP_SYN_RECEIVED && conn->snd_una == conn->iss)) {
        CHECK(conn->snd_una == conn->iss && conn->snd_buf_seq == conn->iss + 1, "handshake sequence state");
        CHECK(seq_leq(conn->snd_max, conn->iss + 1), "data sent before the handshake");
    } else if (conn->state != TCP_TIME_WAIT) {
        bool fin_acked = tcp_fin_acked(conn);
        CHECK(fin_acked ? conn->snd_una == tcp_fin_seq(conn) + 1 && conn->send.length == 0
                        : conn->snd_una == conn->snd_buf_seq,
              "send ring does not start at SND.UNA");
        CHECK(seq_leq(conn->snd_max, tcp_fin_seq(conn) + (conn->fin_queued ? 1 : 0)), "SND.MAX beyond the data");
    }
    if (conn->recv.data != NULL) {
        uint32_t room = conn->recv.capacity - conn->recv.length;
        uint32_t previous = conn->rcv_nxt;
        for (unsigned i = 0; i < conn->ooo_count; i++) {
            const struct tcp_range *range = &conn->ooo[i];
            CHECK(seq_lt(previous, range->start), "out-of-order ranges unsorted, touching or at RCV.NXT");
            CHECK(seq_lt(range->start, range->end), "empty out-of-order range");
            CHECK(range->end - conn->rcv_nxt <= room, "out-of-order data beyond the buffer");
            previous = range->end;
        }
    }
    CHECK(conn->snd_mss > 0 && conn->cwnd >= conn->snd_mss, "cwnd below one segment");
    return 0;
#undef CHECK
}

int tcp_stack_check(const struct tcp_stack *stack, const char **what) {
    uint32_t count = 0;
    uint64_t earliest = TCP_NEVER;
    const struct list_node *node;
    list_for_each(node, &stack->conns) {
        const struct tcp_conn *conn = list_entry(node, const struct tcp_conn, link);
        if (check_conn(conn, what) != 0) return -1;
        uint64_t deadline = tcp_conn_deadline(conn);
        if (deadline < earliest) earliest = deadline;
        count++;
    }
    if (!stack->next_deadline_stale && stack->next_deadline != earliest) {
        *what = "the cached earliest deadline differs from the TCBs'";
        return -1;
    }
    if (count != stack->conn_count) {
        *what = "TCB count differs from the list";
        return -1;
    }
    if (count > stack->config.max_connections) {
        *what = "more TCBs than max_connections";
        return -1;
    }
    list_for_each(node, &stack->listeners) {
        const struct tcp_listener *listener = list_entry(node, const struct tcp_listener, link);
        unsigned queued = 0;
        const struct list_node *q;
        list_for_each(q, &listener->pending) queued++;
        list_for_each(q, &listener->ready) queued++;
        if (queued != listener->count || queued > listener->backlog) {
            *what = "listener queue count or backlog";
            return -1;
        }
    }
    return 0;
}
