/*
 * net/ndp.c: Neighbor Discovery (RFC 4861) for the neighbor cache: validating every ND message
 * (§6.1, §7.1), answering neighbor solicitations for our addresses (and telling slaac.c of DAD
 * conflicts, RFC 4862 §5.4.3-4), processing advertisements (§7.2.5, the R/S/O flags), resolving
 * next hops with packets waiting (§7.2.2) and neighbor unreachability detection's states
 * (§7.3.3). The cache's rules are in net/stack_internal.h. Router advertisements go to slaac.c.
 *
 * Not implemented: acting on redirects (validated and counted only), upper-layer reachability
 * hints, and the ICMPv6 address-unreachable errors for packets that gave up waiting: those are
 * our own packets, so the drop is counted (nd_unresolved) and logged instead.
 */
#include "net/stack_internal.h"

static struct ndp_entry *find(struct net_stack *stack, const uint8_t ip[16]) {
    for (size_t i = 0; i < NDP_ENTRIES; i++) {
        struct ndp_entry *entry = &stack->ipv6.neighbors[i];
        if (entry->state != NDP_FREE && ipv6_equal(entry->ip, ip)) return entry;
    }
    return NULL;
}

static void drop_queue(struct net_stack *stack, struct ndp_entry *entry) {
    stack->stats.nd_unresolved += resolve_queue_drop(&entry->queue);
}

static void free_entry(struct net_stack *stack, struct ndp_entry *entry) {
    drop_queue(stack, entry);
    __builtin_memset(entry, 0, sizeof *entry);
}

/* A free entry, or the least recently used one without waiting packets. */
static struct ndp_entry *allocate(struct net_stack *stack, const uint8_t ip[16], uint64_t now_ns) {
    struct ndp_entry *victim = NULL;
    for (size_t i = 0; i < NDP_ENTRIES; i++) {
        struct ndp_entry *entry = &stack->ipv6.neighbors[i];
        if (entry->state == NDP_FREE) {
            victim = entry;
            break;
        }
        if (entry->queue.count == 0 && (victim == NULL || entry->used_ns < victim->used_ns)) victim = entry;
    }
    if (victim == NULL) return NULL;
    free_entry(stack, victim);
    __builtin_memcpy(victim->ip, ip, 16);
    victim->used_ns = now_ns;
    return victim;
}

uint64_t ndp_random_reachable(struct net_stack *stack) {
    /* uniformly in [0.5, 1.5) x BaseReachableTime (RFC 4861 §6.3.2) */
    uint64_t base = stack->ipv6.base_reachable_ns;
    return base / 2 + ipv6_random(stack) % (base == 0 ? 1 : base);
}

/* A neighbor solicitation for `entry`: multicast to its solicited-node group while INCOMPLETE,
 * unicast to the cached address while PROBE. */
static void solicit(struct net_stack *stack, struct ndp_entry *entry, uint64_t now_ns) {
    entry->probes++;
    entry->timer_ns = now_ns + stack->ipv6.retrans_ns;
    const uint8_t *source = ipv6_select_source(stack, entry->ip);
    if (source == NULL) return; /* no usable address yet: the timer retries, then gives up */
    uint8_t destination[16];
    if (entry->state == NDP_PROBE) __builtin_memcpy(destination, entry->ip, 16);
    else ipv6_solicited_node(entry->ip, destination);
    size_t length = ndp_write_ns(ipv6_payload_buffer(stack), entry->ip, stack->mac);
    stack->stats.nd_ns_out++;
    icmpv6_send(stack, source, destination, IPV6_ND_HOP_LIMIT, length, now_ns);
}

/* Sends what waited for `entry`'s address. */
static void flush(struct net_stack *stack, struct ndp_entry *entry) {
    resolve_queue_flush(stack, &entry->queue, entry->mac, ETHERTYPE_IPV6);
}

static void set_reachable(struct net_stack *stack, struct ndp_entry *entry, uint64_t now_ns) {
    entry->state = NDP_REACHABLE;
    entry->timer_ns = now_ns + stack->ipv6.reachable_ns;
    entry->probes = 0;
    entry->used_ns = now_ns;
}

static void set_stale(struct ndp_entry *entry) {
    entry->state = NDP_STALE;
    entry->timer_ns = UINT64_MAX;
    entry->probes = 0;
}

void ndp_learn(struct net_stack *stack, const uint8_t address[16], const uint8_t mac[ETH_ADDR_LEN], bool is_router,
               uint64_t now_ns) {
    if (eth_is_multicast(mac)) return;
    struct ndp_entry *entry = find(stack, address);
    if (entry == NULL) {
        entry = allocate(stack, address, now_ns);
        if (entry == NULL) return;
        __builtin_memcpy(entry->mac, mac, ETH_ADDR_LEN);
        set_stale(entry);
    } else if (entry->state == NDP_INCOMPLETE) {
        __builtin_memcpy(entry->mac, mac, ETH_ADDR_LEN);
        set_stale(entry);
        if (entry->queue.count > 0) {
            /* what waited is sent now: a STALE entry used becomes DELAY (§7.3.3) */
            flush(stack, entry);
            entry->state = NDP_DELAY;
            entry->timer_ns = now_ns + NDP_DELAY_NS;
        }
    } else if (!eth_equal(entry->mac, mac)) {
        __builtin_memcpy(entry->mac, mac, ETH_ADDR_LEN);
        set_stale(entry);
    }
    if (is_router) entry->is_router = true;
}

