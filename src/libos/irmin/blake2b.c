/*
 * irmin/blake2b.c: BLAKE2b as specified by RFC 7693 (sections 2.1-3.3), written from the RFC.
 */
#include "blake2b.h"

static const uint64_t blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* Message word schedule; rounds 10 and 11 reuse rows 0 and 1. */
static const uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotate_right(uint64_t word, unsigned bits)
{
    return (word >> bits) | (word << (64 - bits));
}

static inline uint64_t load_le64(const uint8_t *bytes)
{
    return (uint64_t)bytes[0] | (uint64_t)bytes[1] << 8 | (uint64_t)bytes[2] << 16 | (uint64_t)bytes[3] << 24 |
           (uint64_t)bytes[4] << 32 | (uint64_t)bytes[5] << 40 | (uint64_t)bytes[6] << 48 |
           (uint64_t)bytes[7] << 56;
}

/* The mixing function G (RFC 7693 section 3.1). */
#define BLAKE2B_G(a, b, c, d, x, y)                \
    do {                                           \
        v[a] = v[a] + v[b] + (x);                  \
        v[d] = rotate_right(v[d] ^ v[a], 32);      \
        v[c] = v[c] + v[d];                        \
        v[b] = rotate_right(v[b] ^ v[c], 24);      \
        v[a] = v[a] + v[b] + (y);                  \
        v[d] = rotate_right(v[d] ^ v[a], 16);      \
        v[c] = v[c] + v[d];                        \
        v[b] = rotate_right(v[b] ^ v[c], 63);      \
    } while (0)

/* The compression function F (RFC 7693 section 3.2) on state->buffer. */
static void blake2b_compress(struct blake2b_state *state, const uint8_t *block, bool last)
{
    uint64_t m[16];
    uint64_t v[16];
    for (int i = 0; i < 16; i++)
        m[i] = load_le64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = state->chain[i];
        v[i + 8] = blake2b_iv[i];
    }
    v[12] ^= state->counter[0];
    v[13] ^= state->counter[1];
    if (last)
        v[14] = ~v[14];
    for (int round = 0; round < 12; round++) {
        const uint8_t *s = blake2b_sigma[round];
        BLAKE2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        BLAKE2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        BLAKE2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        BLAKE2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        BLAKE2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        BLAKE2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        BLAKE2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        BLAKE2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++)
        state->chain[i] ^= v[i] ^ v[i + 8];
}

static void blake2b_count(struct blake2b_state *state, uint64_t bytes)
{
    state->counter[0] += bytes;
    if (state->counter[0] < bytes)
        state->counter[1]++;
}

bool blake2b_init(struct blake2b_state *state, size_t digest_length, const void *key, size_t key_length)
{
    if (digest_length == 0 || digest_length > BLAKE2B_MAX_DIGEST || key_length > BLAKE2B_MAX_KEY)
        return false;
    for (int i = 0; i < 8; i++)
        state->chain[i] = blake2b_iv[i];
    /* Parameter block: digest length, key length, fanout 1, depth 1 (RFC 7693 section 2.5). */
    state->chain[0] ^= 0x01010000ULL ^ ((uint64_t)key_length << 8) ^ (uint64_t)digest_length;
    state->counter[0] = 0;
    state->counter[1] = 0;
    state->buffered = 0;
    state->digest_length = digest_length;
    if (key_length > 0) {
        /* The key, zero-padded to a whole block, is the first block of the message. */
        irmin_memset(state->buffer, 0, BLAKE2B_BLOCK_BYTES);
        irmin_memcpy(state->buffer, key, key_length);
        state->buffered = BLAKE2B_BLOCK_BYTES;
    }
    return true;
}

void blake2b_init512(struct blake2b_state *state)
{
    blake2b_init(state, BLAKE2B_MAX_DIGEST, NULL, 0);
}

void blake2b_update(struct blake2b_state *state, const void *data, size_t length)
{
    const uint8_t *input = data;
    while (length > 0) {
        if (state->buffered == BLAKE2B_BLOCK_BYTES) {
            /* More input follows, so the buffered block is not the last one. */
            blake2b_count(state, BLAKE2B_BLOCK_BYTES);
            blake2b_compress(state, state->buffer, false);
            state->buffered = 0;
        }
        if (state->buffered == 0) {
            /* Whole blocks straight from the input, keeping at least one byte back for final. */
            while (length > BLAKE2B_BLOCK_BYTES) {
                blake2b_count(state, BLAKE2B_BLOCK_BYTES);
                blake2b_compress(state, input, false);
                input += BLAKE2B_BLOCK_BYTES;
                length -= BLAKE2B_BLOCK_BYTES;
            }
        }
        size_t room = BLAKE2B_BLOCK_BYTES - state->buffered;
        size_t take = length < room ? length : room;
        irmin_memcpy(state->buffer + state->buffered, input, take);
        state->buffered += take;
        input += take;
        length -= take;
    }
}

