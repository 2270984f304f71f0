/*
 * net/arp.c: ARP (RFC 826) for the interface's IPv4 address: answering requests, the cache of
 * next hops (net/stack_internal.h states its rules), packets waiting for a resolution, and the
 * gratuitous announcement of a newly bound address.
 */
#include "net/stack_internal.h"
#include "net/wire/arp_wire.h"

static void send_arp(struct net_stack *stack, uint16_t operation, const uint8_t destination_mac[ETH_ADDR_LEN],
                     const uint8_t target_mac[ETH_ADDR_LEN], uint32_t target_ip) {
    uint8_t *frame = stack->frame;
    eth_write(frame, destination_mac, stack->mac, ETHERTYPE_ARP);
    struct arp_packet packet = {.operation = operation, .sender_ip = stack->ip, .target_ip = target_ip};
    __builtin_memcpy(packet.sender_mac, stack->mac, ETH_ADDR_LEN);
    __builtin_memcpy(packet.target_mac, target_mac, ETH_ADDR_LEN);
    arp_write(frame + ETH_HEADER_LEN, &packet);
    if (operation == ARP_REQUEST) stack->stats.arp_requests_out++;
    else stack->stats.arp_replies_out++;
    net_send_frame(stack, frame, ETH_HEADER_LEN + ARP_PACKET_LEN);
}

static const uint8_t zero_mac[ETH_ADDR_LEN];

static void send_request(struct net_stack *stack, struct arp_entry *entry, uint64_t now_ns) {
    send_arp(stack, ARP_REQUEST, eth_broadcast, zero_mac, entry->ip);
    entry->requests++;
    entry->next_request_ns = now_ns + ARP_RETRY_NS;
}

void arp_announce(struct net_stack *stack) {
    /* a gratuitous request: sender and target are both the new address (RFC 5227 §3) */
    send_arp(stack, ARP_REQUEST, eth_broadcast, zero_mac, stack->ip);
}

static struct arp_entry *find(struct net_stack *stack, uint32_t ip) {
    for (size_t i = 0; i < ARP_ENTRIES; i++)
        if (stack->arp[i].state != ARP_FREE && stack->arp[i].ip == ip) return &stack->arp[i];
    return NULL;
}

static void drop_queue(struct net_stack *stack, struct arp_entry *entry) {
    stack->stats.arp_unresolved += resolve_queue_drop(&entry->queue);
}

/* A free entry, or the least recently confirmed one without waiting packets. */
static struct arp_entry *allocate(struct net_stack *stack, uint32_t ip) {
    struct arp_entry *victim = NULL;
    for (size_t i = 0; i < ARP_ENTRIES; i++) {
        struct arp_entry *entry = &stack->arp[i];
        if (entry->state == ARP_FREE) {
            victim = entry;
            break;
        }
        if (entry->queue.count == 0 && (victim == NULL || entry->updated_ns < victim->updated_ns)) victim = entry;
    }
    if (victim == NULL) return NULL;
    drop_queue(stack, victim);
    __builtin_memset(victim, 0, sizeof *victim);
    victim->ip = ip;
    return victim;
}

/* The mapping for `ip` is `mac`: remember it and send what was waiting for it. */
static void learn(struct net_stack *stack, struct arp_entry *entry, const uint8_t mac[ETH_ADDR_LEN], uint64_t now_ns) {
    __builtin_memcpy(entry->mac, mac, ETH_ADDR_LEN);
    entry->state = ARP_REACHABLE;
    entry->updated_ns = now_ns;
    entry->requests = 0;
    resolve_queue_flush(stack, &entry->queue, entry->mac, ETHERTYPE_IPV4);
}

