/* test/net/tcp_script.c: the scripted-peer interpreter (see tcp_script.h). */
#include "tcp_script.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"
#include "net/wire/tcp_wire.h"
#include "net_test.h"

#define STACK_IP 0x0a000001u /* 10.0.0.1 */
#define PEER_IP 0x0a000002u  /* 10.0.0.2 */
#define STACK_IP6 "fd00::1"
#define SERVER_PORT 8080
#define CLIENT_PORT 40000
#define MAX_CAPTURED 4096
#define MAX_PEERS 4

struct captured {
    uint64_t time;
    struct ip_addr src, dst;
    size_t length;
    uint8_t bytes[];
};

/* One peer host and the connection the script has with it: its own addresses, ports and
 * numbering (ISNs, timestamps, stream offsets). */
struct peer {
    struct ip_addr local, remote; /* the stack's address of the peer's family, the peer's */
    struct tcp_conn *conn;
    uint16_t local_port, remote_port;
    bool have_isn, have_peer_isn, have_ts_base;
    uint32_t isn, peer_isn, ts_base;
    uint64_t app_sent, app_received;
};

struct script {
    const char *name;
    struct tcp_stack *stack;
    struct tcp_listener *listener;
    uint64_t now;
    uint64_t line_time;
    unsigned line_number;
    const char *line;
    struct peer peers[MAX_PEERS];
    unsigned peer_count;
    struct peer *p; /* the peer the lines are about */
    struct captured *queue[MAX_CAPTURED];
    size_t queue_head, queue_tail;
    uint64_t blocks_at_start;
};

/* The bytes both sides send: byte k of a stream. */
static uint8_t pattern(uint64_t k) { return (uint8_t)(k * 7 + (k >> 8) * 13 + 1); }

static void script_fail(struct script *s, const char *fmt, ...) NORETURN PRINTF_LIKE(2, 3);
static void script_fail(struct script *s, const char *fmt, ...) {
    char message[3000];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    test_fail("%s line %u \"%s\": %s", s->name, s->line_number, s->line ? s->line : "(end)", message);
}

static void check_stack(struct script *s) {
    const char *what = NULL;
    if (tcp_stack_check(s->stack, &what) != 0) script_fail(s, "invariant broken: %s", what);
}

/* The checksum check of a sent segment, written out from the RFCs rather than through
 * tcp_wire_checksum_ok, so a wrong pseudo-header in the stack cannot hide behind the same
 * mistake in its checker: the pseudo-header's bytes, then the segment, sum to 0xffff. */
static bool reference_checksum_ok(const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment,
                                  size_t length) {
    uint8_t pseudo[40];
    size_t n;
    if (src->family == IP_FAMILY_V4 && dst->family == IP_FAMILY_V4) {
        /* RFC 9293 §3.1: source, destination, zero, PTCL, TCP length (16 bits) */
        wire_put32(pseudo, src->v4);
        wire_put32(pseudo + 4, dst->v4);
        pseudo[8] = 0;
        pseudo[9] = TCP_PROTOCOL;
        wire_put16(pseudo + 10, (uint16_t)length);
        n = 12;
    } else if (src->family == IP_FAMILY_V6 && dst->family == IP_FAMILY_V6) {
        /* RFC 8200 §8.1: source, destination, upper-layer length (32 bits), three zero bytes,
         * next header */
        memcpy(pseudo, src->v6, 16);
        memcpy(pseudo + 16, dst->v6, 16);
        wire_put32(pseudo + 32, (uint32_t)length);
        pseudo[36] = pseudo[37] = pseudo[38] = 0;
        pseudo[39] = TCP_PROTOCOL;
        n = 40;
    } else {
        return false;
    }
    return checksum_finish(checksum_add(checksum_add(0, pseudo, n), segment, length)) == 0;
}

static void capture(void *ctx, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment,
                    size_t length) {
    struct script *s = ctx;
    if (s->queue_tail - s->queue_head >= MAX_CAPTURED) script_fail(s, "too many segments sent");
    if (!reference_checksum_ok(src, dst, segment, length)) script_fail(s, "stack sent a bad checksum");
    struct captured *c = malloc(sizeof *c + length);
    c->time = s->now;
    c->src = *src;
    c->dst = *dst;
    c->length = length;
    memcpy(c->bytes, segment, length);
    s->queue[s->queue_tail++ % MAX_CAPTURED] = c;
}

