/*
 * net/slaac.c: the IPv6 addresses of the interface and where packets go — the link-local
 * address, duplicate address detection (RFC 4862 §5.4), router solicitation (RFC 4861 §6.3.7),
 * router advertisements (§6.3.4: default routers, on-link prefixes, hop limit, reachable time,
 * retransmission timer, MTU, RDNSS from RFC 8106), stateless autoconfiguration from their
 * prefixes (RFC 4862 §5.5.3 with the two-hour rule), static addresses, source address selection
 * (a subset of RFC 6724) and next-hop choice (RFC 4861 §5.2). The rules are in
 * net/stack_internal.h.
 *
 * Not implemented: MLD reports for the groups we listen to (RFC 3810; a host on a link without
 * MLD snooping does not need them), DAD with more than one probe, the optimistic DAD of RFC
 * 4429, temporary addresses (RFC 8981), router preferences (RFC 4191), and round-robin among
 * unreachable default routers (the first live one is used).
 */
#include "net/stack_internal.h"

#define INFINITE_LIFETIME 0xffffffffu

uint64_t ipv6_random(struct net_stack *stack) {
    uint64_t x = stack->ipv6.random;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    stack->ipv6.random = x;
    return x;
}

static uint64_t lifetime_end(uint32_t seconds, uint64_t now_ns) {
    return seconds == INFINITE_LIFETIME ? UINT64_MAX : now_ns + (uint64_t)seconds * 1000000000ull;
}

static bool usable(const struct ipv6_address *a) {
    return a->state == NET_IPV6_PREFERRED || a->state == NET_IPV6_DEPRECATED;
}

struct ipv6_address *ipv6_find_address(struct net_stack *stack, const uint8_t address[16]) {
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        struct ipv6_address *a = &stack->ipv6.addresses[i];
        if (a->state != NET_IPV6_FREE && ipv6_equal(a->address, address)) return a;
    }
    return NULL;
}

bool ipv6_is_our_destination(const struct net_stack *stack, const uint8_t address[16]) {
    if (ipv6_is_multicast(address)) {
        if (ipv6_equal(address, ipv6_all_nodes)) return true;
        for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
            const struct ipv6_address *a = &stack->ipv6.addresses[i];
            if (a->state == NET_IPV6_FREE || a->state == NET_IPV6_DUPLICATE) continue;
            uint8_t group[16];
            ipv6_solicited_node(a->address, group);
            if (ipv6_equal(group, address)) return true;
        }
        return false;
    }
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        const struct ipv6_address *a = &stack->ipv6.addresses[i];
        if (usable(a) && ipv6_equal(a->address, address)) return true;
    }
    return false;
}

const uint8_t *ipv6_select_source(const struct net_stack *stack, const uint8_t destination[16]) {
    /* rule 2: the destination's scope (link-local for link-local unicast and link-scope
     * groups, else global); rule 3: preferred before deprecated; rule 8: the longest prefix
     * shared with the destination. A link-scope destination falls back to a global source. */
    bool link_scope = ipv6_is_link_local(destination) || ipv6_is_multicast_link_scope(destination);
    const struct ipv6_address *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        const struct ipv6_address *a = &stack->ipv6.addresses[i];
        if (!usable(a)) continue;
        bool a_link_local = ipv6_is_link_local(a->address);
        if (!link_scope && a_link_local) continue;
        int score = (a_link_local == link_scope ? 1000 : 0) + (a->state == NET_IPV6_PREFERRED ? 500 : 0) +
                    (int)ipv6_common_prefix(a->address, destination);
        if (score > best_score) {
            best = a;
            best_score = score;
        }
    }
    return best != NULL ? best->address : NULL;
}

