/*
 * test/net/tcp_script_tests.c: scripted-peer tests of the TCP state machine (tcp_script.h has
 * the line syntax). Unless a test says otherwise the stack announces MSS 1460, has 64 KiB
 * buffers (window 65535), and neither window scaling nor timestamps.
 *
 * Numbers worth knowing when reading the scripts: the handshakes take 50 ms, so the first RTT
 * sample gives SRTT 50 ms, RTTVAR 25 ms and an RTO of 50 + 4*25 = 150 ms, raised to the 200 ms
 * floor; the initial window is 10 segments; delayed ACKs wait 40 ms; TIME_WAIT lasts 60 s.
 */
#include <stdio.h>
#include <stdlib.h>

#include "net_test.h"
#include "tcp_script.h"

#define RUN(...)                                                             \
    do {                                                                     \
        static const char *const lines_[] = {__VA_ARGS__, NULL};             \
        struct tcp_config config_ = script_default_config();                 \
        script_run(__func__, &config_, lines_);                              \
    } while (0)

#define RUN_WITH(config, ...)                                                \
    do {                                                                     \
        static const char *const lines_[] = {__VA_ARGS__, NULL};             \
        script_run(__func__, &(config), lines_);                             \
    } while (0)

/* The passive handshake every server-side test starts with: SYN at 0.1, ACK at 0.15. */
#define PASSIVE_OPEN                                                \
    "0.000 listen",                                                 \
    "0.100 < S 1000:1000(0) win 65535 <mss 1460>",                  \
    "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",              \
    "0.150 < . 1001:1001(0) ack 1 win 65535",                       \
    "0.150 accept",                                                 \
    "0.150 state ESTABLISHED"

/* Ten full segments sent at 0.2 s (the initial window). */
#define TEN_SEGMENTS                                              \
    "0.200 > . 1:1461(1460) ack 1001 win 65535",                  \
    "0.200 > . 1461:2921(1460) ack 1001 win 65535",               \
    "0.200 > . 2921:4381(1460) ack 1001 win 65535",               \
    "0.200 > . 4381:5841(1460) ack 1001 win 65535",               \
    "0.200 > . 5841:7301(1460) ack 1001 win 65535",               \
    "0.200 > . 7301:8761(1460) ack 1001 win 65535",               \
    "0.200 > . 8761:10221(1460) ack 1001 win 65535",              \
    "0.200 > . 10221:11681(1460) ack 1001 win 65535",             \
    "0.200 > . 11681:13141(1460) ack 1001 win 65535"


/* ---- handshakes ----------------------------------------------------------------------------- */

static void test_passive_open_data_close(void) {
    RUN("0.000 listen",
        "0.050 accept_again",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.100 accept_again", /* not established yet */
        "0.150 < . 1001:1001(0) ack 1 win 65535",
        "0.150 accept",
        "0.150 state ESTABLISHED",
        "0.150 stat passive_opens 1",
        "0.150 recv_again",
        "0.200 < P. 1001:1101(100) ack 1 win 65535",
        "0.240 > . 1:1(0) ack 1101 win 65435", /* delayed ACK */
        "0.250 recv 100",
        "0.300 send 1000",
        "0.300 > P. 1:1001(1000) ack 1101 win 65435",
        "0.350 < . 1101:1101(0) ack 1001 win 65535",
        "0.400 < F. 1101:1101(0) ack 1001 win 65535",
        "0.400 > . 1001:1001(0) ack 1102 win 65434", /* a FIN is ACKed at once */
        "0.400 state CLOSE_WAIT",
        "0.400 recv_eof",
        "0.500 close",
        "0.500 > F. 1001:1001(0) ack 1102 win 65434",
        "0.500 conns 1",
        "0.550 < . 1102:1102(0) ack 1002 win 65535",
        "0.550 conns 0",
        "0.550 deadline none");
}

static void test_active_open_data_close(void) {
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "0.000 state SYN_SENT",
        "0.000 stat active_opens 1",
        "0.000 send 3000", /* queued until established */
        "0.050 < S. 5000:5000(0) ack 1 win 29200 <mss 1400>",
        /* established: the ACK carries the data; the peer's MSS (1400) sizes the segments */
        "0.050 > . 1:1401(1400) ack 5001 win 65535",
        "0.050 > . 1401:2801(1400) ack 5001 win 65535",
        "0.050 > P. 2801:3001(200) ack 5001 win 65535",
        "0.050 state ESTABLISHED",
        "0.100 < . 5001:5001(0) ack 3001 win 29200",
        "0.200 shutdown",
        "0.200 > F. 3001:3001(0) ack 5001 win 65535",
        "0.200 state FIN_WAIT_1",
        "0.200 send_err ERR_NOTCONN",
        "0.250 < . 5001:5001(0) ack 3002 win 29200",
        "0.250 state FIN_WAIT_2",
        "0.300 < F. 5001:5001(0) ack 3002 win 29200",
        "0.300 > . 3002:3002(0) ack 5002 win 65534", /* the FIN took one sequence number */
        "0.300 state TIME_WAIT",
        "0.300 recv_eof",
        "0.300 deadline 60.300", /* 2*MSL */
        "60.299 state TIME_WAIT",
        "60.300 state CLOSED",
        "60.300 error 0",
        "60.300 conns 1", /* the handle still holds it */
        "60.300 close",
        "60.300 conns 0");
}

static void test_simultaneous_open(void) {
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "0.010 < S 7000:7000(0) win 65535 <mss 1460>",
        "0.010 > S. 0:0(0) ack 7001 win 65535 <mss 1460>",
        "0.010 state SYN_RECEIVED",
        "0.020 < S. 7000:7000(0) ack 1 win 65535 <mss 1460>",
        "0.020 state ESTABLISHED",
        "0.030 send 10",
        "0.030 > P. 1:11(10) ack 7001 win 65535",
        "0.040 < P. 7001:7011(10) ack 11 win 65535",
        "0.080 > . 11:11(0) ack 7011 win 65525",
        "0.080 recv 10");
}

static void test_simultaneous_open_crossing_acks(void) {
    /* each side's SYN-ACK is lost: the ACKs that answer them complete the open */
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "0.010 < S 7000:7000(0) win 65535 <mss 1460>",
        "0.010 > S. 0:0(0) ack 7001 win 65535 <mss 1460>",
        "0.020 < . 7001:7001(0) ack 1 win 65535",
        "0.020 state ESTABLISHED");
}

static void test_simultaneous_close(void) {
    RUN(PASSIVE_OPEN,
        "0.200 shutdown",
        "0.200 > F. 1:1(0) ack 1001 win 65535",
        "0.200 state FIN_WAIT_1",
        "0.210 < F. 1001:1001(0) ack 1 win 65535", /* the peer's FIN crosses ours */
        "0.210 > . 2:2(0) ack 1002 win 65534",
        "0.210 state CLOSING",
        "0.220 < . 1002:1002(0) ack 2 win 65535",
        "0.220 state TIME_WAIT",
        "0.220 deadline 60.220",
        "0.220 close",
        "0.220 conns 1",
        "60.220 conns 0");
}

static void test_fin_with_data(void) {
    RUN(PASSIVE_OPEN,
        /* the peer's data and FIN in one segment */
        "0.200 < FP. 1001:1101(100) ack 1 win 65535",
        "0.200 > . 1:1(0) ack 1102 win 65434",
        "0.200 state CLOSE_WAIT",
        "0.210 recv 100",
        "0.210 recv_eof",
        /* ours: a short segment goes, the next waits for its ACK (Nagle), and the FIN joins it */
        "0.300 send 100",
        "0.300 > P. 1:101(100) ack 1102 win 65434",
        "0.310 send 50",
        "0.320 shutdown",
        "0.320 > FP. 101:151(50) ack 1102 win 65434",
        "0.320 state LAST_ACK",
        "0.370 < . 1102:1102(0) ack 152 win 65535",
        "0.370 state CLOSED",
        "0.370 error 0");
}