int ndp_output(struct net_stack *stack, const uint8_t next_hop[16], const uint8_t *packet, size_t length, uint64_t now_ns) {
    struct ndp_entry *entry = find(stack, next_hop);
    if (entry != NULL && entry->state != NDP_INCOMPLETE) {
        net_send_ip_frame(stack, entry->mac, ETHERTYPE_IPV6, packet, length);
        entry->used_ns = now_ns;
        if (entry->state == NDP_STALE) {
            entry->state = NDP_DELAY;
            entry->timer_ns = now_ns + NDP_DELAY_NS;
        }
        return 0;
    }
    /* the copy first: without it, neither an entry nor a solicitation */
    uint8_t *copy = net_env_alloc(length);
    if (copy == NULL) return ERR_NOMEM;
    __builtin_memcpy(copy, packet, length);
    bool new_entry = entry == NULL;
    if (new_entry) {
        entry = allocate(stack, next_hop, now_ns);
        if (entry == NULL) {
            net_env_free(copy, length);
            stack->stats.nd_unresolved++;
            return ERR_NOMEM;
        }
        entry->state = NDP_INCOMPLETE;
    }
    stack->stats.nd_unresolved += resolve_queue_push(&entry->queue, copy, length);
    /* only now: the solicitation is built in the scratch frame, where `packet` may lie */
    if (new_entry) solicit(stack, entry, now_ns);
    return 0;
}

void ndp_timers(struct net_stack *stack, uint64_t now_ns) {
    for (size_t i = 0; i < NDP_ENTRIES; i++) {
        struct ndp_entry *entry = &stack->ipv6.neighbors[i];
        if (entry->state == NDP_FREE || entry->state == NDP_STALE || now_ns < entry->timer_ns) continue;
        char text[IP_ADDR_TEXT_MAX];
        switch (entry->state) {
        case NDP_INCOMPLETE:
            if (entry->probes >= NDP_MAX_MULTICAST_SOLICIT) {
                ipv6_format(entry->ip, text);
                net_env_log(NET_LOG_DEBUG, "ndp", "address unreachable: no answer from %s after %u solicitations, %u packets dropped",
                            text, entry->probes, entry->queue.count);
                free_entry(stack, entry);
            } else {
                solicit(stack, entry, now_ns);
            }
            break;
        case NDP_REACHABLE: set_stale(entry); break;
        case NDP_DELAY:
            entry->state = NDP_PROBE;
            entry->probes = 0;
            solicit(stack, entry, now_ns);
            break;
        case NDP_PROBE:
            if (entry->probes >= NDP_MAX_UNICAST_SOLICIT) {
                ipv6_format(entry->ip, text);
                net_env_log(NET_LOG_DEBUG, "ndp", "%s stopped answering: entry removed", text);
                free_entry(stack, entry);
            } else {
                solicit(stack, entry, now_ns);
            }
            break;
        default: break;
        }
    }
}

uint64_t ndp_next_deadline(const struct net_stack *stack) {
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < NDP_ENTRIES; i++) {
        const struct ndp_entry *entry = &stack->ipv6.neighbors[i];
        if (entry->state != NDP_FREE && entry->state != NDP_STALE) next = MIN(next, entry->timer_ns);
    }
    return next;
}

void ndp_free(struct net_stack *stack) {
    for (size_t i = 0; i < NDP_ENTRIES; i++) resolve_queue_drop(&stack->ipv6.neighbors[i].queue);
}

/* ---- input ----------------------------------------------------------------------------------- */

static void invalid(struct net_stack *stack, const struct ipv6_header *ip, uint8_t type, const char *why) {
    char from[IP_ADDR_TEXT_MAX];
    ipv6_format(ip->source, from);
    net_env_log(NET_LOG_DEBUG, "ndp", "invalid ND message (type %u) from %s: %s", type, from, why);
    stack->stats.nd_invalid++;
}

static bool is_solicited_node_group(const uint8_t address[16]) {
    static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    return __builtin_memcmp(address, prefix, sizeof prefix) == 0;
}