bool ipv6_next_hop(const struct net_stack *stack, const uint8_t destination[16], uint8_t next_hop[16]) {
    const struct ipv6_state *v6 = &stack->ipv6;
    bool on_link = ipv6_is_link_local(destination);
    for (size_t i = 0; i < IPV6_PREFIXES && !on_link; i++)
        if (v6->prefixes[i].used && ipv6_prefix_equal(v6->prefixes[i].prefix, destination, v6->prefixes[i].length)) on_link = true;
    if (on_link) {
        __builtin_memcpy(next_hop, destination, 16);
        return true;
    }
    /* off-link: a default router; without one the destination is unreachable (RFC 4943) */
    for (size_t i = 0; i < IPV6_ROUTERS; i++) {
        if (v6->routers[i].used) {
            __builtin_memcpy(next_hop, v6->routers[i].address, 16);
            return true;
        }
    }
    return false;
}

/* ---- addresses ------------------------------------------------------------------------------- */

static void describe(const struct ipv6_address *a, struct net_ipv6_address *out) {
    __builtin_memset(out, 0, sizeof *out);
    __builtin_memcpy(out->address, a->address, 16);
    out->prefix_length = a->prefix_length;
    out->state = a->state;
    out->origin = a->origin;
    __builtin_memcpy(out->router, a->router, 16);
    out->preferred_until_ns = a->preferred_until_ns;
    out->valid_until_ns = a->valid_until_ns;
}

static void set_state(struct net_stack *stack, struct ipv6_address *a, enum net_ipv6_state state) {
    a->state = state;
    if (stack->ipv6.event != NULL) {
        struct net_ipv6_address info;
        describe(a, &info);
        stack->ipv6.event(stack->ipv6.event_ctx, &info);
    }
}

static struct ipv6_address *add_address(struct net_stack *stack, const uint8_t address[16], unsigned prefix_length,
                                        enum net_ipv6_origin origin, const uint8_t *router, uint64_t preferred_until,
                                        uint64_t valid_until, uint64_t dad_at) {
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        struct ipv6_address *a = &stack->ipv6.addresses[i];
        if (a->state != NET_IPV6_FREE) continue;
        __builtin_memset(a, 0, sizeof *a);
        __builtin_memcpy(a->address, address, 16);
        a->prefix_length = (uint8_t)prefix_length;
        a->origin = origin;
        if (router != NULL) __builtin_memcpy(a->router, router, 16);
        a->preferred_until_ns = preferred_until;
        a->valid_until_ns = valid_until;
        a->dad_at_ns = dad_at;
        set_state(stack, a, NET_IPV6_TENTATIVE);
        return a;
    }
    char text[IP_ADDR_TEXT_MAX];
    ipv6_format(address, text);
    net_env_log(NET_LOG_WARN, "ipv6", "no room for address %s: all %d slots taken", text, IPV6_ADDRESSES);
    return NULL;
}

void slaac_dad_conflict(struct net_stack *stack, struct ipv6_address *address, const char *how) {
    char text[IP_ADDR_TEXT_MAX];
    ipv6_format(address->address, text);
    stack->stats.dad_conflicts++;
    net_env_log(NET_LOG_WARN, "ipv6", "duplicate address %s (%s): not used", text, how);
    set_state(stack, address, NET_IPV6_DUPLICATE);
    if (address->origin == NET_IPV6_LINK_LOCAL) {
        /* RFC 4862 §5.4.5: the interface identifier is someone else's too */
        net_env_log(NET_LOG_ERROR, "ipv6", "the link-local address is a duplicate: IPv6 disabled on this interface");
        stack->ipv6.enabled = false;
    }
}

/* The single DAD probe: a solicitation from :: to the address's solicited-node group. */
static void send_dad_probe(struct net_stack *stack, struct ipv6_address *a, uint64_t now_ns) {
    uint8_t target[16], group[16];
    __builtin_memcpy(target, a->address, 16);
    ipv6_solicited_node(target, group);
    size_t length = ndp_write_ns(ipv6_payload_buffer(stack), target, NULL);
    stack->stats.nd_ns_out++;
    a->dad_sent = true;
    a->dad_at_ns = now_ns + stack->ipv6.retrans_ns;
    icmpv6_send(stack, ipv6_unspecified, group, IPV6_ND_HOP_LIMIT, length, now_ns);
}