/* ---- describing segments ------------------------------------------------------------------ */

static void describe_flags(uint8_t flags, char *out) {
    char *p = out;
    if (flags & TCP_FLAG_SYN) *p++ = 'S';
    if (flags & TCP_FLAG_FIN) *p++ = 'F';
    if (flags & TCP_FLAG_RST) *p++ = 'R';
    if (flags & TCP_FLAG_PSH) *p++ = 'P';
    if (flags & TCP_FLAG_URG) *p++ = 'U';
    if (flags & TCP_FLAG_ACK) *p++ = '.';
    *p = 0;
}

static size_t describe_options(const uint8_t *area, size_t length, uint32_t ts_base, char *out, size_t room) {
    size_t n = 0;
    n += (size_t)snprintf(out + n, room - n, "<");
    for (size_t i = 0; i < length && n < room;) {
        uint8_t kind = area[i];
        const char *sep = i == 0 ? "" : ",";
        if (kind == TCP_OPT_EOL) {
            n += (size_t)snprintf(out + n, room - n, "%seol", sep);
            i++;
        } else if (kind == TCP_OPT_NOP) {
            n += (size_t)snprintf(out + n, room - n, "%snop", sep);
            i++;
        } else if (i + 1 < length && area[i + 1] >= 2 && i + area[i + 1] <= length) {
            uint8_t olen = area[i + 1];
            if (kind == TCP_OPT_MSS && olen == 4)
                n += (size_t)snprintf(out + n, room - n, "%smss %u", sep, wire_get16(area + i + 2));
            else if (kind == TCP_OPT_WSCALE && olen == 3)
                n += (size_t)snprintf(out + n, room - n, "%swscale %u", sep, area[i + 2]);
            else if (kind == TCP_OPT_SACK_PERMITTED && olen == 2)
                n += (size_t)snprintf(out + n, room - n, "%ssackOK", sep);
            else if (kind == TCP_OPT_TIMESTAMPS && olen == 10)
                n += (size_t)snprintf(out + n, room - n, "%sTS val %u ecr %u", sep,
                                      wire_get32(area + i + 2) - ts_base, wire_get32(area + i + 6));
            else
                n += (size_t)snprintf(out + n, room - n, "%skind%u/%u", sep, kind, olen);
            i += olen;
        } else {
            n += (size_t)snprintf(out + n, room - n, "%sbad", sep);
            break;
        }
    }
    if (n < room) n += (size_t)snprintf(out + n, room - n, ">");
    return n;
}

/* "S. 0:0(0) ack 1 win 65535 <mss 1460>" with the stack's numbers made relative. */
static void describe_sent(const struct script *s, const struct captured *c, char *out, size_t room) {
    struct tcp_header h;
    if (tcp_wire_parse(c->bytes, c->length, &h) != TCP_WIRE_OK) {
        snprintf(out, room, "(unparsable %zu bytes)", c->length);
        return;
    }
    char flags[8];
    describe_flags(h.flags, flags);
    uint32_t seq = h.seq - (s->p->have_isn ? s->p->isn : 0);
    uint32_t length = (uint32_t)(c->length - h.header_length);
    size_t n = (size_t)snprintf(out, room, "%.6f > %s %u:%u(%u) ack %u win %u ", (double)c->time / 1e9, flags, seq,
                                seq + length, length, h.ack, h.window);
    describe_options(c->bytes + TCP_HEADER_MIN, h.header_length - TCP_HEADER_MIN, s->p->have_ts_base ? s->p->ts_base : 0,
                     out + n, room - n);
}

/* ---- parsing lines ------------------------------------------------------------------------ */

struct cursor {
    struct script *s;
    const char *p;
};

static void skip_space(struct cursor *c) {
    while (isspace((unsigned char)*c->p)) c->p++;
}

static bool at_end(struct cursor *c) {
    skip_space(c);
    return *c->p == 0;
}

