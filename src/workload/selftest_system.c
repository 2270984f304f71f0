/*
 * workload/selftest_system.c: exception delivery (trap handlers), clocks and the timer IRQ.
 */
#include "selftest.h"
#include "arch/arch.h"
#include "base/err.h"
#include "sched/sched.h"
#include "time/time.h"
#include <stdio.h>
#include <string.h>

static unsigned breakpoint_hits;
static uint64_t breakpoint_rip;
static unsigned invalid_opcode_hits;

static void on_breakpoint(struct trap_frame *frame) {
    breakpoint_hits++;
    breakpoint_rip = frame->rip;
}

static void on_invalid_opcode(struct trap_frame *frame) {
    invalid_opcode_hits++;
    frame->rip += 2; /* skip the UD2 */
    frame->rax = 0x1234; /* visible to the interrupted code */
}

static void trap_delivery(void) {
    struct case_log log = {0};
    trap_set_handler(3, on_breakpoint);
    uint64_t after_int3;
    __asm__ volatile("int3\n\t"
                     "1: leaq 1b(%%rip), %0"
                     : "=r"(after_int3));
    trap_set_handler(3, NULL);
    log.cases++;
    if (breakpoint_hits != 1 || breakpoint_rip != after_int3)
        case_fail(&log, "#BP: %u hits, RIP %s the instruction after INT3", breakpoint_hits,
                  breakpoint_rip == after_int3 ? "at" : "not at");

    trap_set_handler(6, on_invalid_opcode);
    uint64_t rax = 0;
    __asm__ volatile("ud2" : "+a"(rax));
    trap_set_handler(6, NULL);
    log.cases++;
    if (invalid_opcode_hits != 1 || rax != 0x1234)
        case_fail(&log, "#UD: %u hits, RAX %#lx after resuming (expected the handler's 0x1234)", invalid_opcode_hits, rax);

    case_report(&log, "trap.delivery");
}

static void xmm_across_interrupts(void) {
    /* Keep a value in XMM7 across two HLTs: each returns only after an interrupt handler ran. */
    uint64_t lanes[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull}, out[2] = {0, 0};
    uint64_t ticks = time_ticks();
    __asm__ volatile("movdqu (%1), %%xmm7\n\t"
                     "sti\n\t"
                     "hlt\n\t"
                     "hlt\n\t"
                     "movdqu %%xmm7, (%0)"
                     :
                     : "r"(out), "r"(lanes)
                     : "xmm7", "memory");
    check(out[0] == lanes[0] && out[1] == lanes[1] && time_ticks() > ticks, "trap.xmm-preserved",
          "XMM7 %s across interrupts (%lu ticks)", out[0] == lanes[0] && out[1] == lanes[1] ? "kept" : "changed",
          time_ticks() - ticks);
}

void selftest_trap(void) {
    trap_delivery();
    xmm_across_interrupts();
}

/* ---- time ------------------------------------------------------------------------------------ */

static void clocks(void) {
    uint64_t hz = time_tsc_hz();
    printf("time: TSC %lu.%03lu MHz\n", hz / 1000000, (hz / 1000) % 1000);
    check(hz >= 10000000ull && hz <= 100000000000ull, "time.tsc-calibrated", "TSC frequency %lu Hz is implausible", hz);

    uint64_t last = time_now_ns();
    bool monotonic = true;
    for (int i = 0; i < 2000; i++) {
        uint64_t now = time_now_ns();
        monotonic &= now >= last;
        last = now;
    }
    check(monotonic, "time.monotonic", "time_now_ns went backwards");

    uint64_t start = time_now_ns();
    time_delay_ns(3 * NS_PER_MS);
    uint64_t elapsed = time_now_ns() - start;
    check(elapsed >= 3 * NS_PER_MS, "time.delay", "time_delay_ns(3 ms) took %lu ns", elapsed);
}

static void timer_ticks(void) {
    uint64_t ticks = time_ticks();
    uint64_t start = time_now_ns();
    int err = fiber_sleep_ns(50 * NS_PER_MS);
    uint64_t elapsed = time_now_ns() - start;
    uint64_t advanced = time_ticks() - ticks;
    char duration[32];
    time_format_duration(duration, sizeof(duration), elapsed);
    printf("time: sleep 50 ms took %s, %lu timer ticks\n", duration, advanced);
    check(err == 0 && elapsed >= 50 * NS_PER_MS, "time.sleep", "fiber_sleep_ns(50 ms) returned %d after %lu ns", err, elapsed);
    /* at TIMER_HZ = 1000 that is ~50 ticks; allow for a slow host */
    check(advanced >= 10 && irq_count(0) > 0, "time.ticks-advance", "only %lu timer interrupts during a 50 ms sleep", advanced);
}

static void wall_clock(void) {
    struct rtc_time t;
    int err = rtc_read(&t);
    int64_t unix_now = err == 0 ? rtc_to_unix_seconds(&t) : 0;
    int64_t from_boot = (int64_t)(time_wall_unix_ns() / NS_PER_SEC);
    /* The RTC and the TSC need not agree (an emulator's virtual clock runs at its own pace):
     * print the drift, check only that the RTC reads a plausible date. */
    if (err == 0)
        printf("time: RTC %04u-%02u-%02u %02u:%02u:%02u, %ld s from the boot wall clock plus the TSC clock\n", t.year,
               t.month, t.day, t.hour, t.minute, t.second, unix_now - from_boot);
    check(err == 0 && t.year >= 2020 && t.year < 2200, "time.rtc", "RTC read %s, year %u", err ? err_name(err) : "ok",
          err ? 0 : t.year);

    struct rtc_time epoch = {1970, 1, 1, 0, 0, 0}, leap = {2000, 2, 29, 12, 34, 56}, later = {2038, 1, 19, 3, 14, 8};
    check(rtc_to_unix_seconds(&epoch) == 0 && rtc_to_unix_seconds(&leap) == 951827696 &&
              rtc_to_unix_seconds(&later) == 2147483648ll,
          "time.civil-to-unix", "date conversion: %ld %ld %ld", rtc_to_unix_seconds(&epoch), rtc_to_unix_seconds(&leap),
          rtc_to_unix_seconds(&later));
}

static void durations(void) {
    static const struct {
        uint64_t ns;
        const char *text;
    } cases[] = {{999, "999 ns"}, {1500, "1.500 us"}, {12345678, "12.345 ms"}, {3 * NS_PER_SEC + 7 * NS_PER_MS, "3.007 s"}};
    struct case_log log = {0};
    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        char buf[32];
        time_format_duration(buf, sizeof(buf), cases[i].ns);
        log.cases++;
        if (strcmp(buf, cases[i].text) != 0) case_fail(&log, "%lu ns: \"%s\", expected \"%s\"", cases[i].ns, buf, cases[i].text);
    }
    case_report(&log, "time.format-duration");
}

void selftest_time(void) {
    clocks();
    timer_ticks();
    wall_clock();
    durations();
}