static void send_router_solicitation(struct net_stack *stack, uint64_t now_ns) {
    struct ipv6_state *v6 = &stack->ipv6;
    /* from the link-local address once it is ours, with our link-layer address; before, from ::
     * without it (RFC 4861 §4.1, §6.3.7) */
    const struct ipv6_address *link_local = NULL;
    for (size_t i = 0; i < IPV6_ADDRESSES; i++)
        if (v6->addresses[i].origin == NET_IPV6_LINK_LOCAL && usable(&v6->addresses[i])) link_local = &v6->addresses[i];
    uint8_t source[16];
    __builtin_memcpy(source, link_local != NULL ? link_local->address : ipv6_unspecified, 16);
    size_t length = ndp_write_rs(ipv6_payload_buffer(stack), link_local != NULL ? stack->mac : NULL);
    v6->rs_sent++;
    v6->rs_at_ns = now_ns + IPV6_RS_INTERVAL_NS; /* after the last one: when to give up */
    stack->stats.nd_rs_out++;
    icmpv6_send(stack, source, ipv6_all_routers, IPV6_ND_HOP_LIMIT, length, now_ns);
}

void slaac_timers(struct net_stack *stack, uint64_t now_ns) {
    struct ipv6_state *v6 = &stack->ipv6;
    char text[IP_ADDR_TEXT_MAX];
    for (size_t i = 0; i < IPV6_ADDRESSES && v6->enabled; i++) {
        struct ipv6_address *a = &v6->addresses[i];
        if (a->state == NET_IPV6_FREE || a->state == NET_IPV6_DUPLICATE) continue;
        if (now_ns >= a->valid_until_ns) {
            ipv6_format(a->address, text);
            net_env_log(NET_LOG_INFO, "ipv6", "address %s expired", text);
            set_state(stack, a, NET_IPV6_FREE);
            continue;
        }
        if (a->state == NET_IPV6_TENTATIVE && now_ns >= a->dad_at_ns) {
            if (!a->dad_sent) send_dad_probe(stack, a, now_ns);
            else set_state(stack, a, now_ns < a->preferred_until_ns ? NET_IPV6_PREFERRED : NET_IPV6_DEPRECATED);
        } else if (a->state == NET_IPV6_PREFERRED && now_ns >= a->preferred_until_ns) {
            set_state(stack, a, NET_IPV6_DEPRECATED);
        }
    }
    if (!v6->enabled) return;
    for (size_t i = 0; i < IPV6_ROUTERS; i++) {
        if (v6->routers[i].used && now_ns >= v6->routers[i].expires_ns) {
            ipv6_format(v6->routers[i].address, text);
            net_env_log(NET_LOG_INFO, "ipv6", "default router %s expired", text);
            v6->routers[i].used = false;
        }
    }
    for (size_t i = 0; i < IPV6_PREFIXES; i++)
        if (v6->prefixes[i].used && now_ns >= v6->prefixes[i].expires_ns) v6->prefixes[i].used = false;
    if (!ipv6_is_unspecified(v6->dns) && now_ns >= v6->dns_expires_ns) __builtin_memset(v6->dns, 0, 16);
    if (now_ns >= v6->rs_at_ns) {
        if (v6->rs_sent < IPV6_RS_MAX) {
            send_router_solicitation(stack, now_ns);
        } else {
            net_env_log(NET_LOG_INFO, "ipv6", "no router advertisement after %u solicitations", v6->rs_sent);
            v6->rs_at_ns = UINT64_MAX;
        }
    }
}

uint64_t slaac_next_deadline(const struct net_stack *stack) {
    const struct ipv6_state *v6 = &stack->ipv6;
    uint64_t next = v6->rs_at_ns;
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        const struct ipv6_address *a = &v6->addresses[i];
        if (a->state == NET_IPV6_FREE || a->state == NET_IPV6_DUPLICATE) continue;
        next = MIN(next, a->valid_until_ns);
        if (a->state == NET_IPV6_TENTATIVE) next = MIN(next, a->dad_at_ns);
        if (a->state == NET_IPV6_PREFERRED) next = MIN(next, a->preferred_until_ns);
    }
    for (size_t i = 0; i < IPV6_ROUTERS; i++)
        if (v6->routers[i].used) next = MIN(next, v6->routers[i].expires_ns);
    for (size_t i = 0; i < IPV6_PREFIXES; i++)
        if (v6->prefixes[i].used) next = MIN(next, v6->prefixes[i].expires_ns);
    if (!ipv6_is_unspecified(v6->dns)) next = MIN(next, v6->dns_expires_ns);
    return next;
}