/* The next word (letters, digits, '_', '.', '*', '+', '-'), copied to `out`. */
static const char *word(struct cursor *c, char *out, size_t room) {
    skip_space(c);
    size_t n = 0;
    while (*c->p && !isspace((unsigned char)*c->p) && *c->p != ',' && *c->p != '<' && *c->p != '>' && *c->p != ':' &&
           *c->p != '(' && *c->p != ')') {
        if (n + 1 < room) out[n++] = *c->p;
        c->p++;
    }
    out[n] = 0;
    if (n == 0) script_fail(c->s, "expected a word at \"%s\"", c->p);
    return out;
}

static uint64_t number(struct cursor *c) {
    char text[32];
    word(c, text, sizeof text);
    char *end;
    uint64_t value = strtoull(text, &end, 0);
    if (*end != 0) script_fail(c->s, "not a number: %s", text);
    return value;
}

static void expect_char(struct cursor *c, char ch) {
    skip_space(c);
    if (*c->p != ch) script_fail(c->s, "expected '%c' at \"%s\"", ch, c->p);
    c->p++;
}

static uint64_t parse_time(struct cursor *c) {
    char text[32];
    word(c, text, sizeof text);
    bool relative = text[0] == '+';
    char *end;
    double seconds = strtod(relative ? text + 1 : text, &end);
    if (*end != 0 || seconds < 0) script_fail(c->s, "bad time %s", text);
    uint64_t ns = (uint64_t)llround(seconds * 1e9);
    return relative ? c->s->line_time + ns : ns;
}

struct spec {
    bool any_seq; /* "*": sequence number, length and payload not checked */
    uint8_t flags;
    uint32_t seq, end, length;
    bool has_ack, has_window, has_options;
    bool ipv4_sum; /* incoming: checksum over the IPv4 pseudo-header of 10.0.0.2 > 10.0.0.1 */
    uint32_t ack, window;
    uint16_t sport, dport;
    uint8_t options[TCP_OPTIONS_MAX];
    size_t options_length;
    int ts_at; /* offset of the TS option in `options`, or -1 */
    bool ts_val_any, ts_ecr_any;
};

static void parse_options(struct cursor *c, struct spec *spec) {
    expect_char(c, '<');
    spec->has_options = true;
    spec->ts_at = -1;
    size_t n = 0;
    skip_space(c);
    if (*c->p == '>') {
        c->p++;
        return;
    }
    for (;;) {
        char name[32];
        word(c, name, sizeof name);
        if (n + 10 > TCP_OPTIONS_MAX) script_fail(c->s, "too many options");
        if (strcmp(name, "nop") == 0) {
            spec->options[n++] = TCP_OPT_NOP;
        } else if (strcmp(name, "eol") == 0) {
            spec->options[n++] = TCP_OPT_EOL;
        } else if (strcmp(name, "mss") == 0) {
            spec->options[n++] = TCP_OPT_MSS;
            spec->options[n++] = 4;
            wire_put16(spec->options + n, (uint16_t)number(c));
            n += 2;
        } else if (strcmp(name, "wscale") == 0) {
            spec->options[n++] = TCP_OPT_WSCALE;
            spec->options[n++] = 3;
            spec->options[n++] = (uint8_t)number(c);
        } else if (strcmp(name, "sackOK") == 0) {
            spec->options[n++] = TCP_OPT_SACK_PERMITTED;
            spec->options[n++] = 2;
        } else if (strcmp(name, "TS") == 0) {
            char w[32];
            spec->ts_at = (int)n;
            spec->options[n++] = TCP_OPT_TIMESTAMPS;
            spec->options[n++] = 10;
            if (strcmp(word(c, w, sizeof w), "val") != 0) script_fail(c->s, "TS val expected");
            skip_space(c);
            if (*c->p == '*') {
                c->p++;
                spec->ts_val_any = true;
            } else {
                wire_put32(spec->options + n, (uint32_t)number(c));
            }
            if (strcmp(word(c, w, sizeof w), "ecr") != 0) script_fail(c->s, "TS ecr expected");
            skip_space(c);
            if (*c->p == '*') {
                c->p++;
                spec->ts_ecr_any = true;
            } else {
                wire_put32(spec->options + n + 4, (uint32_t)number(c));
            }
            n += 8;
        } else {
            script_fail(c->s, "unknown option %s", name);
        }
        skip_space(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        expect_char(c, '>');
        break;
    }
    spec->options_length = n;
}

static void parse_spec(struct cursor *c, struct spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->ts_at = -1;
    char flags[16];
    word(c, flags, sizeof flags);
    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'S': spec->flags |= TCP_FLAG_SYN; break;
        case 'F': spec->flags |= TCP_FLAG_FIN; break;
        case 'R': spec->flags |= TCP_FLAG_RST; break;
        case 'P': spec->flags |= TCP_FLAG_PSH; break;
        case 'U': spec->flags |= TCP_FLAG_URG; break;
        case '.': spec->flags |= TCP_FLAG_ACK; break;
        default: script_fail(c->s, "unknown flag %c", *f);
        }
    }
    skip_space(c);
    if (*c->p == '*') {
        c->p++;
        spec->any_seq = true;
    } else {
        spec->seq = (uint32_t)number(c);
        expect_char(c, ':');
        spec->end = (uint32_t)number(c);
        expect_char(c, '(');
        spec->length = (uint32_t)number(c);
        expect_char(c, ')');
        if (spec->end - spec->seq != spec->length) script_fail(c->s, "SEQ:END(LEN) inconsistent");
    }
    while (!at_end(c)) {
        if (*c->p == '<') {
            parse_options(c, spec);
            continue;
        }
        char key[16];
        word(c, key, sizeof key);
        if (strcmp(key, "ack") == 0) {
            spec->has_ack = true;
            spec->ack = (uint32_t)number(c);
        } else if (strcmp(key, "win") == 0) {
            spec->has_window = true;
            spec->window = (uint32_t)number(c);
        } else if (strcmp(key, "sport") == 0) {
            spec->sport = (uint16_t)number(c);
        } else if (strcmp(key, "dport") == 0) {
            spec->dport = (uint16_t)number(c);
        } else if (strcmp(key, "sum4") == 0) {
            spec->ipv4_sum = true;
        } else {
            script_fail(c->s, "unknown field %s", key);
        }
    }
}

