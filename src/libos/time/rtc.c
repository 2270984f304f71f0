/*
 * time/rtc.c: the MC146818 CMOS real-time clock (ports 0x70/0x71).
 *
 * We wait for the update-in-progress flag to clear and read until two consecutive readings
 * agree, then decode BCD or binary and 12- or 24-hour values as status register B says.
 */
#include "time/time.h"
#include "arch/arch.h"
#include "base/err.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define CMOS_NMI_DISABLE 0x80
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_STATUS_A 0x0A
#define RTC_STATUS_B 0x0B
#define RTC_CENTURY 0x32 /* as QEMU's mc146818rtc and most PC firmware put it */
#define STATUS_A_UPDATING 0x80
#define STATUS_B_24_HOUR 0x02
#define STATUS_B_BINARY 0x04

static uint8_t cmos_read(uint8_t reg) {
    outb(CMOS_INDEX, reg | CMOS_NMI_DISABLE);
    return inb(CMOS_DATA);
}

struct raw_rtc {
    uint8_t second, minute, hour, day, month, year, century;
};

static bool read_raw(struct raw_rtc *raw) {
    for (int spins = 0; spins < 100000; spins++) {
        if (!(cmos_read(RTC_STATUS_A) & STATUS_A_UPDATING)) {
            raw->second = cmos_read(RTC_SECONDS);
            raw->minute = cmos_read(RTC_MINUTES);
            raw->hour = cmos_read(RTC_HOURS);
            raw->day = cmos_read(RTC_DAY);
            raw->month = cmos_read(RTC_MONTH);
            raw->year = cmos_read(RTC_YEAR);
            raw->century = cmos_read(RTC_CENTURY);
            return true;
        }
    }
    return false;
}

static uint8_t from_bcd(uint8_t v) { return (uint8_t)((v >> 4) * 10 + (v & 0x0F)); }

int rtc_read(struct rtc_time *out) {
    struct raw_rtc a, b;
    int attempts = 0;
    if (!read_raw(&a)) return ERR_TIMEOUT;
    for (;;) {
        if (!read_raw(&b)) return ERR_TIMEOUT;
        if (a.second == b.second && a.minute == b.minute && a.hour == b.hour && a.day == b.day &&
            a.month == b.month && a.year == b.year && a.century == b.century)
            break;
        if (++attempts == 10) return ERR_TIMEOUT;
        a = b;
    }
    uint8_t status_b = cmos_read(RTC_STATUS_B);
    bool pm = (b.hour & 0x80) != 0;
    b.hour &= 0x7F;
    if (!(status_b & STATUS_B_BINARY)) {
        b.second = from_bcd(b.second);
        b.minute = from_bcd(b.minute);
        b.hour = from_bcd(b.hour);
        b.day = from_bcd(b.day);
        b.month = from_bcd(b.month);
        b.year = from_bcd(b.year);
        b.century = from_bcd(b.century);
    }
    if (!(status_b & STATUS_B_24_HOUR)) { /* 12-hour clock: 12 AM is 0, 12 PM is 12 */
        b.hour %= 12;
        if (pm) b.hour += 12;
    }
    unsigned century = (b.century >= 19 && b.century <= 30) ? b.century : 20;
    out->year = (uint16_t)(century * 100 + b.year);
    out->month = b.month;
    out->day = b.day;
    out->hour = b.hour;
    out->minute = b.minute;
    out->second = b.second;
    if (out->month < 1 || out->month > 12 || out->day < 1 || out->day > 31 || out->hour > 23 || out->minute > 59 ||
        out->second > 60)
        return ERR_RANGE;
    return 0;
}

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    unsigned year_of_era = (unsigned)(year - era * 400);
    unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + (int64_t)day_of_era - 719468;
}

int64_t rtc_to_unix_seconds(const struct rtc_time *t) {
    return days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 + t->minute * 60 + t->second;
}
