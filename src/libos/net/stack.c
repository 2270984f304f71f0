/* net/stack.c: the stack's interface: configuration, Ethernet dispatch, timers, counters. */
#include "net/stack_internal.h"
#include "net/tcp/tcp.h"

static void tcp_output(void *ctx, const struct ip_addr *source, const struct ip_addr *destination, const uint8_t *segment,
                       size_t length) {
    struct net_stack *stack = ctx;
    net_ip_output(stack, source, destination, IPV4_PROTOCOL_TCP, segment, length, stack->clock_ns);
}

struct net_stack *net_stack_new(const uint8_t mac[ETH_ADDR_LEN], uint16_t mtu, net_transmit_fn transmit, void *ctx) {
    if (mtu < 576 || mtu > ETH_MTU) return NULL;
    struct net_stack *stack = net_env_alloc(sizeof *stack);
    if (stack == NULL) return NULL;
    __builtin_memset(stack, 0, sizeof *stack);
    __builtin_memcpy(stack->mac, mac, ETH_ADDR_LEN);
    stack->mtu = mtu;
    stack->transmit = transmit;
    stack->transmit_ctx = ctx;
    uint16_t random[2];
    net_env_random(random, sizeof random);
    stack->next_ip_id = random[0];
    stack->next_ephemeral_port = (uint16_t)(49152 + random[1] % 16384);
    struct tcp_config tcp = {
        .mss = (uint16_t)(mtu - IPV4_HEADER_LEN - 20),
        .send_buffer = NET_TCP_SEND_BUFFER,
        .receive_buffer = NET_TCP_RECEIVE_BUFFER,
        .window_scaling = true,
        .timestamps = true,
        .max_connections = NET_TCP_MAX_CONNECTIONS,
    };
    stack->tcp = tcp_stack_new(&tcp, tcp_output, stack);
    if (stack->tcp == NULL) {
        net_env_free(stack, sizeof *stack);
        return NULL;
    }
    return stack;
}

void net_stack_free(struct net_stack *stack) {
    if (stack == NULL) return;
    tcp_stack_free(stack->tcp);
    arp_free(stack);
    ipv4_free(stack);
    ipv6_free(stack);
    net_env_free(stack, sizeof *stack);
}

void net_stack_set_ipv4(struct net_stack *stack, uint32_t address, unsigned prefix, uint32_t gateway, uint64_t now_ns) {
    (void)now_ns;
    if (prefix > 32) prefix = 32;
    stack->ip = address;
    stack->prefix = prefix;
    stack->netmask = prefix == 0 ? 0 : ~0u << (32 - prefix);
    stack->gateway = gateway;
    if (address != 0) arp_announce(stack);
}

void net_stack_get_ipv4(const struct net_stack *stack, uint32_t *address, unsigned *prefix, uint32_t *gateway) {
    if (address) *address = stack->ip;
    if (prefix) *prefix = stack->prefix;
    if (gateway) *gateway = stack->gateway;
}

const uint8_t *net_stack_mac(const struct net_stack *stack) { return stack->mac; }

struct tcp_stack *net_stack_tcp(struct net_stack *stack) { return stack->tcp; }

bool net_is_local_broadcast(const struct net_stack *stack, uint32_t address) {
    if (address == IPV4_BROADCAST) return true;
    return stack->prefix > 0 && stack->prefix < 31 && address == (stack->ip | ~stack->netmask);
}

void net_send_frame(struct net_stack *stack, const uint8_t *frame, size_t length) {
    if (stack->transmit(stack->transmit_ctx, frame, length) != 0) {
        stack->stats.transmit_errors++;
        return;
    }
    stack->stats.frames_out++;
    stack->stats.bytes_out += length;
}

void net_send_ip_frame(struct net_stack *stack, const uint8_t mac[ETH_ADDR_LEN], uint16_t ethertype, const uint8_t *packet,
                       size_t length) {
    uint8_t *frame = stack->frame;
    eth_write(frame, mac, stack->mac, ethertype);
    /* the packet may already lie in the scratch frame, just past the Ethernet header */
    if (frame + ETH_HEADER_LEN != packet) __builtin_memmove(frame + ETH_HEADER_LEN, packet, length);
    net_send_frame(stack, frame, ETH_HEADER_LEN + length);
}

