/*
 * net/tcp/tcp_buffer.c: the byte rings of a TCB and its out-of-order ranges.
 *
 * A ring's bytes are data[(head + i) % capacity] for i < length. Writes beyond the length
 * (out-of-order data) use the same addressing, so data received early is already in place
 * when the hole before it fills.
 */
#include "net/tcp/tcp_internal.h"

int tcp_ring_init(struct tcp_ring *ring, uint32_t capacity) {
    ring->data = net_env_alloc(capacity);
    if (ring->data == NULL) return ERR_NOMEM;
    ring->capacity = capacity;
    ring->head = 0;
    ring->length = 0;
    return 0;
}

void tcp_ring_release(struct tcp_ring *ring) {
    if (ring->data != NULL) net_env_free(ring->data, ring->capacity);
    ring->data = NULL;
    ring->head = 0;
    ring->length = 0;
}

/* Offset `offset` from the head as an index into data[]. */
static uint32_t ring_index(const struct tcp_ring *ring, uint32_t offset) {
    uint32_t index = ring->head + offset;
    /* head < capacity and offset ≤ capacity, so one subtraction is enough (and no overflow:
     * capacities are at most 1 GiB) */
    return index >= ring->capacity ? index - ring->capacity : index;
}

void tcp_ring_write(struct tcp_ring *ring, uint32_t offset, const uint8_t *data, uint32_t length) {
    if (length == 0) return;
    uint32_t index = ring_index(ring, offset);
    uint32_t first = MIN(length, ring->capacity - index);
    __builtin_memcpy(ring->data + index, data, first);
    if (first < length) __builtin_memcpy(ring->data, data + first, length - first);
}

void tcp_ring_read(const struct tcp_ring *ring, uint32_t offset, uint8_t *out, uint32_t length) {
    if (length == 0) return;
    uint32_t index = ring_index(ring, offset);
    uint32_t first = MIN(length, ring->capacity - index);
    __builtin_memcpy(out, ring->data + index, first);
    if (first < length) __builtin_memcpy(out + first, ring->data, length - first);
}

uint32_t tcp_ring_append(struct tcp_ring *ring, const uint8_t *data, uint32_t length) {
    uint32_t n = MIN(length, ring->capacity - ring->length);
    tcp_ring_write(ring, ring->length, data, n);
    ring->length += n;
    return n;
}

void tcp_ring_consume(struct tcp_ring *ring, uint32_t length) {
    ring->head = ring_index(ring, length);
    ring->length -= length;
    /* (head must not jump back to 0 when the ring empties: out-of-order data lies beyond the
     * length at positions relative to head) */
}

bool tcp_ooo_add(struct tcp_conn *conn, uint32_t start, uint32_t end) {
    /* Find the first range that ends at or after `start` (ranges are sorted and apart). */
    uint8_t i = 0;
    while (i < conn->ooo_count && seq_lt(conn->ooo[i].end, start)) i++;
    /* Merge with every range it touches. */
    uint8_t j = i;
    while (j < conn->ooo_count && seq_leq(conn->ooo[j].start, end)) {
        if (seq_lt(conn->ooo[j].start, start)) start = conn->ooo[j].start;
        if (seq_gt(conn->ooo[j].end, end)) end = conn->ooo[j].end;
        j++;
    }
    if (j == i) { /* touches none: insert at i */
        if (conn->ooo_count == TCP_OOO_RANGES) return false;
        __builtin_memmove(&conn->ooo[i + 1], &conn->ooo[i], (conn->ooo_count - i) * sizeof conn->ooo[0]);
        conn->ooo_count++;
    } else if (j > i + 1) { /* ranges i..j-1 collapse into i */
        __builtin_memmove(&conn->ooo[i + 1], &conn->ooo[j], (conn->ooo_count - j) * sizeof conn->ooo[0]);
        conn->ooo_count = (uint8_t)(conn->ooo_count - (j - i - 1));
    }
    conn->ooo[i].start = start;
    conn->ooo[i].end = end;
    return true;
}

uint32_t tcp_ooo_advance(struct tcp_conn *conn) {
    uint32_t next = conn->rcv_nxt;
    uint8_t used = 0;
    while (used < conn->ooo_count && seq_leq(conn->ooo[used].start, next)) {
        if (seq_gt(conn->ooo[used].end, next)) next = conn->ooo[used].end;
        used++;
    }
    if (used > 0) {
        __builtin_memmove(&conn->ooo[0], &conn->ooo[used], (conn->ooo_count - used) * sizeof conn->ooo[0]);
        conn->ooo_count = (uint8_t)(conn->ooo_count - used);
    }
    return next - conn->rcv_nxt;
}