void arp_input(struct net_stack *stack, const uint8_t *data, size_t length, uint64_t now_ns) {
    struct arp_packet packet;
    if (!arp_parse(data, length, &packet)) {
        stack->stats.malformed++;
        return;
    }
    if (packet.operation == ARP_REQUEST) stack->stats.arp_requests_in++;
    else if (packet.operation == ARP_REPLY) stack->stats.arp_replies_in++;
    else {
        stack->stats.malformed++;
        return;
    }
    /* a packet claiming our own address is someone else's conflict (or a reflection of our own
     * announcement): never cache or answer it */
    if (stack->ip == 0 || packet.sender_ip == 0 || packet.sender_ip == stack->ip || eth_is_multicast(packet.sender_mac)) return;
    /* RFC 826's merge: refresh a mapping we hold whoever the packet was for, add one only if
     * the packet is for us (the sender will want to hear from us) */
    struct arp_entry *entry = find(stack, packet.sender_ip);
    bool for_us = packet.target_ip == stack->ip;
    if (entry != NULL) learn(stack, entry, packet.sender_mac, now_ns);
    else if (for_us && (entry = allocate(stack, packet.sender_ip)) != NULL) learn(stack, entry, packet.sender_mac, now_ns);
    if (for_us && packet.operation == ARP_REQUEST) send_arp(stack, ARP_REPLY, packet.sender_mac, packet.sender_mac, packet.sender_ip);
}

int arp_output(struct net_stack *stack, uint32_t next_hop, const uint8_t *packet, size_t length, uint64_t now_ns) {
    if (net_is_local_broadcast(stack, next_hop)) {
        net_send_ip_frame(stack, eth_broadcast, ETHERTYPE_IPV4, packet, length);
        return 0;
    }
    struct arp_entry *entry = find(stack, next_hop);
    if (entry != NULL && entry->state == ARP_REACHABLE) {
        net_send_ip_frame(stack, entry->mac, ETHERTYPE_IPV4, packet, length);
        /* stale: ask again, but keep using the old answer meanwhile */
        if (now_ns - entry->updated_ns > ARP_REACHABLE_NS && now_ns >= entry->next_request_ns) {
            send_arp(stack, ARP_REQUEST, entry->mac, entry->mac, next_hop);
            entry->next_request_ns = now_ns + ARP_RETRY_NS;
        }
        return 0;
    }
    /* the copy first: without it, neither an entry nor a request (nor a dropped older packet) */
    uint8_t *copy = net_env_alloc(length);
    if (copy == NULL) return ERR_NOMEM;
    __builtin_memcpy(copy, packet, length);
    bool new_entry = entry == NULL;
    if (new_entry) {
        entry = allocate(stack, next_hop);
        if (entry == NULL) {
            net_env_free(copy, length);
            stack->stats.arp_unresolved++;
            return ERR_NOMEM;
        }
        entry->state = ARP_INCOMPLETE;
        entry->updated_ns = now_ns;
    }
    stack->stats.arp_unresolved += resolve_queue_push(&entry->queue, copy, length);
    /* only now: the request is built in the scratch frame, where `packet` may lie */
    if (new_entry) send_request(stack, entry, now_ns);
    return 0;
}

void arp_timers(struct net_stack *stack, uint64_t now_ns) {
    for (size_t i = 0; i < ARP_ENTRIES; i++) {
        struct arp_entry *entry = &stack->arp[i];
        if (entry->state != ARP_INCOMPLETE || now_ns < entry->next_request_ns) continue;
        if (entry->requests >= ARP_MAX_REQUESTS) {
            char text[16];
            ipv4_format(entry->ip, text);
            net_env_log(NET_LOG_DEBUG, "arp", "no answer from %s after %u requests: %u packets dropped", text, entry->requests,
                        entry->queue.count);
            drop_queue(stack, entry);
            entry->state = ARP_FREE;
            continue;
        }
        send_request(stack, entry, now_ns);
    }
}

uint64_t arp_next_deadline(const struct net_stack *stack) {
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < ARP_ENTRIES; i++)
        if (stack->arp[i].state == ARP_INCOMPLETE && stack->arp[i].next_request_ns < next) next = stack->arp[i].next_request_ns;
    return next;
}

void arp_free(struct net_stack *stack) {
    for (size_t i = 0; i < ARP_ENTRIES; i++) resolve_queue_drop(&stack->arp[i].queue);
}