struct echo_listener *echo_listener_find(struct echo_listener *table, uint16_t id) {
    for (size_t i = 0; i < ECHO_LISTENERS; i++)
        if (table[i].used && table[i].id == id) return &table[i];
    return NULL;
}

int echo_listener_set(struct echo_listener *table, uint16_t id, const struct echo_listener *listener) {
    struct echo_listener *slot = echo_listener_find(table, id);
    if (slot == NULL && listener == NULL) return 0;
    for (size_t i = 0; i < ECHO_LISTENERS && slot == NULL; i++)
        if (!table[i].used) slot = &table[i];
    if (slot == NULL) return ERR_BUSY;
    if (listener == NULL) slot->used = false;
    else *slot = (struct echo_listener){.used = true, .id = id, .fn = listener->fn, .ctx = listener->ctx};
    return 0;
}

unsigned resolve_queue_push(struct resolve_queue *queue, uint8_t *packet, size_t length) {
    unsigned dropped = 0;
    if (queue->count == RESOLVE_QUEUE_MAX) {
        net_env_free(queue->packets[0].packet, queue->packets[0].length);
        __builtin_memmove(&queue->packets[0], &queue->packets[1], sizeof queue->packets[0] * (RESOLVE_QUEUE_MAX - 1));
        queue->count--;
        dropped = 1;
    }
    queue->packets[queue->count].packet = packet;
    queue->packets[queue->count].length = length;
    queue->count++;
    return dropped;
}

void resolve_queue_flush(struct net_stack *stack, struct resolve_queue *queue, const uint8_t mac[ETH_ADDR_LEN],
                         uint16_t ethertype) {
    for (unsigned i = 0; i < queue->count; i++) {
        net_send_ip_frame(stack, mac, ethertype, queue->packets[i].packet, queue->packets[i].length);
        net_env_free(queue->packets[i].packet, queue->packets[i].length);
    }
    queue->count = 0;
}

unsigned resolve_queue_drop(struct resolve_queue *queue) {
    unsigned dropped = queue->count;
    for (unsigned i = 0; i < queue->count; i++) net_env_free(queue->packets[i].packet, queue->packets[i].length);
    queue->count = 0;
    return dropped;
}

void net_stack_input(struct net_stack *stack, const uint8_t *frame, size_t length, uint64_t now_ns) {
    stack->clock_ns = now_ns;
    stack->stats.frames_in++;
    stack->stats.bytes_in += length;
    struct eth_header eth;
    if (!eth_parse(frame, length, &eth)) {
        stack->stats.malformed++;
        return;
    }
    /* IPv6 multicast (33:33:...) too once IPv6 is on: ipv6_input checks the groups */
    bool ipv6_group = eth.type == ETHERTYPE_IPV6 && eth.destination[0] == 0x33 && eth.destination[1] == 0x33 &&
                      stack->ipv6.enabled;
    if (!eth_equal(eth.destination, stack->mac) && !eth_is_broadcast(eth.destination) && !ipv6_group) {
        stack->stats.not_for_us++;
        return;
    }
    const uint8_t *payload = frame + ETH_HEADER_LEN;
    size_t payload_length = length - ETH_HEADER_LEN;
    switch (eth.type) {
    case ETHERTYPE_ARP: arp_input(stack, payload, payload_length, now_ns); break;
    case ETHERTYPE_IPV4: ipv4_input(stack, payload, payload_length, now_ns); break;
    case ETHERTYPE_IPV6: ipv6_input(stack, payload, payload_length, now_ns); break;
    default: stack->stats.not_for_us++; break;
    }
}

void net_stack_timers(struct net_stack *stack, uint64_t now_ns) {
    stack->clock_ns = now_ns;
    arp_timers(stack, now_ns);
    ipv4_timers(stack, now_ns);
    ipv6_timers(stack, now_ns);
    tcp_timers(stack->tcp, now_ns);
}

uint64_t net_stack_next_deadline(const struct net_stack *stack) {
    uint64_t next = arp_next_deadline(stack);
    next = MIN(next, ipv4_next_deadline(stack));
    next = MIN(next, ipv6_next_deadline(stack));
    return MIN(next, tcp_next_deadline(stack->tcp));
}

void net_stack_set_clock(struct net_stack *stack, uint64_t now_ns) { stack->clock_ns = now_ns; }

void net_stack_get_stats(const struct net_stack *stack, struct net_stack_stats *stats) { *stats = stack->stats; }
