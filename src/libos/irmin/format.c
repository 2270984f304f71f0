/*
 * irmin/format.c: a small printf for error messages and the bench's output (no libc, no floats).
 */
#include "irmin_internal.h"

struct format_output {
    char *buffer;
    size_t capacity;   /* including the NUL */
    size_t length;
};

static void put_char(struct format_output *out, char c)
{
    if (out->length + 1 < out->capacity)
        out->buffer[out->length++] = c;
}

static void put_padded(struct format_output *out, const char *text, size_t length, size_t width, bool left,
                       char pad)
{
    if (!left)
        for (size_t i = length; i < width; i++)
            put_char(out, pad);
    for (size_t i = 0; i < length; i++)
        put_char(out, text[i]);
    if (left)
        for (size_t i = length; i < width; i++)
            put_char(out, ' ');
}

static void put_number(struct format_output *out, uint64_t magnitude, bool negative, unsigned base, size_t width,
                       bool left, bool zero_pad)
{
    char digits[24];
    size_t count = 0;
    do {
        unsigned digit = (unsigned)(magnitude % base);
        digits[count++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        magnitude /= base;
    } while (magnitude != 0);
    char text[25];
    size_t length = 0;
    if (negative && zero_pad && !left) {
        put_char(out, '-');
        width = width > 0 ? width - 1 : 0;
    } else if (negative) {
        text[length++] = '-';
    }
    while (count > 0)
        text[length++] = digits[--count];
    put_padded(out, text, length, width, left, zero_pad && !left ? '0' : ' ');
}

size_t irmin_vformat(char *buffer, size_t capacity, const char *format, va_list arguments)
{
    struct format_output out = {.buffer = buffer, .capacity = capacity, .length = 0};
    for (const char *p = format; *p != '\0'; p++) {
        if (*p != '%') {
            put_char(&out, *p);
            continue;
        }
        p++;
        bool left = false;
        bool zero_pad = false;
        for (;; p++) {
            if (*p == '-')
                left = true;
            else if (*p == '0')
                zero_pad = true;
            else
                break;
        }
        size_t width = 0;
        while (*p >= '0' && *p <= '9')
            width = 10 * width + (size_t)(*p++ - '0');
        bool has_precision = false;
        size_t precision = 0;
        if (*p == '.') {
            has_precision = true;
            p++;
            if (*p == '*') {
                int given = va_arg(arguments, int);
                precision = given < 0 ? 0 : (size_t)given;
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    precision = 10 * precision + (size_t)(*p++ - '0');
            }
        }
        int longs = 0;
        bool size = false;
        while (*p == 'l') {
            longs++;
            p++;
        }
        if (*p == 'z') {
            size = true;
            p++;
        }
        switch (*p) {
        case '%':
            put_char(&out, '%');
            break;
        case 'c': {
            char c = (char)va_arg(arguments, int);
            put_padded(&out, &c, 1, width, left, ' ');
            break;
        }
        case 's': {
            const char *text = va_arg(arguments, const char *);
            if (text == NULL)
                text = "(null)";
            size_t length = 0;
            while ((!has_precision || length < precision) && text[length] != '\0')
                length++;
            put_padded(&out, text, length, width, left, ' ');
            break;
        }
        case 'd':
        case 'i': {
            int64_t value;
            if (size)
                value = (int64_t)va_arg(arguments, size_t);
            else if (longs >= 2)
                value = va_arg(arguments, long long);
            else if (longs == 1)
                value = va_arg(arguments, long);
            else
                value = va_arg(arguments, int);
            uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
            put_number(&out, magnitude, value < 0, 10, width, left, zero_pad);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t value;
            if (size)
                value = va_arg(arguments, size_t);
            else if (longs >= 2)
                value = va_arg(arguments, unsigned long long);
            else if (longs == 1)
                value = va_arg(arguments, unsigned long);
            else
                value = va_arg(arguments, unsigned int);
            put_number(&out, value, false, *p == 'x' ? 16 : 10, width, left, zero_pad);
            break;
        }
        case '\0':
            p--; /* a lone '%' at the end: stop at the NUL */
            break;
        default:
            /* Unknown conversion: print it as is so the mistake is visible. */
            put_char(&out, '%');
            put_char(&out, *p);
            break;
        }
    }
    if (capacity > 0)
        buffer[out.length] = '\0';
    return out.length;
}

size_t irmin_format(char *buffer, size_t capacity, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    size_t length = irmin_vformat(buffer, capacity, format, arguments);
    va_end(arguments);
    return length;
}

void irmin_format_steps(const struct irmin_repo *repo, const uint32_t *steps, size_t count, char *buffer,
                        size_t capacity, size_t *used)
{
    if (count == 0) {
        *used += irmin_format(buffer + *used, capacity - *used, "/");
        return;
    }
    for (size_t i = 0; i < count && *used + 1 < capacity; i++) {
        const struct irmin_step *step = &repo->steps[steps[i]];
        *used += irmin_format(buffer + *used, capacity - *used, "%s%.*s", i == 0 ? "" : "/", (int)step->length,
                              (const char *)step->bytes);
    }
}