static void test_half_close_keeps_receiving(void) {
    RUN(PASSIVE_OPEN,
        "0.200 shutdown",
        "0.200 > F. 1:1(0) ack 1001 win 65535",
        "0.250 < . 1001:1001(0) ack 2 win 65535",
        "0.250 state FIN_WAIT_2",
        "0.300 < P. 1001:2001(1000) ack 2 win 65535",
        "0.340 > . 2:2(0) ack 2001 win 64535",
        "0.350 recv 1000",
        "0.400 < F. 2001:2001(0) ack 2 win 65535",
        "0.400 > . 2:2(0) ack 2002 win 64534",
        "0.400 state TIME_WAIT",
        "0.400 recv_eof");
}

static void test_time_wait_repeated_fin(void) {
    RUN(PASSIVE_OPEN,
        "0.200 shutdown",
        "0.200 > F. 1:1(0) ack 1001 win 65535",
        "0.250 < F. 1001:1001(0) ack 2 win 65535",
        "0.250 > . 2:2(0) ack 1002 win 65534",
        "0.250 state TIME_WAIT",
        "0.250 deadline 60.250",
        /* the peer did not get our ACK: its FIN again is ACKed and TIME_WAIT starts over */
        "10.000 < F. 1001:1001(0) ack 2 win 65535",
        "10.000 > . 2:2(0) ack 1002 win 65534",
        "10.000 deadline 70.000",
        "70.000 state CLOSED");
}

static void test_syn_ack_retransmission(void) {
    /* the client's ACK never comes: SYN-ACK at 1, 3, 7, 15, 31 s after the SYN, then the
     * half-open connection goes (no RST) */
    RUN("0.000 listen",
        "0.000 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.500 < S 1000:1000(0) win 65535 <mss 1460>", /* the client's SYN again: answered again */
        "0.500 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "1.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "3.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "7.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "15.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "31.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "62.999 conns 1",
        "63.000 conns 0",
        "63.000 stat aborts_timeout 1",
        "63.000 accept_again");
}

static void test_syn_retransmission_and_timeout(void) {
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "1.000 > S 0:0(0) win 65535 <mss 1460>",
        "3.000 > S 0:0(0) win 65535 <mss 1460>",
        "7.000 > S 0:0(0) win 65535 <mss 1460>",
        "15.000 > S 0:0(0) win 65535 <mss 1460>",
        "31.000 > S 0:0(0) win 65535 <mss 1460>",
        "63.000 > S 0:0(0) win 65535 <mss 1460>",
        "122.999 state SYN_SENT", /* the RTO stops doubling at 60 s */
        "123.000 state CLOSED",
        "123.000 error ERR_TIMEOUT",
        "123.000 recv_err ERR_TIMEOUT",
        "123.000 send_err ERR_TIMEOUT",
        "123.000 stat retransmissions 6",
        "123.000 close",
        "123.000 conns 0");
}

static void test_lost_syn_gives_rto_3s_and_iw_1(void) {
    /* RFC 6298 (5.7): with the SYN retransmitted and no RTT sample (Karn), the RTO is 3 s once
     * data flows; RFC 5681 §3.1: the initial window is one segment */
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "1.000 > S 0:0(0) win 65535 <mss 1460>",
        "1.100 < S. 5000:5000(0) ack 1 win 65535 <mss 1460>",
        "1.100 > . 1:1(0) ack 5001 win 65535",
        "1.200 send 3000",
        "1.200 > . 1:1461(1460) ack 5001 win 65535",
        "4.200 > . 1:1461(1460) ack 5001 win 65535",
        "4.300 < . 5001:5001(0) ack 1461 win 65535",
        "4.300 > . 1461:2921(1460) ack 5001 win 65535",
        "4.300 > P. 2921:3001(80) ack 5001 win 65535");
}

/* ---- resets --------------------------------------------------------------------------------- */

static void test_rst_exact_resets(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < R. 1001:1001(0) ack 1 win 65535",
        "0.200 state CLOSED",
        "0.200 error ERR_CONNRESET",
        "0.200 recv_err ERR_CONNRESET",
        "0.200 send_err ERR_CONNRESET",
        "0.200 stat resets_in 1",
        /* the 4-tuple is free: later segments get the CLOSED answer */
        "0.300 < . 1001:1001(0) ack 1 win 65535",
        "0.300 > R 1:1(0) win 0");
}

static void test_rst_in_window_gets_challenge_ack(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < R. 1500:1500(0) ack 1 win 65535", /* in the window, not RCV.NXT (RFC 5961 §3) */
        "0.200 > . 1:1(0) ack 1001 win 65535",
        "0.200 state ESTABLISHED",
        "0.200 stat challenge_acks 1",
        "0.300 < R 70000:70000(0) win 0", /* outside the window: dropped silently */
        "0.300 state ESTABLISHED",
        "0.400 < R 1001:1001(0) win 0", /* the challenge answered exactly */
        "0.400 state CLOSED",
        "0.400 error ERR_CONNRESET");
}

static void test_syn_in_established_gets_challenge_ack(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < S 5000:5000(0) win 65535 <mss 1460>", /* RFC 5961 §4: not a reset */
        "0.200 > . 1:1(0) ack 1001 win 65535",
        "0.200 state ESTABLISHED",
        "0.300 < S 1020:1020(0) win 65535 <mss 1460>", /* in window too */
        "0.300 > . 1:1(0) ack 1001 win 65535",
        "0.300 state ESTABLISHED",
        "0.300 stat challenge_acks 2",
        "0.400 send 10",
        "0.400 > P. 1:11(10) ack 1001 win 65535");
}

static void test_challenge_ack_rate_limit(void) {
    /* RFC 5961 §7: at most 100 challenge ACKs per second per connection */
    struct tcp_config config = script_default_config();
    struct script *s = script_start(__func__, &config);
    static const char *const open[] = {PASSIVE_OPEN, NULL};
    for (int i = 0; open[i] != NULL; i++) script_line(s, open[i]);
    for (int i = 0; i < 120; i++) {
        script_line(s, "0.500 < R 2000:2000(0) win 0");
        if (i < 100) script_line(s, "0.500 > . 1:1(0) ack 1001 win 65535");
    }
    script_line(s, "0.500 stat challenge_acks 100");
    script_line(s, "1.600 < R 2000:2000(0) win 0"); /* a new second */
    script_line(s, "1.600 > . 1:1(0) ack 1001 win 65535");
    script_line(s, "1.600 state ESTABLISHED");
    script_end(s);
}

static void test_old_and_future_acks(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535",
        "0.250 < . 1001:1001(0) ack 101 win 65535",
        /* acknowledges data never sent: ACK and drop (its data is not taken) */
        "0.300 < P. 1001:1011(10) ack 500 win 65535",
        "0.300 > . 101:101(0) ack 1001 win 65535",
        "0.300 recv_again",
        /* RFC 5961 §5.2: older than SND.UNA - MAX.SND.WND is a blind injection: challenge ACK */
        "0.400 < P. 1001:1011(10) ack 4000000000 win 65535",
        "0.400 > . 101:101(0) ack 1001 win 65535",
        "0.400 stat challenge_acks 1",
        "0.400 recv_again",
        /* merely old (within the window): a duplicate, its data is taken */
        "0.500 < P. 1001:1011(10) ack 50 win 65535",
        "0.540 > . 101:101(0) ack 1011 win 65525",
        "0.550 recv 10");
}