/* ---- time --------------------------------------------------------------------------------- */

/* Runs the stack's timers up to `until` (inclusive). */
static void run_until(struct script *s, uint64_t until) {
    if (until < s->now) script_fail(s, "time goes backwards");
    for (int i = 0; i < 100000; i++) {
        uint64_t deadline = tcp_next_deadline(s->stack);
        if (deadline > until) {
            s->now = until;
            return;
        }
        if (deadline > s->now) s->now = deadline;
        tcp_timers(s->stack, s->now);
        check_stack(s);
    }
    script_fail(s, "timers do not settle");
}

static struct captured *peek_sent(struct script *s) {
    return s->queue_head == s->queue_tail ? NULL : s->queue[s->queue_head % MAX_CAPTURED];
}

static void expect_nothing_sent(struct script *s) {
    struct captured *c = peek_sent(s);
    if (c != NULL) {
        char text[512];
        describe_sent(s, c, text, sizeof text);
        script_fail(s, "unexpected segment: %s", text);
    }
}

/* ---- segments ----------------------------------------------------------------------------- */

static void inject(struct script *s, struct cursor *c) {
    struct spec spec;
    parse_spec(c, &spec);
    uint8_t segment[TCP_HEADER_MAX + 70000];
    if (spec.length > 65000) script_fail(s, "payload too long");
    if (spec.has_options && spec.ts_at >= 0 && s->p->have_ts_base && !spec.ts_ecr_any) {
        uint8_t *ecr = spec.options + spec.ts_at + 6;
        wire_put32(ecr, wire_get32(ecr) + s->p->ts_base);
    }
    size_t options_length = (spec.options_length + 3) & ~(size_t)3; /* padded with EOL */
    memset(segment, 0, TCP_HEADER_MIN + options_length);
    memcpy(segment + TCP_HEADER_MIN, spec.options, spec.options_length);
    size_t header_length = TCP_HEADER_MIN + options_length;
    wire_put16(segment, spec.sport ? spec.sport : s->p->remote_port);
    wire_put16(segment + 2, spec.dport ? spec.dport : s->p->local_port);
    wire_put32(segment + 4, spec.seq);
    wire_put32(segment + 8, spec.ack + (s->p->have_isn ? s->p->isn : 0));
    segment[12] = (uint8_t)(header_length / 4) << 4;
    segment[13] = spec.flags;
    wire_put16(segment + 14, (uint16_t)(spec.has_window ? spec.window : 65535));
    if (spec.flags & TCP_FLAG_SYN) {
        if (!s->p->have_peer_isn) s->p->peer_isn = spec.seq;
        s->p->have_peer_isn = true;
    }
    uint32_t base = s->p->have_peer_isn ? s->p->peer_isn + 1 : 0;
    uint32_t first = spec.seq + ((spec.flags & TCP_FLAG_SYN) ? 1 : 0); /* data follows the SYN */
    for (uint32_t i = 0; i < spec.length; i++) segment[header_length + i] = pattern((uint32_t)(first + i - base));
    size_t length = header_length + spec.length;
    if (spec.ipv4_sum) {
        struct ip_addr peer4 = ip_addr_from_v4(PEER_IP), stack4 = ip_addr_from_v4(STACK_IP);
        tcp_wire_set_checksum(&peer4, &stack4, segment, length);
    } else {
        tcp_wire_set_checksum(&s->p->remote, &s->p->local, segment, length);
    }
    tcp_input(s->stack, &s->p->remote, &s->p->local, segment, length, s->now);
    check_stack(s);
}

