/*
 * test/net/stack_fuzz6.h: the IPv6 part of the frame fuzzer (stack_fuzz.c): plausible IPv6
 * frames (echo, NDP messages with random options, router advertisements with random prefixes and
 * lifetimes, ICMPv6 errors, UDP and TCP, random extension-header chains, fragment sets shuffled
 * with duplicates and gaps), IPv6-specific mutations, checksum fix-ups, the checks on every IPv6
 * frame the stack sends, the neighbor cache's and reassembly's invariants, and IPv6 API calls.
 * Randomness comes from the caller's generator, so a run is repeatable from its seed.
 */
#ifndef TEST_NET_STACK_FUZZ6_H
#define TEST_NET_STACK_FUZZ6_H

#include "net/stack.h"

/* Forgets the fragments waiting from an earlier run. */
void fuzz6_reset(void);
/* A plausible IPv6 frame into `frame` (room for ETH_FRAME_MAX + 64 bytes); its length. */
size_t fuzz6_frame(uint64_t *rng, uint8_t *frame);
/* One to three IPv6-specific edits (header fields, extension-header bytes). */
void fuzz6_mutate(uint64_t *rng, uint8_t *frame, size_t length);
/* Recomputes the ICMPv6/UDP/TCP checksum when the headers say where it is and it fits. */
void fuzz6_fix_checksum(uint8_t *frame, size_t length);
/* Fails the test unless the IPv6 frame the stack sent is well formed (stack_fuzz6.c says what). */
void fuzz6_check_sent(const struct net_stack *stack, const uint8_t *frame, size_t length);
/* The IPv6 tables' invariants. */
void fuzz6_check_state(const struct net_stack *stack, uint64_t now_ns);
/* An IPv6 API call: echo, UDP, a static address. */
void fuzz6_api(uint64_t *rng, struct net_stack *stack, uint64_t now_ns);

#endif