static void test_data_in_syn_ack(void) {
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "0.050 < S. 5000:5010(10) ack 1 win 65535 <mss 1460>",
        "0.050 > . 1:1(0) ack 5011 win 65525",
        "0.050 state ESTABLISHED",
        "0.060 recv 10");
}

static void test_idle_restart(void) {
    /* RFC 5681 §4.1: after an idle RTO, back to the initial window */
    RUN(PASSIVE_OPEN,
        "0.200 send 14600",
        TEN_SEGMENTS,
        "0.200 > P. 13141:14601(1460) ack 1001 win 65535",
        "0.250 < . 1001:1001(0) ack 14601 win 65535", /* cwnd 14600 + 1460 */
        "10.000 send 17520", /* 12 segments; 11 would fit without the restart */
        "10.000 > . 14601:16061(1460) ack 1001 win 65535",
        "10.000 > . 16061:17521(1460) ack 1001 win 65535",
        "10.000 > . 17521:18981(1460) ack 1001 win 65535",
        "10.000 > . 18981:20441(1460) ack 1001 win 65535",
        "10.000 > . 20441:21901(1460) ack 1001 win 65535",
        "10.000 > . 21901:23361(1460) ack 1001 win 65535",
        "10.000 > . 23361:24821(1460) ack 1001 win 65535",
        "10.000 > . 24821:26281(1460) ack 1001 win 65535",
        "10.000 > . 26281:27741(1460) ack 1001 win 65535",
        "10.000 > . 27741:29201(1460) ack 1001 win 65535",
        "10.050 < . 1001:1001(0) ack 29201 win 65535",
        "10.050 > . 29201:30661(1460) ack 1001 win 65535",
        "10.050 > P. 30661:32121(1460) ack 1001 win 65535");
}

static void test_rst_in_syn_sent(void) {
    RUN("0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1460>",
        "0.010 < R 0:0(0) win 0", /* no ACK of our SYN: ignored (RFC 5961 §3.2) */
        "0.010 state SYN_SENT",
        "0.020 < R. 0:0(0) ack 5 win 0", /* unacceptable ACK: RST for it? no, RSTs are not answered */
        "0.020 state SYN_SENT",
        "0.030 < . 0:0(0) ack 5 win 0", /* a bad ACK without RST: <SEQ=SEG.ACK><CTL=RST> */
        "0.030 > R 5:5(0) win 0",
        "0.040 < R. 0:0(0) ack 1 win 0", /* refused */
        "0.040 state CLOSED",
        "0.040 error ERR_CONNREFUSED");
}

static void test_rst_to_closed_port(void) {
    RUN("0.000 < S 1000:1000(0) win 65535 <mss 1460> dport 81",
        "0.000 > R. 0:0(0) ack 1001 win 0 sport 81",
        "0.100 < . 1000:1000(0) ack 5000 win 65535 dport 81",
        "0.100 > R 5000:5000(0) win 0 sport 81",
        "0.200 < P. 1000:1010(10) ack 77 win 65535 dport 81",
        "0.200 > R 77:77(0) win 0 sport 81",
        "0.300 < FP 1000:1010(10) win 65535 dport 81", /* SEG.LEN counts the FIN */
        "0.300 > R. 0:0(0) ack 1011 win 0 sport 81",
        "0.400 < R 1000:1000(0) win 0 dport 81", /* a RST is never answered */
        "0.400 stat resets_out 4");
}

static void test_listen_rejects_ack_and_ignores_rst(void) {
    RUN("0.000 listen",
        "0.100 < . 1000:1000(0) ack 999 win 65535",
        "0.100 > R 999:999(0) win 0",
        "0.200 < R 1000:1000(0) win 0",
        "0.300 < SF 1000:1000(0) win 65535", /* SYN+FIN is dropped */
        "0.300 conns 0");
}

static void test_bad_ack_in_syn_received(void) {
    RUN("0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.150 < . 1001:1001(0) ack 7 win 65535", /* acknowledges what we never sent */
        "0.150 > R 7:7(0) win 0",
        "0.200 < . 1001:1001(0) ack 1 win 65535",
        "0.200 accept",
        "0.200 state ESTABLISHED");
}

static void test_rst_in_syn_received_returns_to_listen(void) {
    RUN("0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.150 < R 1001:1001(0) win 0",
        "0.150 conns 0",
        "0.200 < S 2000:2000(0) win 65535 <mss 1460>", /* the listener still answers */
        "0.200 > S. * ack 2001 win 65535 <mss 1460>");
}

/* ---- retransmission ------------------------------------------------------------------------- */

static void test_rto_backoff_and_karn(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535",
        "0.400 > P. 1:101(100) ack 1001 win 65535", /* RTO 200 ms (the floor) */
        "0.800 > P. 1:101(100) ack 1001 win 65535", /* then doubling */
        "1.600 > P. 1:101(100) ack 1001 win 65535",
        "3.200 > P. 1:101(100) ack 1001 win 65535",
        "3.300 < . 1001:1001(0) ack 101 win 65535",
        "3.300 stat retransmissions 4",
        "3.300 stat timeouts 4",
        /* Karn: no sample from the retransmitted segment, so the RTO stays at 3.2 s ... */
        "3.400 send 100",
        "3.400 > P. 101:201(100) ack 1001 win 65535",
        "3.400 deadline 6.600",
        /* ... until a new segment is timed: 100 ms gives SRTT 56.25, RTTVAR 31.25, RTO 200 */
        "3.500 < . 1001:1001(0) ack 201 win 65535",
        "3.600 send 100",
        "3.600 > P. 201:301(100) ack 1001 win 65535",
        "3.600 deadline 3.800");
}

static void test_rto_from_rtt_samples(void) {
    /* long round trips lift the RTO above the floor */
    RUN("0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "1.000 < . 1001:1001(0) ack 1 win 65535", /* 900 ms: SRTT 900, RTTVAR 450, RTO 2.7 s */
        "1.000 accept",
        "1.100 send 100",
        "1.100 > P. 1:101(100) ack 1001 win 65535",
        "1.100 deadline 3.800",
        /* 2 s: SRTT = 7/8*900 + 1/8*2000 = 1037.5; RTTVAR = 3/4*450 + 1/4*1100 = 612.5;
         * RTO = 1037.5 + 4*612.5 = 3487.5 ms */
        "3.100 < . 1001:1001(0) ack 101 win 65535",
        "3.200 send 100",
        "3.200 > P. 101:201(100) ack 1001 win 65535",
        "3.200 deadline 6.6875",
        "6.6875 > P. 101:201(100) ack 1001 win 65535",
        "6.6875 deadline 13.6625");
}

static void test_retransmission_gives_up(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535",
        "0.400 > P. 1:101(100) ack 1001 win 65535",
        "0.800 > P. 1:101(100) ack 1001 win 65535",
        "1.600 > P. 1:101(100) ack 1001 win 65535",
        "3.200 > P. 1:101(100) ack 1001 win 65535",
        "6.400 > P. 1:101(100) ack 1001 win 65535",
        "12.800 > P. 1:101(100) ack 1001 win 65535",
        "25.600 > P. 1:101(100) ack 1001 win 65535",
        "51.200 > P. 1:101(100) ack 1001 win 65535",
        "102.400 > P. 1:101(100) ack 1001 win 65535",
        "162.400 > P. 1:101(100) ack 1001 win 65535", /* the RTO stops at 60 s */
        "222.400 > P. 1:101(100) ack 1001 win 65535",
        "282.400 > P. 1:101(100) ack 1001 win 65535",
        "342.400 > P. 1:101(100) ack 1001 win 65535",
        "402.400 > P. 1:101(100) ack 1001 win 65535",
        "462.400 > P. 1:101(100) ack 1001 win 65535", /* the 15th */
        "522.400 > R. 101:101(0) ack 1001 win 0",
        "522.400 state CLOSED",
        "522.400 error ERR_TIMEOUT",
        "522.400 recv_err ERR_TIMEOUT");
}