/* ---- routers and prefixes -------------------------------------------------------------------- */

static void set_router(struct net_stack *stack, const uint8_t address[16], uint64_t expires_ns) {
    struct ipv6_state *v6 = &stack->ipv6;
    struct ipv6_router *slot = NULL;
    for (size_t i = 0; i < IPV6_ROUTERS; i++) {
        if (v6->routers[i].used && ipv6_equal(v6->routers[i].address, address)) {
            slot = &v6->routers[i];
            break;
        }
        if (!v6->routers[i].used && slot == NULL) slot = &v6->routers[i];
    }
    if (slot == NULL) {
        net_env_log(NET_LOG_DEBUG, "ipv6", "default router list full (%d): one more ignored", IPV6_ROUTERS);
        return;
    }
    slot->used = true;
    __builtin_memcpy(slot->address, address, 16);
    slot->expires_ns = expires_ns;
}

void slaac_router_gone(struct net_stack *stack, const uint8_t address[16]) {
    for (size_t i = 0; i < IPV6_ROUTERS; i++)
        if (stack->ipv6.routers[i].used && ipv6_equal(stack->ipv6.routers[i].address, address)) stack->ipv6.routers[i].used = false;
}

static void set_prefix(struct net_stack *stack, const uint8_t prefix[16], unsigned length, uint64_t expires_ns, bool remove) {
    struct ipv6_state *v6 = &stack->ipv6;
    struct ipv6_prefix *slot = NULL;
    for (size_t i = 0; i < IPV6_PREFIXES; i++) {
        struct ipv6_prefix *p = &v6->prefixes[i];
        if (p->used && p->length == length && ipv6_prefix_equal(p->prefix, prefix, length)) {
            slot = p;
            break;
        }
        if (!p->used && slot == NULL) slot = p;
    }
    if (remove) {
        if (slot != NULL && slot->used) slot->used = false;
        return;
    }
    if (slot == NULL) {
        net_env_log(NET_LOG_DEBUG, "ipv6", "on-link prefix list full (%d): one more ignored", IPV6_PREFIXES);
        return;
    }
    slot->used = true;
    __builtin_memset(slot->prefix, 0, 16);
    for (unsigned bit = 0; bit < length; bit += 8) {
        unsigned keep = MIN(8u, length - bit);
        slot->prefix[bit / 8] = (uint8_t)(prefix[bit / 8] & (0xff << (8 - keep)));
    }
    slot->length = (uint8_t)length;
    slot->expires_ns = expires_ns;
}

/* A prefix information option with the A flag (RFC 4862 §5.5.3). */
static void autoconfigure(struct net_stack *stack, const uint8_t router[16], const struct ndp_prefix *p, uint64_t now_ns) {
    char text[IP_ADDR_TEXT_MAX];
    if (p->preferred_s > p->valid_s) return; /* c) */
    if (p->length != 64) {
        /* d): our interface identifier is 64 bits */
        ipv6_format(p->prefix, text);
        net_env_log(NET_LOG_DEBUG, "ipv6", "prefix %s/%u ignored for SLAAC: not a /64", text, p->length);
        return;
    }
    uint8_t address[16];
    __builtin_memcpy(address, p->prefix, 8);
    ipv6_interface_id(stack->mac, address);
    struct ipv6_address *a = NULL;
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        struct ipv6_address *c = &stack->ipv6.addresses[i];
        if (c->state != NET_IPV6_FREE && c->origin == NET_IPV6_SLAAC && ipv6_prefix_equal(c->address, p->prefix, 64)) a = c;
    }
    uint64_t valid_until = lifetime_end(p->valid_s, now_ns);
    if (a == NULL) {
        if (p->valid_s == 0) return;
        if (ipv6_find_address(stack, address) != NULL) return; /* configured statically already */
        add_address(stack, address, 64, NET_IPV6_SLAAC, router, lifetime_end(p->preferred_s, now_ns), valid_until, now_ns);
        return;
    }
    if (a->state == NET_IPV6_DUPLICATE) return;
    /* e): the preferred lifetime is taken as given; the valid lifetime only when it is over two
     * hours or extends the current one, else at most down to two hours (so a forged RA cannot
     * expire the address at once) */
    a->preferred_until_ns = lifetime_end(p->preferred_s, now_ns);
    uint64_t remaining = a->valid_until_ns == UINT64_MAX ? UINT64_MAX : a->valid_until_ns - MIN(a->valid_until_ns, now_ns);
    uint64_t given = p->valid_s == INFINITE_LIFETIME ? UINT64_MAX : (uint64_t)p->valid_s * 1000000000ull;
    if (given > IPV6_TWO_HOURS_NS || given > remaining) a->valid_until_ns = valid_until;
    else if (remaining > IPV6_TWO_HOURS_NS) a->valid_until_ns = now_ns + IPV6_TWO_HOURS_NS;
    if (a->state == NET_IPV6_DEPRECATED && now_ns < a->preferred_until_ns) set_state(stack, a, NET_IPV6_PREFERRED);
}

