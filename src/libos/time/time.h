/*
 * time/time.h: clocks and the timer interrupt.
 *
 * - A monotonic nanosecond clock from the TSC, calibrated at boot against the i8254 PIT
 *   (channel 2, gated through port 0x61; channel 0 polling if that does not work).
 * - The wall clock at boot from the CMOS RTC (BCD or binary, 12- or 24-hour, per status B).
 * - The periodic timer interrupt: PIT channel 0 on IRQ 0 at TIMER_HZ, through the 8259 PIC. It
 *   only counts ticks and wakes the CPU from HLT; the scheduler compares deadlines with the TSC
 *   clock, so a sleep ends within one tick of its deadline.
 *
 * Everything this layer prints that depends on timing goes through the "time" log source, so
 * those lines contain "time:" (the QEMU comparison normalizes them).
 */
#ifndef LIBOS_TIME_H
#define LIBOS_TIME_H

#include "base/base.h"

#define NS_PER_US ((uint64_t)1000)
#define NS_PER_MS ((uint64_t)1000000)
#define NS_PER_SEC ((uint64_t)1000000000)
#define TIMER_HZ 1000
#define PIT_HZ 1193182u

/* Calibrates the TSC, reads the RTC, starts the timer interrupt (needs pic_init; enables
 * interrupts). */
void time_init(void);

uint64_t time_now_ns(void);      /* monotonic, since time_init */
uint64_t time_tsc_hz(void);
uint64_t time_ticks(void);       /* timer interrupts since time_init */
unsigned time_tick_hz(void);
void time_delay_ns(uint64_t ns); /* busy-waits */

struct rtc_time {
    uint16_t year;
    uint8_t month, day, hour, minute, second;
};
/* Reads the RTC now; ERR_TIMEOUT if it never showed a stable value. */
int rtc_read(struct rtc_time *out);
int64_t rtc_to_unix_seconds(const struct rtc_time *t);
/* Wall-clock time: the RTC reading at boot plus the monotonic time since. */
uint64_t time_wall_unix_ns(void);

/* "987 ns", "12.345 us", "12.345 ms", "12.345 s": returns snprintf's length. */
int time_format_duration(char *buf, size_t size, uint64_t ns);

#endif