static void test_fin_retransmission(void) {
    RUN(PASSIVE_OPEN,
        "0.200 close",
        "0.200 > F. 1:1(0) ack 1001 win 65535",
        "0.400 > F. 1:1(0) ack 1001 win 65535",
        "0.800 > F. 1:1(0) ack 1001 win 65535",
        "0.850 < . 1001:1001(0) ack 2 win 65535",
        "0.850 stat connections 1", /* FIN_WAIT_2 without a handle */
        "60.849 stat connections 1",
        "60.850 stat connections 0"); /* the orphan's FIN_WAIT_2 limit */
}

/* ---- fast retransmit and NewReno ------------------------------------------------------------ */

static void test_fast_retransmit_and_recovery(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 18600", /* the initial window is 10 segments (14600 bytes) */
        TEN_SEGMENTS,
        "0.200 > . 13141:14601(1460) ack 1001 win 65535",
        /* the first segment is lost: three duplicate ACKs retransmit it at once */
        "0.250 < . 1001:1001(0) ack 1 win 65535",
        "0.251 < . 1001:1001(0) ack 1 win 65535",
        "0.252 < . 1001:1001(0) ack 1 win 65535",
        "0.252 > . 1:1461(1460) ack 1001 win 65535",
        "0.252 stat fast_retransmits 1",
        /* ssthresh 7300, cwnd 7300 + 3*1460 = 11680; each further duplicate adds 1460, and
         * new data goes once cwnd exceeds the 14600 bytes in flight */
        "0.253 < . 1001:1001(0) ack 1 win 65535",
        "0.254 < . 1001:1001(0) ack 1 win 65535",
        "0.255 < . 1001:1001(0) ack 1 win 65535",
        "0.255 > . 14601:16061(1460) ack 1001 win 65535",
        "0.256 < . 1001:1001(0) ack 1 win 65535",
        "0.256 > . 16061:17521(1460) ack 1001 win 65535",
        "0.257 < . 1001:1001(0) ack 1 win 65535",
        "0.257 > P. 17521:18601(1080) ack 1001 win 65535",
        /* the full ACK ends recovery: cwnd = min(ssthresh, flight + MSS) = 5460 */
        "0.300 < . 1001:1001(0) ack 14601 win 65535",
        "0.350 < . 1001:1001(0) ack 18601 win 65535",
        "0.350 stat retransmissions 1",
        "0.350 stat timeouts 0");
}

static void test_newreno_partial_ack(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 14600",
        TEN_SEGMENTS,
        "0.200 > P. 13141:14601(1460) ack 1001 win 65535",
        "0.250 < . 1001:1001(0) ack 1 win 65535",
        "0.251 < . 1001:1001(0) ack 1 win 65535",
        "0.252 < . 1001:1001(0) ack 1 win 65535",
        "0.252 > . 1:1461(1460) ack 1001 win 65535",
        "0.260 < . 1001:1001(0) ack 1 win 65535",
        /* segments 1-3 arrived, 4 was lost too: a partial ACK retransmits it at once */
        "0.300 < . 1001:1001(0) ack 4381 win 65535",
        "0.300 > . 4381:5841(1460) ack 1001 win 65535",
        "0.350 < . 1001:1001(0) ack 14601 win 65535",
        "0.350 stat fast_retransmits 2",
        "0.350 stat timeouts 0",
        "0.350 deadline none");
}

static void test_no_fast_retransmit_for_old_data_after_rto(void) {
    /* RFC 6582 step 2: duplicate ACKs below `recover` (data sent before an RTO) do not start a
     * second fast retransmit */
    RUN(PASSIVE_OPEN,
        "0.200 send 4380",
        "0.200 > . 1:1461(1460) ack 1001 win 65535",
        "0.200 > . 1461:2921(1460) ack 1001 win 65535",
        "0.200 > P. 2921:4381(1460) ack 1001 win 65535",
        "0.400 > . 1:1461(1460) ack 1001 win 65535", /* RTO: cwnd 1 segment */
        "0.450 < . 1001:1001(0) ack 1 win 65535",
        "0.451 < . 1001:1001(0) ack 1 win 65535",
        "0.452 < . 1001:1001(0) ack 1 win 65535",
        "0.452 stat fast_retransmits 0",
        "0.500 < . 1001:1001(0) ack 1461 win 65535", /* slow start again: 2 segments */
        "0.500 > . 1461:2921(1460) ack 1001 win 65535",
        "0.500 > P. 2921:4381(1460) ack 1001 win 65535");
}

/* ---- windows -------------------------------------------------------------------------------- */

static void test_zero_window_persist(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < . 1001:1001(0) ack 1 win 0", /* the peer's window closes */
        "0.300 send 100",
        "0.500 > . 1:2(1) ack 1001 win 65535", /* a probe after one RTO (200 ms) */
        "0.510 < . 1001:1001(0) ack 1 win 0",
        "0.900 > . 1:2(1) ack 1001 win 65535", /* then 400 ms */
        "0.910 < . 1001:1001(0) ack 1 win 0",
        "1.700 > . 1:2(1) ack 1001 win 65535", /* 800 ms */
        "1.750 stat persist_probes 3",
        "1.750 stat fast_retransmits 0", /* the probes' answers are not duplicate ACKs */
        "1.800 < . 1001:1001(0) ack 1 win 1000", /* open again: the data goes */
        "1.800 > P. 1:101(100) ack 1001 win 65535",
        "1.850 < . 1001:1001(0) ack 101 win 1000",
        "1.850 deadline none");
}

static void test_zero_window_peer_gone(void) {
    /* probes nobody answers: after 15 of them the connection gives up (RFC 1122 §4.2.2.17
     * only asks to persist while the peer answers) */
    RUN(PASSIVE_OPEN,
        "0.200 < . 1001:1001(0) ack 1 win 0",
        "0.300 send 100",
        "0.500 > . 1:2(1) ack 1001 win 65535",
        "0.900 > . 1:2(1) ack 1001 win 65535",
        "1.700 > . 1:2(1) ack 1001 win 65535",
        "3.300 > . 1:2(1) ack 1001 win 65535",
        "6.500 > . 1:2(1) ack 1001 win 65535",
        "12.900 > . 1:2(1) ack 1001 win 65535",
        "25.700 > . 1:2(1) ack 1001 win 65535",
        "51.300 > . 1:2(1) ack 1001 win 65535",
        "102.500 > . 1:2(1) ack 1001 win 65535",
        "162.500 > . 1:2(1) ack 1001 win 65535", /* the interval stops at 60 s */
        "222.500 > . 1:2(1) ack 1001 win 65535",
        "282.500 > . 1:2(1) ack 1001 win 65535",
        "342.500 > . 1:2(1) ack 1001 win 65535",
        "402.500 > . 1:2(1) ack 1001 win 65535",
        "462.500 > . 1:2(1) ack 1001 win 65535", /* the 15th */
        "522.500 > R. 1:1(0) ack 1001 win 0",
        "522.500 state CLOSED",
        "522.500 error ERR_TIMEOUT");
}

static void test_zero_window_probe_accepted(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < . 1001:1001(0) ack 1 win 0",
        "0.300 send 100",
        "0.500 > . 1:2(1) ack 1001 win 65535",
        "0.510 < . 1001:1001(0) ack 2 win 50", /* the peer took the byte and opened a little */
        /* 50 bytes is a silly window: they go only when the persist timer overrides */
        "0.710 > . 2:52(50) ack 1001 win 65535",
        "0.760 < . 1001:1001(0) ack 52 win 2000",
        "0.760 > P. 52:101(49) ack 1001 win 65535");
}