static void expect_sent(struct script *s, struct cursor *c, uint64_t when) {
    struct spec spec;
    parse_spec(c, &spec);
    struct captured *sent = peek_sent(s);
    if (sent == NULL) script_fail(s, "nothing sent by %.6f", (double)when / 1e9);
    char text[512];
    describe_sent(s, sent, text, sizeof text);
    if (sent->time != when) script_fail(s, "sent at another time: %s", text);
    struct tcp_header h;
    if (tcp_wire_parse(sent->bytes, sent->length, &h) != TCP_WIRE_OK) script_fail(s, "unparsable: %s", text);
    if (!ip_addr_equal(&sent->src, &s->p->local) || !ip_addr_equal(&sent->dst, &s->p->remote)) {
        char src[IP_ADDR_TEXT_MAX], dst[IP_ADDR_TEXT_MAX];
        script_fail(s, "addresses %s > %s: %s", ip_addr_format(&sent->src, src, sizeof src),
                    ip_addr_format(&sent->dst, dst, sizeof dst), text);
    }
    uint16_t want_sport = spec.sport ? spec.sport : s->p->local_port;
    uint16_t want_dport = spec.dport ? spec.dport : s->p->remote_port;
    if (s->p->local_port != 0 && h.src_port != want_sport) script_fail(s, "source port %u: %s", h.src_port, text);
    if (h.dst_port != want_dport) script_fail(s, "destination port %u: %s", h.dst_port, text);
    if (h.flags != spec.flags) script_fail(s, "flags differ: %s", text);
    if ((h.flags & TCP_FLAG_SYN) && !s->p->have_isn && !spec.any_seq) {
        s->p->isn = h.seq - spec.seq;
        s->p->have_isn = true;
        describe_sent(s, sent, text, sizeof text);
    }
    uint32_t seq = h.seq - (s->p->have_isn ? s->p->isn : 0);
    uint32_t length = (uint32_t)(sent->length - h.header_length);
    if (!spec.any_seq && (seq != spec.seq || length != spec.length))
        script_fail(s, "sequence or length differ: %s", text);
    if (spec.has_ack && h.ack != spec.ack) script_fail(s, "ack differs: %s", text);
    if (spec.has_window && h.window != spec.window) script_fail(s, "window differs: %s", text);
    if (spec.has_options) {
        size_t options_length = h.header_length - TCP_HEADER_MIN;
        uint8_t actual[TCP_OPTIONS_MAX];
        memcpy(actual, sent->bytes + TCP_HEADER_MIN, options_length);
        if (spec.ts_at >= 0 && options_length >= (size_t)spec.ts_at + 10 && actual[spec.ts_at] == TCP_OPT_TIMESTAMPS) {
            uint32_t val = wire_get32(actual + spec.ts_at + 2);
            if (!spec.ts_val_any && !s->p->have_ts_base) {
                s->p->ts_base = val - wire_get32(spec.options + spec.ts_at + 2);
                s->p->have_ts_base = true;
                describe_sent(s, sent, text, sizeof text);
            }
            if (spec.ts_val_any) memcpy(actual + spec.ts_at + 2, spec.options + spec.ts_at + 2, 4);
            else wire_put32(actual + spec.ts_at + 2, val - s->p->ts_base);
            if (spec.ts_ecr_any) memcpy(actual + spec.ts_at + 6, spec.options + spec.ts_at + 6, 4);
        }
        if (options_length != spec.options_length || memcmp(actual, spec.options, options_length) != 0)
            script_fail(s, "options differ: %s", text);
    }
    if (s->p->have_isn && length > 0 && !spec.any_seq) {
        const uint8_t *payload = sent->bytes + h.header_length;
        for (uint32_t i = 0; i < length; i++)
            if (payload[i] != pattern((uint32_t)(seq - 1 + i)))
                script_fail(s, "payload byte %u differs: %s", i, text);
    }
    s->queue_head++;
    free(sent);
}