void slaac_router_advertisement(struct net_stack *stack, const struct ipv6_header *ip, const struct ndp_message *ra,
                                uint64_t now_ns) {
    struct ipv6_state *v6 = &stack->ipv6;
    char text[IP_ADDR_TEXT_MAX];
    v6->ra_received = true;
    v6->rs_at_ns = UINT64_MAX; /* solicitations end with the first answer */
    if (ra->cur_hop_limit != 0) v6->hop_limit = ra->cur_hop_limit;
    if (ra->router_lifetime_s != 0) set_router(stack, ip->source, now_ns + (uint64_t)ra->router_lifetime_s * 1000000000ull);
    else slaac_router_gone(stack, ip->source);
    /* reachable time up to MAX_REACHABLE_TIME (1 h); the retransmission timer within 1 ms..60 s */
    uint64_t reachable = (uint64_t)ra->reachable_time_ms * 1000000ull;
    if (ra->reachable_time_ms != 0 && ra->reachable_time_ms <= 3600000u && reachable != v6->base_reachable_ns) {
        v6->base_reachable_ns = reachable;
        v6->reachable_ns = ndp_random_reachable(stack);
    }
    if (ra->retrans_timer_ms != 0 && ra->retrans_timer_ms <= 60000u) v6->retrans_ns = (uint64_t)ra->retrans_timer_ms * 1000000ull;
    if (ra->options.source_mac != NULL) ndp_learn(stack, ip->source, ra->options.source_mac, true, now_ns);
    if (ra->options.has_mtu) {
        if (ra->options.mtu >= IPV6_MIN_MTU && ra->options.mtu <= stack->mtu) v6->mtu = (uint16_t)ra->options.mtu;
        else net_env_log(NET_LOG_DEBUG, "ipv6", "RA MTU %u ignored (link MTU %u)", ra->options.mtu, stack->mtu);
    }
    if (ra->options.rdnss_count > 0) {
        if (ra->options.rdnss_lifetime_s == 0) {
            __builtin_memset(v6->dns, 0, 16);
        } else {
            __builtin_memcpy(v6->dns, ra->options.rdnss[0], 16);
            v6->dns_expires_ns = lifetime_end(ra->options.rdnss_lifetime_s, now_ns);
        }
    }
    for (size_t i = 0; i < ra->options.prefix_count; i++) {
        const struct ndp_prefix *p = &ra->options.prefixes[i];
        if (ipv6_is_link_local(p->prefix) || ipv6_is_multicast(p->prefix) || p->length > 128) {
            ipv6_format(p->prefix, text);
            net_env_log(NET_LOG_DEBUG, "ipv6", "RA prefix %s/%u ignored", text, p->length);
            continue;
        }
        if (p->on_link) set_prefix(stack, p->prefix, p->length, lifetime_end(p->valid_s, now_ns), p->valid_s == 0);
        if (p->autonomous && v6->autoconf) autoconfigure(stack, ip->source, p, now_ns);
    }
}