static void test_receive_window_and_update(void) {
    struct tcp_config config = script_default_config();
    config.receive_buffer = 4000;
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
             "0.100 > S. 0:0(0) ack 1001 win 4000 <mss 1460>",
             "0.150 < . 1001:1001(0) ack 1 win 65535",
             "0.150 accept",
             "0.200 < . 1001:2461(1460) ack 1 win 65535",
             "0.201 < . 2461:3921(1460) ack 1 win 65535",
             "0.201 > . 1:1(0) ack 3921 win 1080", /* the second full segment is ACKed at once */
             "0.202 < P. 3921:5001(1080) ack 1 win 65535",
             "0.242 > . 1:1(0) ack 5001 win 0",
             "0.300 < . 5001:5002(1) ack 1 win 65535", /* a probe into the closed window */
             "0.300 > . 1:1(0) ack 5001 win 0",
             "0.400 recv 1000", /* 1000 free: less than an MSS, so no update (SWS) */
             "0.500 recv 1000", /* 2000 free: half the buffer, an update */
             "0.500 > . 1:1(0) ack 5001 win 2000",
             "0.600 recv 2000",
             "0.600 > . 1:1(0) ack 5001 win 4000");
}

static void test_data_beyond_window_is_cut(void) {
    struct tcp_config config = script_default_config();
    config.receive_buffer = 2000;
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
             "0.100 > S. 0:0(0) ack 1001 win 2000 <mss 1460>",
             "0.150 < . 1001:1001(0) ack 1 win 65535",
             "0.150 accept",
             "0.200 < . 1001:2461(1460) ack 1 win 65535",
             "0.201 < . 2461:3921(1460) ack 1 win 65535", /* only 540 bytes fit */
             "0.201 > . 1:1(0) ack 3001 win 0",
             "0.300 recv 2000",
             "0.300 > . 1:1(0) ack 3001 win 2000");
}

/* ---- out of order --------------------------------------------------------------------------- */

static void test_out_of_order_reassembly(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < . 2001:3001(1000) ack 1 win 65535",
        "0.200 > . 1:1(0) ack 1001 win 65535", /* a hole: duplicate ACK at once */
        "0.201 < . 4001:5001(1000) ack 1 win 65535",
        "0.201 > . 1:1(0) ack 1001 win 65535",
        "0.202 < . 3001:4001(1000) ack 1 win 65535",
        "0.202 > . 1:1(0) ack 1001 win 65535",
        "0.203 recv_again", /* nothing in order yet */
        "0.210 < . 1001:2001(1000) ack 1 win 65535", /* fills the hole: ACK at once */
        "0.210 > . 1:1(0) ack 5001 win 61535",
        "0.210 stat out_of_order 3",
        "0.220 recv 4000",
        "0.220 > . 1:1(0) ack 5001 win 65535", /* the window opened by 4000: an update */
        "0.220 recv_again");
}

static void test_out_of_order_overlaps_and_fin(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < F. 3001:3001(0) ack 1 win 65535", /* the FIN first */
        "0.200 > . 1:1(0) ack 1001 win 65535",
        "0.201 < . 1501:2501(1000) ack 1 win 65535",
        "0.201 > . 1:1(0) ack 1001 win 65535",
        "0.202 < . 2001:3001(1000) ack 1 win 65535", /* overlaps the previous one */
        "0.202 > . 1:1(0) ack 1001 win 65535",
        "0.203 state ESTABLISHED",
        "0.210 < . 901:1601(700) ack 1 win 65535", /* starts before RCV.NXT, reaches the queue */
        "0.210 > . 1:1(0) ack 3002 win 63534",
        "0.210 state CLOSE_WAIT",
        "0.220 recv 2000",
        "0.220 recv_eof");
}

static void test_duplicate_data_is_acked(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < . 1001:2001(1000) ack 1 win 65535",
        "0.240 > . 1:1(0) ack 2001 win 64535",
        "0.300 < . 1001:2001(1000) ack 1 win 65535", /* our ACK was lost: it comes again */
        "0.300 > . 1:1(0) ack 2001 win 64535",
        "0.310 recv 1000",
        "0.310 recv_again");
}

/* ---- delayed ACK and Nagle ------------------------------------------------------------------ */

static void test_delayed_ack(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < P. 1001:1101(100) ack 1 win 65535",
        "0.240 > . 1:1(0) ack 1101 win 65435", /* 40 ms later */
        "0.300 < . 1101:2561(1460) ack 1 win 65535",
        "0.310 < . 2561:4021(1460) ack 1 win 65535",
        "0.310 > . 1:1(0) ack 4021 win 62515", /* every second full segment at once */
        "0.320 < . 4021:5481(1460) ack 1 win 65535",
        "0.330 send 10", /* our data carries the ACK */
        "0.330 > P. 1:11(10) ack 5481 win 61055",
        "0.400 deadline 0.530"); /* only the retransmission timer is left */
}

static void test_nagle(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535",
        "0.210 send 100", /* a short segment is in flight: this one waits */
        "0.220 send 100",
        "0.250 < . 1001:1001(0) ack 101 win 65535",
        "0.250 > P. 101:301(200) ack 1001 win 65535",
        "0.300 send 2000", /* a full segment goes at once, the short rest waits */
        "0.300 > . 301:1761(1460) ack 1001 win 65535",
        "0.350 < . 1001:1001(0) ack 301 win 65535",
        "0.350 > P. 1761:2301(540) ack 1001 win 65535");
}

static void test_nodelay(void) {
    RUN(PASSIVE_OPEN,
        "0.200 nodelay",
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535",
        "0.210 send 100",
        "0.210 > P. 101:201(100) ack 1001 win 65535");
}

/* ---- window scaling and timestamps ---------------------------------------------------------- */

static struct tcp_config rfc7323_config(void) {
    struct tcp_config config = script_default_config();
    config.receive_buffer = 200000; /* window scale 2 */
    config.send_buffer = 200000;
    config.window_scaling = true;
    config.timestamps = true;
    return config;
}

static void test_passive_ws_ts_negotiated(void) {
    struct tcp_config config = rfc7323_config();
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 7>",
             "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460,nop,nop,TS val 100 ecr 700,nop,wscale 2>",
             "0.150 < . 1001:1001(0) ack 1 win 229 <nop,nop,TS val 750 ecr 100>",
             /* scaling now lets us offer the whole buffer, more than the SYN-ACK's 65535 */
             "0.150 > . 1:1(0) ack 1001 win 50000 <nop,nop,TS val 150 ecr 750>",
             "0.150 accept",
             /* segments carry MSS - 12 = 1448 bytes and TS; our window is scaled by 4 */
             "0.200 send 2000",
             "0.200 > . 1:1449(1448) ack 1001 win 50000 <nop,nop,TS val 200 ecr 750>",
             "0.200 > P. 1449:2001(552) ack 1001 win 50000 <nop,nop,TS val 200 ecr 750>",
             "0.250 < . 1001:1001(0) ack 2001 win 229 <nop,nop,TS val 800 ecr 200>",
             /* cwnd (10 segments + 1448 for the ACK of 2000 bytes) allows 11 segments; the
              * peer's window is 229 << 7 = 29312 */
             "0.300 send 40000",
             "0.300 > . 2001:3449(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 3449:4897(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 4897:6345(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 6345:7793(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 7793:9241(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 9241:10689(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 10689:12137(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 12137:13585(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 13585:15033(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 15033:16481(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             "0.300 > . 16481:17929(1448) ack 1001 win 50000 <nop,nop,TS val 300 ecr 800>",
             /* all acknowledged, and the window closes: a probe after the RTO (200 ms) */
             "0.400 < . 1001:1001(0) ack 17929 win 0 <nop,nop,TS val 900 ecr 300>",
             "0.400 deadline 0.600",
             "0.600 > . 17929:17930(1) ack 1001 win 50000 <nop,nop,TS val 600 ecr 900>");
}

