/*
 * net/ip_output.c: output for the layers that serve both families (UDP, TCP): one call that
 * takes struct ip_addr and hands the payload to IPv4 or IPv6.
 */
#include "net/stack_internal.h"

int net_ip_output(struct net_stack *stack, const struct ip_addr *source, const struct ip_addr *destination,
                  uint8_t protocol, const uint8_t *payload, size_t length, uint64_t now_ns) {
    bool any_source = source == NULL || source->family == IP_FAMILY_ANY;
    if (!any_source && source->family != destination->family) return ERR_INVAL;
    switch (destination->family) {
    case IP_FAMILY_V4:
        /* 0: net_ipv4_output takes the interface's address */
        return net_ipv4_output(stack, any_source ? 0 : source->v4, destination->v4, protocol, payload, length, now_ns);
    case IP_FAMILY_V6:
        /* NULL: net_ipv6_output selects the source */
        return net_ipv6_output(stack, any_source ? NULL : source->v6, destination->v6, protocol, payload, length, now_ns);
    default:
        return ERR_INVAL;
    }
}

size_t net_ip_max_payload(const struct net_stack *stack, uint8_t family) {
    return family == IP_FAMILY_V6 ? net_ipv6_max_payload(stack) : net_ipv4_max_payload(stack);
}

int net_ip_source(struct net_stack *stack, const struct ip_addr *destination, struct ip_addr *source) {
    switch (destination->family) {
    case IP_FAMILY_V4:
        *source = ip_addr_from_v4(stack->ip);
        return 0;
    case IP_FAMILY_V6: {
        const uint8_t *selected = stack->ipv6.enabled ? ipv6_select_source(stack, destination->v6) : NULL;
        if (selected == NULL) return ERR_UNREACHABLE;
        *source = ip_addr_from_v6(selected);
        return 0;
    }
    default:
        return ERR_INVAL;
    }
}