/* ---- the interface ----------------------------------------------------------------------------- */

int net_ipv6_start(struct net_stack *stack, bool autoconf, uint64_t now_ns) {
    struct ipv6_state *v6 = &stack->ipv6;
    if (v6->enabled) return ERR_BUSY;
    if (stack->mtu < IPV6_MIN_MTU) return ERR_INVAL;
    v6->enabled = true;
    v6->autoconf = autoconf;
    v6->mtu = stack->mtu;
    v6->hop_limit = IPV6_DEFAULT_HOP_LIMIT;
    v6->retrans_ns = NDP_RETRANS_NS;
    v6->base_reachable_ns = NDP_BASE_REACHABLE_NS;
    /* the stack's own generator, from the MAC: delays differ between hosts on one link and
     * are the same on every run (tests) */
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < ETH_ADDR_LEN; i++) seed = (seed ^ stack->mac[i]) * 0x100000001b3ull;
    v6->random = seed != 0 ? seed : 1;
    v6->reachable_ns = ndp_random_reachable(stack);
    v6->error_tokens = ICMPV6_ERROR_BURST;
    v6->error_refill_ns = now_ns;
    v6->rs_at_ns = autoconf ? now_ns + ipv6_random(stack) % IPV6_RS_MAX_DELAY_NS : UINT64_MAX;
    uint8_t link_local[16] = {0xfe, 0x80};
    ipv6_interface_id(stack->mac, link_local);
    /* the first NS after (re)initialization waits up to MAX_RTR_SOLICITATION_DELAY (§5.4.2) */
    add_address(stack, link_local, 64, NET_IPV6_LINK_LOCAL, NULL, UINT64_MAX, UINT64_MAX,
                now_ns + ipv6_random(stack) % IPV6_RS_MAX_DELAY_NS);
    return 0;
}

bool net_ipv6_enabled(const struct net_stack *stack) { return stack->ipv6.enabled; }

void net_ipv6_set_event(struct net_stack *stack, net_ipv6_event_fn fn, void *ctx) {
    stack->ipv6.event = fn;
    stack->ipv6.event_ctx = ctx;
}

int net_ipv6_add_static(struct net_stack *stack, const uint8_t address[16], unsigned prefix_length, const uint8_t *gateway,
                        uint64_t now_ns) {
    if (!stack->ipv6.enabled) return ERR_INVAL;
    if (prefix_length < 1 || prefix_length > 128 || ipv6_is_unspecified(address) || ipv6_is_multicast(address) ||
        ipv6_is_loopback(address) || ipv6_is_v4_mapped(address))
        return ERR_INVAL;
    if (gateway != NULL && (ipv6_is_unspecified(gateway) || ipv6_is_multicast(gateway))) return ERR_INVAL;
    if (ipv6_find_address(stack, address) != NULL) return ERR_EXIST;
    if (add_address(stack, address, prefix_length, NET_IPV6_STATIC, NULL, UINT64_MAX, UINT64_MAX, now_ns) == NULL) return ERR_BUSY;
    if (prefix_length < 128) set_prefix(stack, address, prefix_length, UINT64_MAX, false);
    if (gateway != NULL) set_router(stack, gateway, UINT64_MAX);
    return 0;
}

size_t net_ipv6_addresses(const struct net_stack *stack, struct net_ipv6_address *out, size_t max) {
    size_t count = 0;
    for (size_t i = 0; i < IPV6_ADDRESSES; i++) {
        const struct ipv6_address *a = &stack->ipv6.addresses[i];
        if (a->state == NET_IPV6_FREE) continue;
        if (count < max) describe(a, &out[count]);
        count++;
    }
    return count;
}

bool net_ipv6_router_discovery_done(const struct net_stack *stack) {
    return stack->ipv6.ra_received || stack->ipv6.rs_at_ns == UINT64_MAX;
}

bool net_ipv6_dns(const struct net_stack *stack, uint8_t out[16]) {
    if (ipv6_is_unspecified(stack->ipv6.dns)) return false;
    __builtin_memcpy(out, stack->ipv6.dns, 16);
    return true;
}