static void test_passive_peer_offers_nothing(void) {
    struct tcp_config config = rfc7323_config();
    /* like slirp: MSS only. No scaling (window capped at 65535) and no timestamps */
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
             "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
             "0.150 < . 1001:1001(0) ack 1 win 65535",
             "0.150 accept",
             "0.200 send 2000",
             "0.200 > . 1:1461(1460) ack 1001 win 65535 <>",
             "0.200 > P. 1461:2001(540) ack 1001 win 65535 <>");
}

static void test_passive_not_configured(void) {
    /* the peer offers both, we are configured for neither */
    RUN("0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 700 ecr 0,nop,wscale 7>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.150 < . 1001:1001(0) ack 1 win 65535",
        "0.150 accept",
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535 <>");
}

static void test_active_ws_ts(void) {
    struct tcp_config config = rfc7323_config();
    RUN_WITH(config, "0.000 connect",
             "0.000 > S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 0 ecr 0,nop,wscale 2>",
             "0.040 < S. 9000:9000(0) ack 1 win 65535 <mss 1460,nop,nop,TS val 5000 ecr 0,nop,wscale 3>",
             "0.040 > . 1:1(0) ack 9001 win 50000 <nop,nop,TS val 40 ecr 5000>",
             "0.100 < P. 9001:9101(100) ack 1 win 1000 <nop,nop,TS val 5060 ecr 40>",
             "0.140 > . 1:1(0) ack 9101 win 49975 <nop,nop,TS val 140 ecr 5060>",
             "0.200 send 9000", /* the peer's window: 1000 << 3 = 8000 */
             "0.200 > . 1:1449(1448) ack 9101 win 49975 <nop,nop,TS val 200 ecr 5060>",
             "0.200 > . 1449:2897(1448) ack 9101 win 49975 <nop,nop,TS val 200 ecr 5060>",
             "0.200 > . 2897:4345(1448) ack 9101 win 49975 <nop,nop,TS val 200 ecr 5060>",
             "0.200 > . 4345:5793(1448) ack 9101 win 49975 <nop,nop,TS val 200 ecr 5060>",
             "0.200 > . 5793:7241(1448) ack 9101 win 49975 <nop,nop,TS val 200 ecr 5060>",
             /* 760 bytes would fit, but sender SWS avoidance waits for a bigger opening */
             "0.250 < . 9101:9101(0) ack 2897 win 1000 <nop,nop,TS val 5110 ecr 200>",
             "0.250 > . 7241:8689(1448) ack 9101 win 49975 <nop,nop,TS val 250 ecr 5110>",
             "0.250 > P. 8689:9001(312) ack 9101 win 49975 <nop,nop,TS val 250 ecr 5110>");
}

static void test_active_peer_without_options(void) {
    struct tcp_config config = rfc7323_config();
    RUN_WITH(config, "0.000 connect",
             "0.000 > S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 0 ecr 0,nop,wscale 2>",
             "0.040 < S. 9000:9000(0) ack 1 win 65535 <mss 1460>",
             "0.040 > . 1:1(0) ack 9001 win 65535 <>", /* unscaled, and capped at 65535 */
             "0.100 send 100",
             "0.100 > P. 1:101(100) ack 9001 win 65535 <>");
}

static void test_paws(void) {
    struct tcp_config config = rfc7323_config();
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460,nop,nop,TS val 700 ecr 0,nop,wscale 0>",
             "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460,nop,nop,TS val 100 ecr 700,nop,wscale 2>",
             "0.150 < . 1001:1001(0) ack 1 win 65535 <nop,nop,TS val 750 ecr 100>",
             "0.150 > . 1:1(0) ack 1001 win 50000 <nop,nop,TS val 150 ecr 750>",
             "0.150 accept",
             "0.200 < . 1001:1101(100) ack 1 win 65535 <nop,nop,TS val 800 ecr 100>",
             "0.240 > . 1:1(0) ack 1101 win 49975 <nop,nop,TS val 240 ecr 800>",
             /* an old duplicate: its timestamp is behind TS.Recent (RFC 7323 §5) */
             "0.300 < . 1101:1201(100) ack 1 win 65535 <nop,nop,TS val 790 ecr 100>",
             "0.300 > . 1:1(0) ack 1101 win 49975 <nop,nop,TS val 300 ecr 800>",
             "0.300 stat dropped 1",
             "0.400 < . 1101:1201(100) ack 1 win 65535 <nop,nop,TS val 810 ecr 100>",
             "0.440 > . 1:1(0) ack 1201 win 49950 <nop,nop,TS val 440 ecr 810>",
             "0.450 recv 200");
}

static void test_rtt_from_timestamps(void) {
    struct tcp_config config = rfc7323_config();
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460,nop,nop,TS val 700 ecr 0,nop,wscale 0>",
             "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460,nop,nop,TS val 100 ecr 700,nop,wscale 2>",
             "0.600 < . 1001:1001(0) ack 1 win 65535 <nop,nop,TS val 750 ecr 100>",
             "0.600 > . 1:1(0) ack 1001 win 50000 <nop,nop,TS val 600 ecr 750>",
             "0.600 accept",
             /* a 500 ms sample from the echoed timestamp: RTO = 500 + 4*250 = 1.5 s */
             "0.700 send 100",
             "0.700 > P. 1:101(100) ack 1001 win 50000 <nop,nop,TS val 700 ecr 750>",
             "0.700 deadline 2.200");
}

/* ---- limits and closing --------------------------------------------------------------------- */

static void test_backlog_limit(void) {
    RUN("0.000 listen 8080 1",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.110 < S 5000:5000(0) win 65535 <mss 1460> sport 40001", /* the backlog is full */
        "0.110 stat listen_overflows 1",
        "0.150 < . 1001:1001(0) ack 1 win 65535",
        "0.160 < S 5000:5000(0) win 65535 <mss 1460> sport 40001", /* still full: not accepted */
        "0.160 stat listen_overflows 2",
        "0.200 accept",
        "0.210 < S 5000:5000(0) win 65535 <mss 1460> sport 40001",
        "0.210 > S. * dport 40001");
}

static void test_close_with_unread_data_resets(void) {
    RUN(PASSIVE_OPEN,
        "0.200 < P. 1001:1101(100) ack 1 win 65535",
        "0.210 close",
        "0.210 > R. 1:1(0) ack 1101 win 0",
        "0.210 conns 0");
}

static void test_data_after_close_resets(void) {
    RUN(PASSIVE_OPEN,
        "0.200 close",
        "0.200 > F. 1:1(0) ack 1001 win 65535",
        "0.250 < . 1001:1001(0) ack 2 win 65535",
        "0.300 < P. 1001:1101(100) ack 2 win 65535", /* nobody can read it */
        "0.300 > R. 2:2(0) ack 1001 win 0",
        "0.300 conns 0");
}

static void test_abort(void) {
    RUN(PASSIVE_OPEN,
        "0.200 send 100",
        "0.200 > P. 1:101(100) ack 1001 win 65535",
        "0.300 abort",
        "0.300 > R. 101:101(0) ack 1001 win 0",
        "0.300 conns 0",
        "0.300 deadline none");
}

static void test_listener_close_resets_queued(void) {
    RUN("0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.150 < . 1001:1001(0) ack 1 win 65535",
        "0.200 listen_close",
        "0.200 > R. 1:1(0) ack 1001 win 0",
        "0.200 conns 0",
        "0.300 < S 2000:2000(0) win 65535 <mss 1460>",
        "0.300 > R. * ack 2001 win 0");
}