/* ---- commands ----------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int code;
} error_names[] = {
    {"0", 0},
    {"ERR_AGAIN", ERR_AGAIN},
    {"ERR_CONNREFUSED", ERR_CONNREFUSED},
    {"ERR_CONNRESET", ERR_CONNRESET},
    {"ERR_CONNABORTED", ERR_CONNABORTED},
    {"ERR_ADDRINUSE", ERR_ADDRINUSE},
    {"ERR_NOTCONN", ERR_NOTCONN},
    {"ERR_TIMEOUT", ERR_TIMEOUT},
    {"ERR_NOMEM", ERR_NOMEM},
    {"ERR_INVAL", ERR_INVAL},
};

static int error_code(struct cursor *c) {
    char name[32];
    word(c, name, sizeof name);
    for (size_t i = 0; i < ARRAY_SIZE(error_names); i++)
        if (strcmp(error_names[i].name, name) == 0) return error_names[i].code;
    script_fail(c->s, "unknown error %s", name);
}

static uint64_t stat_value(struct script *s, const char *name) {
    struct tcp_stats st;
    tcp_get_stats(s->stack, &st);
#define FIELD(f) \
    if (strcmp(name, #f) == 0) return st.f;
    FIELD(segments_in) FIELD(segments_out) FIELD(retransmissions) FIELD(fast_retransmits) FIELD(timeouts)
    FIELD(resets_in) FIELD(resets_out) FIELD(bad_checksums) FIELD(malformed) FIELD(dropped) FIELD(challenge_acks)
    FIELD(listen_overflows) FIELD(out_of_order) FIELD(persist_probes) FIELD(active_opens) FIELD(passive_opens)
    FIELD(aborts_timeout) FIELD(connections) FIELD(established) FIELD(time_wait)
#undef FIELD
    script_fail(s, "unknown stat %s", name);
}

static struct tcp_conn *need_conn(struct script *s) {
    if (s->p->conn == NULL) script_fail(s, "no connection (accept or connect first)");
    return s->p->conn;
}

/* An address (up to the next blank: IPv6 addresses hold ':'). */
static struct ip_addr address(struct cursor *c) {
    skip_space(c);
    char text[IP_ADDR_TEXT_MAX];
    size_t n = 0;
    while (*c->p && !isspace((unsigned char)*c->p)) {
        if (n + 1 < sizeof text) text[n++] = *c->p;
        c->p++;
    }
    text[n] = 0;
    struct ip_addr addr;
    if (ip_addr_parse(text, &addr) != 0) script_fail(c->s, "not an address: %s", text);
    return addr;
}

/* The peer at `remote` (a new one, with fresh numbers, the first time), talking to the stack's
 * address of its family: 10.0.0.1 or fd00::1. */
static struct peer *peer_at(struct script *s, const struct ip_addr *remote) {
    for (unsigned i = 0; i < s->peer_count; i++)
        if (ip_addr_equal(&s->peers[i].remote, remote)) return &s->peers[i];
    if (s->peer_count == MAX_PEERS) script_fail(s, "too many peers");
    struct peer *peer = &s->peers[s->peer_count++];
    memset(peer, 0, sizeof *peer);
    peer->remote = *remote;
    if (remote->family == IP_FAMILY_V6) {
        if (ip_addr_parse(STACK_IP6, &peer->local) != 0) script_fail(s, "bad STACK_IP6");
    } else {
        peer->local = ip_addr_from_v4(STACK_IP);
    }
    peer->local_port = SERVER_PORT;
    peer->remote_port = CLIENT_PORT;
    return peer;
}