void blake2b_final(struct blake2b_state *state, uint8_t *digest)
{
    blake2b_count(state, state->buffered);
    irmin_memset(state->buffer + state->buffered, 0, BLAKE2B_BLOCK_BYTES - state->buffered);
    blake2b_compress(state, state->buffer, true);
    for (size_t i = 0; i < state->digest_length; i++)
        digest[i] = (uint8_t)(state->chain[i / 8] >> (8 * (i % 8)));
}

bool blake2b(uint8_t *digest, size_t digest_length, const void *key, size_t key_length, const void *data,
             size_t length)
{
    struct blake2b_state state;
    if (!blake2b_init(&state, digest_length, key, key_length))
        return false;
    blake2b_update(&state, data, length);
    blake2b_final(&state, digest);
    return true;
}

/* RFC 7693 appendix E: a deterministic byte sequence (a Fibonacci generator). */
static void selftest_sequence(uint8_t *out, size_t length, uint32_t seed)
{
    uint32_t a = 0xDEAD4BADu * seed;
    uint32_t b = 1;
    for (size_t i = 0; i < length; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
        out[i] = (uint8_t)(t >> 24);
    }
}

bool blake2b_selftest(const char **failure)
{
    /* RFC 7693 appendix A: BLAKE2b-512("abc"). */
    static const uint8_t abc_digest[64] = {
        0xBA, 0x80, 0xA5, 0x3F, 0x98, 0x1C, 0x4D, 0x0D, 0x6A, 0x27, 0x97, 0xB6, 0x9F, 0x12, 0xF6, 0xE9,
        0x4C, 0x21, 0x2F, 0x14, 0x68, 0x5A, 0xC4, 0xB7, 0x4B, 0x12, 0xBB, 0x6F, 0xDB, 0xFF, 0xA2, 0xD1,
        0x7D, 0x87, 0xC5, 0x39, 0x2A, 0xAB, 0x79, 0x2D, 0xC2, 0x52, 0xD5, 0xDE, 0x45, 0x33, 0xCC, 0x95,
        0x18, 0xD3, 0x8A, 0xA8, 0xDB, 0xF1, 0x92, 0x5A, 0xB9, 0x23, 0x86, 0xED, 0xD4, 0x00, 0x99, 0x23,
    };
    /* RFC 7693 appendix E: the grand hash of all self-test digests. */
    static const uint8_t grand_digest[32] = {
        0xC2, 0x3A, 0x78, 0x00, 0xD9, 0x81, 0x23, 0xBD, 0x10, 0xF5, 0x06, 0xC6, 0x1E, 0x29, 0xDA, 0x56,
        0x03, 0xD7, 0x63, 0xB8, 0xBB, 0xAD, 0x2E, 0x73, 0x7F, 0x5E, 0x76, 0x5A, 0x7B, 0xCC, 0xD4, 0x75,
    };
    static const size_t digest_lengths[4] = {20, 32, 48, 64};
    static const size_t input_lengths[6] = {0, 3, 128, 129, 255, 1024};

    uint8_t digest[64];
    blake2b(digest, 64, NULL, 0, "abc", 3);
    if (irmin_memcmp(digest, abc_digest, 64) != 0) {
        if (failure)
            *failure = "RFC 7693 appendix A: BLAKE2b-512(\"abc\") differs";
        return false;
    }

    uint8_t input[1024];
    uint8_t key[64];
    struct blake2b_state grand;
    blake2b_init(&grand, 32, NULL, 0);
    for (size_t i = 0; i < 4; i++) {
        size_t digest_length = digest_lengths[i];
        for (size_t j = 0; j < 6; j++) {
            size_t input_length = input_lengths[j];
            selftest_sequence(input, input_length, (uint32_t)input_length);
            blake2b(digest, digest_length, NULL, 0, input, input_length);
            blake2b_update(&grand, digest, digest_length);
            selftest_sequence(key, digest_length, (uint32_t)digest_length);
            blake2b(digest, digest_length, key, digest_length, input, input_length);
            blake2b_update(&grand, digest, digest_length);
        }
    }
    blake2b_final(&grand, digest);
    if (irmin_memcmp(digest, grand_digest, 32) != 0) {
        if (failure)
            *failure = "RFC 7693 appendix E: the self-test grand hash differs";
        return false;
    }
    if (failure)
        *failure = NULL;
    return true;
}