static void test_half_open_costs_no_buffers(void) {
    /* a SYN flood within the backlog must not pin send and receive buffers */
    struct tcp_config config = script_default_config();
    config.send_buffer = config.receive_buffer = 1 << 20;
    struct script *s = script_start(__func__, &config);
    script_line(s, "0.000 listen");
    uint64_t before = net_native_bytes_in_use();
    script_line(s, "0.100 < S 1000:1000(0) win 65535 <mss 1460>");
    script_line(s, "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>");
    uint64_t half_open = net_native_bytes_in_use() - before;
    TEST_ASSERT(half_open < 4096, "a half-open TCB holds %llu bytes", (unsigned long long)half_open);
    script_line(s, "0.150 < . 1001:1001(0) ack 1 win 65535");
    uint64_t established = net_native_bytes_in_use() - before;
    TEST_ASSERT(established >= 2u << 20, "an established TCB holds only %llu bytes", (unsigned long long)established);
    script_end(s);
}

static void test_max_connections(void) {
    struct tcp_config config = script_default_config();
    config.max_connections = 1;
    RUN_WITH(config, "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
             "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
             "0.110 < S 5000:5000(0) win 65535 <mss 1460> sport 40001", /* no TCB left */
             "0.110 stat listen_overflows 1",
             "0.110 conns 1");
}

static void test_time_wait_reused_under_pressure(void) {
    struct tcp_config config = script_default_config();
    config.max_connections = 1;
    RUN_WITH(config, PASSIVE_OPEN,
             "0.200 close",
             "0.200 > F. 1:1(0) ack 1001 win 65535",
             "0.250 < F. 1001:1001(0) ack 2 win 65535",
             "0.250 > . 2:2(0) ack 1002 win 65534",
             "0.250 stat time_wait 1",
             /* a new client while the only TCB is in TIME_WAIT: the TIME_WAIT one makes room */
             "0.300 < S 5000:5000(0) win 65535 <mss 1460> sport 40001",
             "0.300 > S. * dport 40001",
             "0.300 stat time_wait 0",
             "0.300 conns 1");
}

static void test_time_wait_new_syn_reopens(void) {
    RUN(PASSIVE_OPEN,
        "0.200 close",
        "0.200 > F. 1:1(0) ack 1001 win 65535",
        "0.250 < F. 1001:1001(0) ack 2 win 65535",
        "0.250 > . 2:2(0) ack 1002 win 65534",
        "0.300 < S 1000:1000(0) win 65535 <mss 1460>", /* an old SYN: just ACKed */
        "0.300 > . 2:2(0) ack 1002 win 65534",
        "0.400 < S 90000:90000(0) win 65535 <mss 1460>", /* above RCV.NXT: a new connection */
        "0.400 > S. * ack 90001",
        "0.400 stat passive_opens 2");
}

/* ---- IPv6 addresses (the stack is fd00::1, the peer fd00::2) --------------------------------- */

static void test_ipv6_passive_pseudo_header(void) {
    /* every segment the stack sends is checked against RFC 8200's pseudo-header (tcp_script.c);
     * one whose checksum covers the IPv4 pseudo-header instead is refused, in LISTEN and later */
    RUN("0.000 peer fd00::2",
        "0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1440> sum4",
        "0.100 stat bad_checksums 1",
        "0.100 stat passive_opens 0",
        "0.100 conns 0",
        "0.200 < S 1000:1000(0) win 65535 <mss 1440>",
        "0.200 > S. 0:0(0) ack 1001 win 65535 <mss 1440>",
        "0.250 < . 1001:1001(0) ack 1 win 65535",
        "0.250 accept",
        "0.250 state ESTABLISHED",
        "0.300 < P. 1001:1101(100) ack 1 win 65535 sum4",
        "0.300 stat bad_checksums 2",
        "0.300 recv_again",
        "0.400 < P. 1001:1101(100) ack 1 win 65535",
        "0.440 > . 1:1(0) ack 1101 win 65435",
        "0.450 recv 100",
        "0.500 send 50",
        "0.500 > P. 1:51(50) ack 1101 win 65435",
        "0.550 < F. 1101:1101(0) ack 51 win 65535",
        "0.550 > . 51:51(0) ack 1102 win 65434",
        "0.600 close",
        "0.600 > F. 51:51(0) ack 1102 win 65434",
        "0.650 < . 1102:1102(0) ack 52 win 65535",
        "0.650 conns 0");
}

static void test_ipv6_mss(void) {
    /* the IPv6 header is 20 bytes longer: MSS 1440 (MTU - 60) is announced for config.mss 1460,
     * and the peer's larger MSS is cut down to it */
    RUN("0.000 peer fd00::2",
        "0.000 connect",
        "0.000 > S 0:0(0) win 65535 <mss 1440>",
        "0.000 send 3000",
        "0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460>",
        "0.050 > . 1:1441(1440) ack 5001 win 65535",
        "0.050 > . 1441:2881(1440) ack 5001 win 65535",
        "0.050 > P. 2881:3001(120) ack 5001 win 65535",
        "0.100 < . 5001:5001(0) ack 3001 win 65535",
        /* an IPv4 connection of the same stack still announces config.mss */
        "0.200 peer 10.0.0.2",
        "0.200 connect",
        "0.200 > S 0:0(0) win 65535 <mss 1460>",
        "0.200 conns 2");
}

static void test_ipv6_mss_with_timestamps(void) {
    /* the timestamp option comes off the IPv6 MSS too: 1440 - 12 */
    struct tcp_config config = script_default_config();
    config.timestamps = true;
    RUN_WITH(config, "0.000 peer fd00::2",
             "0.000 listen",
             "0.100 < S 1000:1000(0) win 65535 <mss 1460,nop,nop,TS val 100 ecr 0>",
             "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1440,nop,nop,TS val 100 ecr 100>",
             "0.150 < . 1001:1001(0) ack 1 win 65535 <nop,nop,TS val 150 ecr 100>",
             "0.150 accept",
             "0.200 send 3000",
             "0.200 > . 1:1429(1428) ack 1001 win 65535 <nop,nop,TS val 200 ecr 150>",
             "0.200 > . 1429:2857(1428) ack 1001 win 65535 <nop,nop,TS val 200 ecr 150>",
             "0.200 > P. 2857:3001(144) ack 1001 win 65535 <nop,nop,TS val 200 ecr 150>");
}

static void test_dual_stack_listener(void) {
    /* one listener on any address takes an IPv4 and an IPv6 client from the same port number:
     * two connections, each answered over its own family */
    RUN("0.000 listen",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > S. 0:0(0) ack 1001 win 65535 <mss 1460>",
        "0.150 < . 1001:1001(0) ack 1 win 65535",
        "0.150 accept",
        "0.200 peer fd00::2",
        "0.200 < S 7000:7000(0) win 65535 <mss 1440>",
        "0.200 > S. 0:0(0) ack 7001 win 65535 <mss 1440>",
        "0.250 < . 7001:7001(0) ack 1 win 65535",
        "0.250 accept",
        "0.250 conns 2",
        "0.250 stat passive_opens 2",
        "0.250 stat established 2",
        "0.300 < P. 7001:7011(10) ack 1 win 65535",
        "0.300 send 20",
        "0.300 > P. 1:21(20) ack 7011 win 65525",
        "0.310 recv 10",
        "0.400 peer 10.0.0.2",
        "0.400 state ESTABLISHED",
        "0.400 send 30",
        "0.400 > P. 1:31(30) ack 1001 win 65535",
        "0.450 < R 1001:1001(0) win 0",
        "0.450 state CLOSED",
        "0.450 error ERR_CONNRESET",
        "0.450 close",
        "0.460 peer fd00::2",
        "0.460 state ESTABLISHED",
        "0.460 conns 1");
}

