/*
 * irmin/blake2b.h: BLAKE2b (RFC 7693), 1..64-byte digests, optional key up to 64 bytes.
 *
 * The store hashes with the unkeyed 64-byte digest (BLAKE2b-512, what node:crypto calls
 * "blake2b512"). Integer arithmetic only.
 */
#ifndef IRMIN_BLAKE2B_H
#define IRMIN_BLAKE2B_H

#include "irmin_env.h"

#define BLAKE2B_BLOCK_BYTES 128
#define BLAKE2B_MAX_DIGEST 64
#define BLAKE2B_MAX_KEY 64

struct blake2b_state {
    uint64_t chain[8];       /* h[0..7] */
    uint64_t counter[2];     /* t[0..1]: bytes compressed so far, 128-bit */
    uint8_t buffer[BLAKE2B_BLOCK_BYTES];
    size_t buffered;         /* bytes waiting in buffer (the last block is kept back for final) */
    size_t digest_length;
};

/*
 * Starts a hash with a `digest_length`-byte result (1..64) and a key of `key_length` bytes
 * (0..64; key may be NULL when key_length is 0). Returns false, touching nothing, when a length
 * is out of range.
 */
bool blake2b_init(struct blake2b_state *state, size_t digest_length, const void *key, size_t key_length);

/* Starts an unkeyed BLAKE2b-512 (64-byte digest). */
void blake2b_init512(struct blake2b_state *state);

void blake2b_update(struct blake2b_state *state, const void *data, size_t length);

/* Writes state->digest_length bytes to `digest`; the state must be initialized again to reuse. */
void blake2b_final(struct blake2b_state *state, uint8_t *digest);

/* One-shot: digest_length bytes of BLAKE2b(key, data). Returns false on a bad length. */
bool blake2b(uint8_t *digest, size_t digest_length, const void *key, size_t key_length, const void *data,
             size_t length);

/*
 * The RFC 7693 test vectors: "abc" (appendix A, 64-byte digest) and the self-test of appendix E
 * (keyed and unkeyed digests of 20/32/48/64 bytes over inputs of 0/3/128/129/255/1024 bytes,
 * hashed into one 32-byte "grand hash"). Returns true when both match; otherwise `failure` (may
 * be NULL) names the vector that did not.
 */
bool blake2b_selftest(const char **failure);

#endif