static void listen_on(struct script *s, struct cursor *c, const struct ip_addr *addr) {
    uint16_t port = at_end(c) ? SERVER_PORT : (uint16_t)number(c);
    unsigned backlog = at_end(c) ? 8 : (unsigned)number(c);
    int err = tcp_listen(s->stack, addr, port, backlog, &s->listener);
    if (err != 0) script_fail(s, "tcp_listen: %d", err);
}

static void command(struct script *s, struct cursor *c, const char *name) {
    if (strcmp(name, "listen") == 0) {
        struct ip_addr any = ip_addr_any();
        listen_on(s, c, &any);
    } else if (strcmp(name, "listen_at") == 0) {
        struct ip_addr addr = address(c);
        listen_on(s, c, &addr);
    } else if (strcmp(name, "peer") == 0) {
        struct ip_addr remote = address(c);
        s->p = peer_at(s, &remote);
    } else if (strcmp(name, "listen_close") == 0) {
        tcp_listener_close(s->listener);
        s->listener = NULL;
    } else if (strcmp(name, "accept") == 0) {
        int err = tcp_accept(s->listener, &s->p->conn);
        if (err != 0) script_fail(s, "tcp_accept: %d", err);
    } else if (strcmp(name, "accept_again") == 0) {
        struct tcp_conn *conn;
        int err = tcp_accept(s->listener, &conn);
        if (err != ERR_AGAIN) script_fail(s, "tcp_accept gave %d, not ERR_AGAIN", err);
    } else if (strcmp(name, "connect") == 0) {
        s->p->remote_port = SERVER_PORT;
        int err = tcp_connect(s->stack, &s->p->local, &s->p->remote, SERVER_PORT, s->now, &s->p->conn);
        if (err != 0) script_fail(s, "tcp_connect: %d", err);
        tcp_conn_endpoints(s->p->conn, NULL, &s->p->local_port, NULL, NULL);
    } else if (strcmp(name, "send") == 0) {
        uint64_t n = number(c);
        uint64_t want = at_end(c) ? n : number(c);
        uint8_t *data = malloc(n + 1);
        for (uint64_t i = 0; i < n; i++) data[i] = pattern(s->p->app_sent + i);
        long got = tcp_send(need_conn(s), data, n, s->now);
        free(data);
        if (got != (long)want) script_fail(s, "tcp_send gave %ld, not %llu", got, (unsigned long long)want);
        s->p->app_sent += (uint64_t)got;
    } else if (strcmp(name, "send_again") == 0 || strcmp(name, "send_err") == 0) {
        int want = name[5] == 'a' ? ERR_AGAIN : error_code(c);
        uint8_t byte = pattern(s->p->app_sent);
        long got = tcp_send(need_conn(s), &byte, 1, s->now);
        if (got != want) script_fail(s, "tcp_send gave %ld, not %d", got, want);
    } else if (strcmp(name, "recv") == 0) {
        uint64_t n = number(c);
        uint8_t *data = malloc(n + 1);
        long got = tcp_recv(need_conn(s), data, n, s->now);
        if (got != (long)n) script_fail(s, "tcp_recv gave %ld, not %llu", got, (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++)
            if (data[i] != pattern(s->p->app_received + i))
                script_fail(s, "received byte %llu differs", (unsigned long long)(s->p->app_received + i));
        free(data);
        s->p->app_received += n;
    } else if (strcmp(name, "recv_again") == 0 || strcmp(name, "recv_eof") == 0 || strcmp(name, "recv_err") == 0) {
        int want = name[5] == 'a' ? ERR_AGAIN : name[5] == 'e' && name[6] == 'o' ? 0 : error_code(c);
        uint8_t byte;
        long got = tcp_recv(need_conn(s), &byte, 1, s->now);
        if (got != want) script_fail(s, "tcp_recv gave %ld, not %d", got, want);
    } else if (strcmp(name, "shutdown") == 0) {
        int err = tcp_shutdown(need_conn(s), s->now);
        if (err != 0) script_fail(s, "tcp_shutdown: %d", err);
    } else if (strcmp(name, "close") == 0) {
        tcp_close(need_conn(s), s->now);
        s->p->conn = NULL;
    } else if (strcmp(name, "abort") == 0) {
        tcp_abort(need_conn(s), s->now);
        s->p->conn = NULL;
    } else if (strcmp(name, "nodelay") == 0) {
        tcp_set_nodelay(need_conn(s), true);
    } else if (strcmp(name, "state") == 0) {
        char want[32];
        word(c, want, sizeof want);
        const char *got = tcp_state_name(tcp_conn_state(need_conn(s)));
        if (strcmp(got, want) != 0) script_fail(s, "state %s, not %s", got, want);
    } else if (strcmp(name, "error") == 0) {
        int want = error_code(c);
        int got = tcp_conn_error(need_conn(s));
        if (got != want) script_fail(s, "error %d, not %d", got, want);
    } else if (strcmp(name, "stat") == 0) {
        char field[32];
        word(c, field, sizeof field);
        uint64_t want = number(c), got = stat_value(s, field);
        if (got != want)
            script_fail(s, "%s is %llu, not %llu", field, (unsigned long long)got, (unsigned long long)want);
    } else if (strcmp(name, "conns") == 0) {
        uint64_t want = number(c), got = stat_value(s, "connections");
        if (got != want) script_fail(s, "%llu TCBs, not %llu", (unsigned long long)got, (unsigned long long)want);
    } else if (strcmp(name, "deadline") == 0) {
        uint64_t got = tcp_next_deadline(s->stack);
        skip_space(c);
        if (strncmp(c->p, "none", 4) == 0) {
            c->p += 4;
            if (got != UINT64_MAX) script_fail(s, "a deadline at %.6f", (double)got / 1e9);
        } else {
            uint64_t want = parse_time(c);
            if (got != want) script_fail(s, "next deadline %.9f, not %.9f", (double)got / 1e9, (double)want / 1e9);
        }
        return;
    } else if (strcmp(name, "quiet") == 0) {
        /* nothing: the check before every line is the point */
    } else {
        script_fail(s, "unknown command %s", name);
    }
    check_stack(s);
}

/* ---- scripts ------------------------------------------------------------------------------ */

struct tcp_config script_default_config(void) {
    return (struct tcp_config){
        .mss = 1460,
        .send_buffer = 65536,
        .receive_buffer = 65535,
        .window_scaling = false,
        .timestamps = false,
        .max_connections = 16,
    };
}

struct script *script_start(const char *name, const struct tcp_config *config) {
    struct script *s = calloc(1, sizeof *s);
    s->name = name;
    s->blocks_at_start = net_native_blocks_in_use();
    struct ip_addr peer = ip_addr_from_v4(PEER_IP);
    s->p = peer_at(s, &peer);
    s->stack = tcp_stack_new(config, capture, s);
    if (s->stack == NULL) script_fail(s, "tcp_stack_new failed");
    return s;
}

void script_line(struct script *s, const char *line) {
    s->line = line;
    s->line_number++;
    struct cursor c = {s, line};
    uint64_t when = parse_time(&c);
    if (when < s->line_time) script_fail(s, "time goes backwards");
    s->line_time = when;
    char what[32];
    skip_space(&c);
    if (*c.p == '<' || *c.p == '>') {
        what[0] = *c.p++;
        what[1] = 0;
    } else {
        word(&c, what, sizeof what);
    }
    if (strcmp(what, ">") == 0) {
        run_until(s, when);
        expect_sent(s, &c, when);
        return;
    }
    run_until(s, when);
    expect_nothing_sent(s);
    if (strcmp(what, "<") == 0) inject(s, &c);
    else command(s, &c, what);
    if (!at_end(&c)) script_fail(s, "unexpected text at the end: %s", c.p);
}

void script_end(struct script *s) {
    s->line = NULL;
    expect_nothing_sent(s);
    tcp_stack_free(s->stack);
    uint64_t leaked = net_native_blocks_in_use() - s->blocks_at_start;
    if (leaked != 0) script_fail(s, "%llu blocks not freed", (unsigned long long)leaked);
    free(s);
}

void script_run(const char *name, const struct tcp_config *config, const char *const *lines) {
    struct script *s = script_start(name, config);
    for (size_t i = 0; lines[i] != NULL; i++) script_line(s, lines[i]);
    script_end(s);
}

struct tcp_stack *script_stack(struct script *s) { return s->stack; }
struct tcp_conn *script_conn(struct script *s) { return s->p->conn; }
uint64_t script_now(struct script *s) { return s->now; }
