/*
 * time/clock.c: TSC calibration, the monotonic clock and the timer interrupt.
 */
#include "time/time.h"
#include "arch/arch.h"
#include "base/err.h"
#include "log/log.h"
#include <stdio.h>

LOG_SOURCE(log_src, "time");

#define PIT_CHANNEL0 0x40
#define PIT_CHANNEL2 0x42
#define PIT_COMMAND 0x43
#define PORT_B 0x61          /* bit 0: channel 2 gate, bit 1: speaker, bit 5: channel 2 output */
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20

#define CALIBRATION_ROUNDS 3
#define CALIBRATION_MS 10

static uint64_t tsc_hz;
static uint64_t tsc_at_init;
static uint64_t ns_per_tsc_q32; /* nanoseconds per TSC tick, 32.32 fixed point */
static volatile uint64_t ticks;
static uint64_t wall_at_init_s;
static bool wall_valid;

/* One channel-2 measurement: TSC ticks during `pit_count` PIT ticks, or 0 if the gate/output
 * through port 0x61 does not behave (no PC speaker logic). */
static uint64_t measure_channel2(uint16_t pit_count) {
    uint8_t port_b = inb(PORT_B);
    outb(PORT_B, (port_b & ~PORT_B_SPEAKER) | PORT_B_GATE2);
    outb(PIT_COMMAND, 0xB0); /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary */
    outb(PIT_CHANNEL2, pit_count & 0xFF);
    outb(PIT_CHANNEL2, pit_count >> 8);
    uint64_t start = rdtsc();
    if (inb(PORT_B) & PORT_B_OUT2) return 0; /* OUT2 must be low while counting */
    for (uint32_t spins = 0; spins < 20000000; spins++)
        if (inb(PORT_B) & PORT_B_OUT2) return rdtsc() - start;
    return 0;
}

static uint16_t channel0_read(void) {
    outb(PIT_COMMAND, 0x00); /* latch channel 0 */
    uint8_t lo = inb(PIT_CHANNEL0);
    uint8_t hi = inb(PIT_CHANNEL0);
    return (uint16_t)(lo | (hi << 8));
}

/* Fallback: poll channel 0 counting down from 65536 (mode 2) until `pit_count` ticks passed. */
static uint64_t measure_channel0(uint16_t pit_count) {
    outb(PIT_COMMAND, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(PIT_CHANNEL0, 0);
    outb(PIT_CHANNEL0, 0);
    uint16_t last = channel0_read();
    uint64_t start = rdtsc();
    uint32_t elapsed = 0;
    for (uint32_t spins = 0; spins < 20000000 && elapsed < pit_count; spins++) {
        uint16_t now = channel0_read();
        elapsed += (uint16_t)(last - now);
        last = now;
    }
    return elapsed >= pit_count ? rdtsc() - start : 0;
}

static void sort3(uint64_t *v) {
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (v[j] < v[i]) {
                uint64_t t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
}

static void calibrate_tsc(void) {
    uint16_t pit_count = PIT_HZ / (1000 / CALIBRATION_MS);
    const char *method = "PIT channel 2";
    uint64_t samples[CALIBRATION_ROUNDS];
    for (int i = 0; i < CALIBRATION_ROUNDS; i++) samples[i] = measure_channel2(pit_count);
    if (samples[0] == 0 || samples[1] == 0 || samples[2] == 0) {
        method = "PIT channel 0 polling";
        for (int i = 0; i < CALIBRATION_ROUNDS; i++) samples[i] = measure_channel0(pit_count);
    }
    sort3(samples);
    uint64_t median = samples[1];
    if (median == 0) panic("time: cannot calibrate the TSC: the PIT never counted down (channels 2 and 0)");
    tsc_hz = median * PIT_HZ / pit_count;
    if (tsc_hz < 1000000) panic("time: implausible TSC frequency %lu Hz (PIT calibration)", tsc_hz);
    ns_per_tsc_q32 = (NS_PER_SEC << 32) / tsc_hz; /* 10^9 * 2^32 < 2^64 */
    LOG_INFO(log_src, "TSC %lu.%03lu MHz (%s, median of %d x %d ms)", tsc_hz / 1000000, (tsc_hz / 1000) % 1000, method,
             CALIBRATION_ROUNDS, CALIBRATION_MS);
}

uint64_t time_now_ns(void) {
    uint64_t delta = rdtsc() - tsc_at_init;
    return (uint64_t)(((unsigned __int128)delta * ns_per_tsc_q32) >> 32);
}

uint64_t time_tsc_hz(void) { return tsc_hz; }
uint64_t time_ticks(void) { return ticks; }
unsigned time_tick_hz(void) { return TIMER_HZ; }

void time_delay_ns(uint64_t ns) {
    uint64_t end = time_now_ns() + ns;
    while (time_now_ns() < end) cpu_relax();
}

static void timer_irq(unsigned irq) {
    (void)irq;
    ticks++;
}

static void start_timer(void) {
    uint16_t divisor = (uint16_t)((PIT_HZ + TIMER_HZ / 2) / TIMER_HZ);
    outb(PIT_COMMAND, 0x34); /* channel 0, lobyte/hibyte, mode 2 (rate generator), binary */
    outb(PIT_CHANNEL0, divisor & 0xFF);
    outb(PIT_CHANNEL0, divisor >> 8);
    irq_set_handler(0, timer_irq);
    irq_enable();
    LOG_INFO(log_src, "timer: IRQ 0 at %u Hz (PIT channel 0, divisor %u)", TIMER_HZ, divisor);
}

uint64_t time_wall_unix_ns(void) {
    return wall_valid ? wall_at_init_s * NS_PER_SEC + time_now_ns() : time_now_ns();
}

void time_init(void) {
    calibrate_tsc();
    tsc_at_init = rdtsc();
    struct rtc_time now;
    if (rtc_read(&now) == 0) {
        wall_at_init_s = (uint64_t)rtc_to_unix_seconds(&now);
        wall_valid = true;
        LOG_INFO(log_src, "wall clock %04u-%02u-%02u %02u:%02u:%02u UTC (CMOS RTC, unix %lu)", now.year, now.month,
                 now.day, now.hour, now.minute, now.second, wall_at_init_s);
    } else {
        LOG_WARN(log_src, "wall clock: the CMOS RTC never showed a stable time; wall time counts from 1970");
    }
    start_timer();
}

int time_format_duration(char *buf, size_t size, uint64_t ns) {
    if (ns < NS_PER_US) return snprintf(buf, size, "%lu ns", ns);
    if (ns < NS_PER_MS) return snprintf(buf, size, "%lu.%03lu us", ns / NS_PER_US, ns % NS_PER_US);
    if (ns < NS_PER_SEC) return snprintf(buf, size, "%lu.%03lu ms", ns / NS_PER_MS, (ns / NS_PER_US) % 1000);
    return snprintf(buf, size, "%lu.%03lu s", ns / NS_PER_SEC, (ns / NS_PER_MS) % 1000);
}
