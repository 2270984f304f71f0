/*
 * irmin/codec.c: the deterministic serialization whose BLAKE2b-512 is an object's hash.
 * docs/irmin-store.md ("Serialization") is the specification; keep the two in step.
 *
 *   contents  0x01 | uleb128(length) | bytes
 *   node      0x02 | uleb128(count)  | count x (kind | uleb128(step length) | step | child hash)
 *             entries in bytewise order of steps; kind 0x01 = contents, 0x02 = node
 *   commit    0x03 | node hash | uleb128(parent count) | parent hashes in bytewise order
 *             | date (8 bytes, little-endian two's complement)
 *             | uleb128(author length) | author | uleb128(message length) | message
 */
#include "irmin_internal.h"

void irmin_sink_write(struct irmin_sink *sink, const void *bytes, size_t length)
{
    if (sink->hash != NULL) {
        blake2b_update(sink->hash, bytes, length);
        return;
    }
    if (sink->length < sink->capacity) {
        size_t room = sink->capacity - sink->length;
        irmin_memcpy(sink->buffer + sink->length, bytes, length < room ? length : room);
    }
    sink->length += length;
}

void irmin_encode_uleb128(struct irmin_sink *sink, uint64_t value)
{
    uint8_t bytes[10];
    size_t length = 0;
    do {
        uint8_t byte = value & 0x7f;
        value >>= 7;
        if (value != 0)
            byte |= 0x80;
        bytes[length++] = byte;
    } while (value != 0);
    irmin_sink_write(sink, bytes, length);
}

static void encode_byte(struct irmin_sink *sink, uint8_t byte)
{
    irmin_sink_write(sink, &byte, 1);
}

void irmin_encode_contents(struct irmin_sink *sink, const uint8_t *bytes, size_t length)
{
    encode_byte(sink, IRMIN_KIND_CONTENTS);
    irmin_encode_uleb128(sink, length);
    irmin_sink_write(sink, bytes, length);
}

void irmin_encode_node_header(struct irmin_sink *sink, uint64_t count)
{
    encode_byte(sink, IRMIN_KIND_NODE);
    irmin_encode_uleb128(sink, count);
}

void irmin_encode_node_entry(struct irmin_sink *sink, enum irmin_kind kind, const uint8_t *step, size_t step_length,
                             const struct irmin_hash *child)
{
    /* One write per entry: the kind, the length (a step is far shorter than 2^63) and the step. */
    uint8_t head[1 + 10];
    struct irmin_sink head_sink = {.buffer = head, .capacity = sizeof head};
    encode_byte(&head_sink, (uint8_t)kind);
    irmin_encode_uleb128(&head_sink, step_length);
    irmin_sink_write(sink, head, head_sink.length);
    irmin_sink_write(sink, step, step_length);
    irmin_sink_write(sink, child->bytes, IRMIN_HASH_BYTES);
}

void irmin_encode_commit(struct irmin_sink *sink, const struct irmin_hash *node, const struct irmin_hash *parents,
                         size_t parent_count, int64_t date, const char *author, size_t author_length,
                         const char *message, size_t message_length)
{
    encode_byte(sink, IRMIN_KIND_COMMIT);
    irmin_sink_write(sink, node->bytes, IRMIN_HASH_BYTES);
    irmin_encode_uleb128(sink, parent_count);
    for (size_t i = 0; i < parent_count; i++)
        irmin_sink_write(sink, parents[i].bytes, IRMIN_HASH_BYTES);
    uint8_t date_bytes[8];
    uint64_t date_bits = (uint64_t)date;
    for (int i = 0; i < 8; i++)
        date_bytes[i] = (uint8_t)(date_bits >> (8 * i));
    irmin_sink_write(sink, date_bytes, 8);
    irmin_encode_uleb128(sink, author_length);
    irmin_sink_write(sink, author, author_length);
    irmin_encode_uleb128(sink, message_length);
    irmin_sink_write(sink, message, message_length);
}

void irmin_hash_contents(const uint8_t *bytes, size_t length, struct irmin_hash *hash)
{
    struct blake2b_state state;
    blake2b_init512(&state);
    struct irmin_sink sink = {.hash = &state};
    irmin_encode_contents(&sink, bytes, length);
    blake2b_final(&state, hash->bytes);
}

void irmin_hash_stored_node(const struct irmin_repo *repo, const struct irmin_stored_entry *entries, uint32_t count,
                            struct irmin_hash *hash)
{
    struct blake2b_state state;
    blake2b_init512(&state);
    struct irmin_sink sink = {.hash = &state};
    irmin_encode_node_header(&sink, count);
    for (uint32_t i = 0; i < count; i++) {
        const struct irmin_step *step = &repo->steps[entries[i].step];
        const struct irmin_object *child = irmin_object_at(repo, entries[i].object);
        irmin_encode_node_entry(&sink, (enum irmin_kind)child->kind, step->bytes, step->length, &child->hash);
    }
    blake2b_final(&state, hash->bytes);
}