static void neighbor_solicitation(struct net_stack *stack, const struct ipv6_header *ip, const struct ndp_message *m,
                                  uint64_t now_ns) {
    stack->stats.nd_ns_in++;
    bool from_unspecified = ipv6_is_unspecified(ip->source);
    if (ipv6_is_multicast(m->target)) return invalid(stack, ip, m->type, "multicast target");
    /* a DAD probe goes to a solicited-node group and carries no link-layer address (§7.1.1) */
    if (from_unspecified && (!is_solicited_node_group(ip->destination) || m->options.source_mac != NULL))
        return invalid(stack, ip, m->type, "from :: but not a DAD probe");
    struct ipv6_address *ours = ipv6_find_address(stack, m->target);
    if (ours == NULL || ours->state == NET_IPV6_DUPLICATE) return;
    if (ours->state == NET_IPV6_TENTATIVE) {
        /* another host probing for the address we are probing for: it is taken (RFC 4862
         * §5.4.3); a solicitation from an address is for the address's owner, not us yet */
        if (from_unspecified) slaac_dad_conflict(stack, ours, "a neighbor solicitation from another host doing DAD");
        return;
    }
    if (!from_unspecified && m->options.source_mac != NULL) ndp_learn(stack, ip->source, m->options.source_mac, false, now_ns);
    /* the answer: solicited and unicast to the asker, or to all nodes for a DAD probe from
     * another host (which then learns the address is taken); override, as we are no anycast */
    uint8_t target[16], destination[16];
    __builtin_memcpy(target, m->target, 16);
    __builtin_memcpy(destination, from_unspecified ? ipv6_all_nodes : ip->source, 16);
    uint32_t flags = NDP_NA_OVERRIDE | (from_unspecified ? 0 : NDP_NA_SOLICITED);
    size_t length = ndp_write_na(ipv6_payload_buffer(stack), flags, target, stack->mac);
    stack->stats.nd_na_out++;
    icmpv6_send(stack, target, destination, IPV6_ND_HOP_LIMIT, length, now_ns);
}

static void neighbor_advertisement(struct net_stack *stack, const struct ipv6_header *ip, const struct ndp_message *m,
                                   uint64_t now_ns) {
    stack->stats.nd_na_in++;
    if (ipv6_is_multicast(m->target)) return invalid(stack, ip, m->type, "multicast target");
    if (ipv6_is_multicast(ip->destination) && m->solicited) return invalid(stack, ip, m->type, "solicited to a multicast group");
    struct ipv6_address *ours = ipv6_find_address(stack, m->target);
    if (ours != NULL) {
        char text[IP_ADDR_TEXT_MAX];
        if (ours->state == NET_IPV6_TENTATIVE) {
            slaac_dad_conflict(stack, ours, "a neighbor advertisement");
        } else if (ours->state == NET_IPV6_PREFERRED || ours->state == NET_IPV6_DEPRECATED) {
            ipv6_format(m->target, text);
            net_env_log(NET_LOG_WARN, "ndp", "another host advertises our address %s", text);
        }
        return;
    }
    struct ndp_entry *entry = find(stack, m->target);
    if (entry == NULL) return; /* nobody asked: no entry made (§7.2.5) */
    const uint8_t *mac = m->options.target_mac;
    if (mac != NULL && eth_is_multicast(mac)) return invalid(stack, ip, m->type, "multicast link-layer address");
    if (entry->state == NDP_INCOMPLETE) {
        if (mac == NULL) return;
        __builtin_memcpy(entry->mac, mac, ETH_ADDR_LEN);
        entry->is_router = m->router;
        if (m->solicited) set_reachable(stack, entry, now_ns);
        else set_stale(entry);
        flush(stack, entry);
        return;
    }
    bool different = mac != NULL && !eth_equal(mac, entry->mac);
    if (!m->override && different) {
        /* a changed address without override is only a hint to check (§7.2.5) */
        if (entry->state == NDP_REACHABLE) set_stale(entry);
        return;
    }
    if (mac != NULL) __builtin_memcpy(entry->mac, mac, ETH_ADDR_LEN);
    if (m->solicited) set_reachable(stack, entry, now_ns);
    else if (different) set_stale(entry);
    if (entry->is_router && !m->router) slaac_router_gone(stack, entry->ip);
    entry->is_router = m->router;
}

void ndp_input(struct net_stack *stack, const struct ipv6_header *ip, const struct icmpv6_header *icmp, uint64_t now_ns) {
    /* only from this link: routers decrement the hop limit (§6.1, §7.1) */
    if (ip->hop_limit != IPV6_ND_HOP_LIMIT) return invalid(stack, ip, icmp->type, "hop limit not 255");
    if (icmp->code != 0) return invalid(stack, ip, icmp->type, "code not 0");
    struct ndp_message m;
    if (!ndp_parse(icmp, &m)) return invalid(stack, ip, icmp->type, "too short, or a bad option");
    switch (m.type) {
    case ICMPV6_NEIGHBOR_SOLICITATION: neighbor_solicitation(stack, ip, &m, now_ns); return;
    case ICMPV6_NEIGHBOR_ADVERTISEMENT: neighbor_advertisement(stack, ip, &m, now_ns); return;
    case ICMPV6_ROUTER_ADVERTISEMENT:
        stack->stats.nd_ra_in++;
        if (!ipv6_is_link_local(ip->source)) return invalid(stack, ip, m.type, "not from a link-local address");
        slaac_router_advertisement(stack, ip, &m, now_ns);
        return;
    case ICMPV6_REDIRECT:
        stack->stats.nd_redirects_in++;
        if (!ipv6_is_link_local(ip->source)) return invalid(stack, ip, m.type, "not from a link-local address");
        return; /* validated, not acted on */
    default: return; /* router solicitations: we are no router */
    }
}