static void test_ipv6_listener_ignores_ipv4(void) {
    /* a listener on one IPv6 address takes SYNs to that address only: an IPv4 SYN to its port
     * finds no listener (the CLOSED rules answer it), and an IPv4 listener can share the port */
    RUN("0.000 listen_at fd00::1",
        "0.100 < S 1000:1000(0) win 65535 <mss 1460>",
        "0.100 > R. 0:0(0) ack 1001 win 0",
        "0.100 stat passive_opens 0",
        "0.100 conns 0",
        "0.200 peer fd00::2",
        "0.200 < S 5000:5000(0) win 65535 <mss 1440>",
        "0.200 > S. 0:0(0) ack 5001 win 65535 <mss 1440>",
        "0.250 < . 5001:5001(0) ack 1 win 65535",
        "0.250 accept",
        "0.250 state ESTABLISHED",
        "0.300 listen_at 10.0.0.1",
        "0.400 peer 10.0.0.2",
        "0.400 < S 2000:2000(0) win 65535 <mss 1460>",
        "0.400 > S. 0:0(0) ack 2001 win 65535 <mss 1460>",
        "0.400 stat passive_opens 2");
}

static void test_listener_overlaps(void) {
    /* ANY overlaps every listener on its port; two specific ones only when equal */
    struct tcp_config config = script_default_config();
    struct script *s = script_start(__func__, &config);
    struct tcp_stack *stack = script_stack(s);
    struct tcp_listener *l4, *l6, *any, *other;
    struct ip_addr a4 = ip_addr_from_v4(0x0a000001), a6, b6, wildcard = ip_addr_any();
    TEST_ASSERT(ip_addr_parse("fd00::1", &a6) == 0 && ip_addr_parse("fd00::3", &b6) == 0, "parse");
    TEST_ASSERT(tcp_listen(stack, &a4, 80, 1, &l4) == 0, "IPv4 listener");
    TEST_ASSERT(tcp_listen(stack, &a6, 80, 1, &l6) == 0, "IPv6 listener beside it");
    TEST_ASSERT(tcp_listen(stack, &b6, 80, 1, &other) == 0, "another IPv6 address");
    TEST_ASSERT(tcp_listen(stack, &a6, 80, 1, &any) == ERR_ADDRINUSE, "the same IPv6 address twice");
    TEST_ASSERT(tcp_listen(stack, &wildcard, 80, 1, &any) == ERR_ADDRINUSE, "ANY over specific ones");
    TEST_ASSERT(tcp_listen(stack, &wildcard, 81, 1, &any) == 0, "ANY on another port");
    TEST_ASSERT(tcp_listen(stack, &a6, 81, 1, &other) == ERR_ADDRINUSE, "a specific one under ANY");
    tcp_listener_close(l4);
    tcp_listener_close(l6);
    tcp_listener_close(other);
    tcp_listener_close(any);
    /* an active open needs two addresses of one family, neither ANY */
    struct tcp_conn *conn;
    TEST_ASSERT(tcp_connect(stack, &a4, &b6, 80, 0, &conn) == ERR_INVAL, "mixed families");
    TEST_ASSERT(tcp_connect(stack, &wildcard, &wildcard, 80, 0, &conn) == ERR_INVAL, "ANY");
    struct ip_addr zero6;
    TEST_ASSERT(ip_addr_parse("::", &zero6) == 0, "parse ::");
    TEST_ASSERT(tcp_connect(stack, &a6, &zero6, 80, 0, &conn) == ERR_INVAL, "to ::");
    script_end(s);
}

const struct test_case script_tests[] = {
    {"passive-open-data-close", test_passive_open_data_close},
    {"active-open-data-close", test_active_open_data_close},
    {"simultaneous-open", test_simultaneous_open},
    {"simultaneous-open-crossing-acks", test_simultaneous_open_crossing_acks},
    {"simultaneous-close", test_simultaneous_close},
    {"fin-with-data", test_fin_with_data},
    {"half-close", test_half_close_keeps_receiving},
    {"time-wait-repeated-fin", test_time_wait_repeated_fin},
    {"syn-ack-retransmission", test_syn_ack_retransmission},
    {"syn-retransmission-timeout", test_syn_retransmission_and_timeout},
    {"lost-syn-rto-3s-iw-1", test_lost_syn_gives_rto_3s_and_iw_1},
    {"rst-exact", test_rst_exact_resets},
    {"rst-in-window-challenge-ack", test_rst_in_window_gets_challenge_ack},
    {"syn-in-established-challenge-ack", test_syn_in_established_gets_challenge_ack},
    {"rst-in-syn-sent", test_rst_in_syn_sent},
    {"challenge-ack-rate-limit", test_challenge_ack_rate_limit},
    {"old-and-future-acks", test_old_and_future_acks},
    {"data-in-syn-ack", test_data_in_syn_ack},
    {"idle-restart", test_idle_restart},
    {"rst-to-closed-port", test_rst_to_closed_port},
    {"listen-ack-and-rst", test_listen_rejects_ack_and_ignores_rst},
    {"bad-ack-in-syn-received", test_bad_ack_in_syn_received},
    {"rst-in-syn-received", test_rst_in_syn_received_returns_to_listen},
    {"rto-backoff-karn", test_rto_backoff_and_karn},
    {"rto-from-rtt-samples", test_rto_from_rtt_samples},
    {"retransmission-gives-up", test_retransmission_gives_up},
    {"fin-retransmission", test_fin_retransmission},
    {"fast-retransmit-recovery", test_fast_retransmit_and_recovery},
    {"newreno-partial-ack", test_newreno_partial_ack},
    {"no-fast-retransmit-after-rto", test_no_fast_retransmit_for_old_data_after_rto},
    {"zero-window-persist", test_zero_window_persist},
    {"zero-window-probe-accepted", test_zero_window_probe_accepted},
    {"zero-window-peer-gone", test_zero_window_peer_gone},
    {"receive-window-update", test_receive_window_and_update},
    {"data-beyond-window", test_data_beyond_window_is_cut},
    {"out-of-order-reassembly", test_out_of_order_reassembly},
    {"out-of-order-overlaps-fin", test_out_of_order_overlaps_and_fin},
    {"duplicate-data", test_duplicate_data_is_acked},
    {"delayed-ack", test_delayed_ack},
    {"nagle", test_nagle},
    {"nodelay", test_nodelay},
    {"passive-ws-ts", test_passive_ws_ts_negotiated},
    {"passive-peer-offers-nothing", test_passive_peer_offers_nothing},
    {"passive-not-configured", test_passive_not_configured},
    {"active-ws-ts", test_active_ws_ts},
    {"active-peer-without-options", test_active_peer_without_options},
    {"paws", test_paws},
    {"rtt-from-timestamps", test_rtt_from_timestamps},
    {"backlog-limit", test_backlog_limit},
    {"close-unread-data-rst", test_close_with_unread_data_resets},
    {"data-after-close-rst", test_data_after_close_resets},
    {"abort", test_abort},
    {"listener-close", test_listener_close_resets_queued},
    {"max-connections", test_max_connections},
    {"half-open-costs-no-buffers", test_half_open_costs_no_buffers},
    {"time-wait-reuse", test_time_wait_reused_under_pressure},
    {"time-wait-reopen", test_time_wait_new_syn_reopens},
    {"ipv6-passive-pseudo-header", test_ipv6_passive_pseudo_header},
    {"ipv6-mss", test_ipv6_mss},
    {"ipv6-mss-timestamps", test_ipv6_mss_with_timestamps},
    {"dual-stack-listener", test_dual_stack_listener},
    {"ipv6-listener-ignores-ipv4", test_ipv6_listener_ignores_ipv4},
    {"listener-overlaps", test_listener_overlaps},
};
const size_t script_test_count = ARRAY_SIZE(script_tests);
