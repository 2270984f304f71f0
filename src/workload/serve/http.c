/*
 * serve/http.c: request-head parsing and response-head writing (http.h).
 *
 * The head is parsed in place: every line is NUL-terminated where its line ending was, header
 * values where their trailing whitespace starts, and the target where its query starts, so the
 * request's strings need no copies. Lengths are checked before every read; nothing here
 * allocates.
 */
#include <string.h>

#include "http.h"

static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) { /* RFC 9110's tchar symbols: a switch, not a strchr per character of every header name */
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool http_token_equal(const char *text, size_t length, const char *lowercase)
{
    size_t i = 0;
    for (; i < length && lowercase[i] != '\0'; i++) {
        uint8_t c = (uint8_t)text[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + ('a' - 'A'));
        if (c != (uint8_t)lowercase[i])
            return false;
    }
    return i == length && lowercase[i] == '\0';
}

/* The next line at *position: NUL-terminated in place (its CR, if any, dropped). */
static bool next_line(char *head, size_t length, size_t *position, char **line, size_t *line_length)
{
    if (*position >= length)
        return false;
    char *start = head + *position;
    char *newline = memchr(start, '\n', length - *position);
    if (newline == NULL)
        return false;
    size_t count = (size_t)(newline - start);
    if (count > 0 && start[count - 1] == '\r')
        count--;
    start[count] = '\0';
    *position = (size_t)(newline - head) + 1;
    *line = start;
    *line_length = count;
    return true;
}

/* Trims optional whitespace from both ends of text[0..*length). */
static const char *trim(const char *text, size_t *length)
{
    while (*length > 0 && is_space((uint8_t)text[0])) {
        text++;
        (*length)--;
    }
    while (*length > 0 && is_space((uint8_t)text[*length - 1]))
        (*length)--;
    return text;
}

/*
 * Calls `element` for each comma-separated element of a header value (trimmed; empty elements
 * are passed too). Stops at the first nonzero result and returns it.
 */
typedef int (*list_fn)(void *context, const char *element, size_t length);

static int for_each_element(const char *value, size_t length, list_fn element, void *context)
{
    size_t start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && value[i] != ',')
            continue;
        size_t piece_length = i - start;
        const char *piece = trim(value + start, &piece_length);
        int result = element(context, piece, piece_length);
        if (result != 0)
            return result;
        start = i + 1;
    }
    return 0;
}

/* What the parser collects besides struct http_request. */
struct head_state {
    struct http_request *request;
    const char *error;
    unsigned host_count;
    bool connection_close;
    bool connection_keep_alive;
    bool transfer_encoding;   /* a Transfer-Encoding header was seen */
    bool te_chunked_seen;
    bool te_last_chunked;
    bool te_other;
};

static int content_length_element(void *context, const char *element, size_t length)
{
    struct head_state *state = context;
    struct http_request *request = state->request;
    if (length == 0) {
        state->error = "empty Content-Length";
        return 400;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < length; i++) {
        uint8_t c = (uint8_t)element[i];
        if (c < '0' || c > '9') {
            state->error = "Content-Length is not a decimal number";
            return 400;
        }
        if (value > (UINT64_MAX - (c - '0')) / 10) {
            state->error = "Content-Length is too large";
            return 400;
        }
        value = value * 10 + (c - '0');
    }
    if (request->has_length && request->content_length != value) {
        state->error = "conflicting Content-Length values";
        return 400;
    }
    request->has_length = true;
    request->content_length = value;
    return 0;
}

static int transfer_encoding_element(void *context, const char *element, size_t length)
{
    struct head_state *state = context;
    if (length == 0)
        return 0; /* "chunked, " has an empty element; lists may */
    if (http_token_equal(element, length, "chunked")) {
        if (state->te_chunked_seen) {
            state->error = "chunked is applied twice";
            return 400;
        }
        state->te_chunked_seen = true;
        state->te_last_chunked = true;
    } else {
        state->te_other = true;
        state->te_last_chunked = false;
    }
    return 0;
}

static int connection_element(void *context, const char *element, size_t length)
{
    struct head_state *state = context;
    if (http_token_equal(element, length, "close"))
        state->connection_close = true;
    else if (http_token_equal(element, length, "keep-alive"))
        state->connection_keep_alive = true;
    return 0;
}

static bool parse_i64(const char *text, size_t length, int64_t *out)
{
    bool negative = length > 0 && text[0] == '-';
    size_t i = negative ? 1 : 0;
    if (i == length)
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    for (; i < length; i++) {
        uint8_t c = (uint8_t)text[i];
        if (c < '0' || c > '9' || value > (limit - (c - '0')) / 10)
            return false;
        value = value * 10 + (c - '0');
    }
    *out = negative ? (int64_t)((uint64_t)0 - value) : (int64_t)value;
    return true;
}

static int parse_header(struct head_state *state, char *line, size_t line_length)
{
    struct http_request *request = state->request;
    if (is_space((uint8_t)line[0])) {
        state->error = "obsolete header line folding is not accepted";
        return 400;
    }
    size_t name_length = 0;
    while (name_length < line_length && is_tchar((uint8_t)line[name_length]))
        name_length++;
    if (name_length == 0 || name_length == line_length || line[name_length] != ':') {
        state->error = name_length < line_length && is_space((uint8_t)line[name_length])
                           ? "whitespace between a header name and its colon"
                           : "malformed header line";
        return 400;
    }
    const char *name = line;
    size_t value_length = line_length - name_length - 1;
    char *value = (char *)trim(line + name_length + 1, &value_length);
    for (size_t i = 0; i < value_length; i++) {
        uint8_t c = (uint8_t)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            state->error = "control character in a header value";
            return 400;
        }
    }
    value[value_length] = '\0';

    if (http_token_equal(name, name_length, "content-length"))
        return for_each_element(value, value_length, content_length_element, state);
    if (http_token_equal(name, name_length, "transfer-encoding")) {
        state->transfer_encoding = true;
        if (value_length == 0) {
            state->error = "empty Transfer-Encoding";
            return 400;
        }
        return for_each_element(value, value_length, transfer_encoding_element, state);
    }
    if (http_token_equal(name, name_length, "connection"))
        return for_each_element(value, value_length, connection_element, state);
    if (http_token_equal(name, name_length, "host")) {
        state->host_count++;
        return 0;
    }
    if (http_token_equal(name, name_length, "expect")) {
        if (!http_token_equal(value, value_length, "100-continue")) {
            state->error = "only Expect: 100-continue is supported";
            return 417;
        }
        request->expect_continue = true;
        return 0;
    }
    if (http_token_equal(name, name_length, "x-author") || http_token_equal(name, name_length, "x-message")) {
        const char **field = name[2] == 'a' || name[2] == 'A' ? &request->author : &request->message;
        if (*field != NULL) {
            state->error = "duplicate X-Author or X-Message header";
            return 400;
        }
        *field = value;
        return 0;
    }
    if (http_token_equal(name, name_length, "x-date")) {
        if (request->has_date) {
            state->error = "duplicate X-Date header";
            return 400;
        }
        if (!parse_i64(value, value_length, &request->date)) {
            state->error = "X-Date must be a decimal integer (unix seconds)";
            return 400;
        }
        request->has_date = true;
        return 0;
    }
    return 0; /* a header we do not use */
}

/* Splits the target into path and query; accepts origin-form, absolute-form and "*". */
static int parse_target(struct head_state *state, char *target, size_t length)
{
    struct http_request *request = state->request;
    for (size_t i = 0; i < length; i++) {
        uint8_t c = (uint8_t)target[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            state->error = "malformed request target";
            return 400;
        }
    }
    char *question = memchr(target, '?', length);
    if (question != NULL) {
        *question = '\0';
        request->query = question + 1;
    }
    if (target[0] == '/' || (target[0] == '*' && length == 1)) {
        request->path = target;
        return 0;
    }
    /* absolute-form: scheme "://" authority [path] */
    char *scheme_end = strstr(target, "://");
    if (scheme_end == NULL || scheme_end == target) {
        state->error = "malformed request target";
        return 400;
    }
    for (char *c = target; c < scheme_end; c++) {
        bool letter = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
        if (!letter && (c == target || !((*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))) {
            state->error = "malformed request target";
            return 400;
        }
    }
    char *path = strchr(scheme_end + 3, '/');
    request->path = path != NULL ? path : "/";
    return 0;
}

static int parse_request_line(struct head_state *state, char *line, size_t length)
{
    struct http_request *request = state->request;
    size_t method_length = 0;
    while (method_length < length && is_tchar((uint8_t)line[method_length]))
        method_length++;
    if (method_length == 0 || method_length == length || line[method_length] != ' ') {
        state->error = "malformed request line";
        return 400;
    }
    static const struct {
        const char *name;
        size_t length;
        enum http_method method;
    } methods[] = {
        {"GET", 3, HTTP_GET}, {"HEAD", 4, HTTP_HEAD}, {"PUT", 3, HTTP_PUT}, {"POST", 4, HTTP_POST}, {"DELETE", 6, HTTP_DELETE},
    };
    request->method = HTTP_METHOD_OTHER;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (methods[i].length == method_length && memcmp(line, methods[i].name, method_length) == 0)
            request->method = methods[i].method;
    }

    char *target = line + method_length + 1;
    char *space = memchr(target, ' ', length - method_length - 1);
    /* "HTTP/d.d" is 8 bytes and ends the line */
    if (space == NULL || space == target || (size_t)(line + length - (space + 1)) != 8) {
        state->error = "malformed request line";
        return 400;
    }
    const char *version = space + 1;
    if (memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' || version[6] != '.' ||
        version[7] < '0' || version[7] > '9') {
        state->error = "malformed HTTP version";
        return 400;
    }
    if (version[5] != '1') {
        state->error = "only HTTP/1.0 and HTTP/1.1 are supported";
        return 505;
    }
    request->version_minor = (unsigned)(version[7] - '0');
    line[method_length] = '\0';
    request->method_name = line;
    *space = '\0';
    return parse_target(state, target, (size_t)(space - target));
}

int http_parse_head(char *head, size_t length, struct http_request *request, const char **error)
{
    memset(request, 0, sizeof *request);
    struct head_state state;
    memset(&state, 0, sizeof state);
    state.request = request;
    state.error = "malformed request";

    size_t position = 0;
    char *line;
    size_t line_length;
    int status = 400;
    if (!next_line(head, length, &position, &line, &line_length))
        goto fail;
    status = parse_request_line(&state, line, line_length);
    if (status != 0)
        goto fail;
    for (;;) {
        status = 400;
        state.error = "the head does not end with an empty line";
        if (!next_line(head, length, &position, &line, &line_length))
            goto fail;
        if (line_length == 0)
            break;
        status = parse_header(&state, line, line_length);
        if (status != 0)
            goto fail;
    }

    status = 400;
    if (state.transfer_encoding) {
        if (request->has_length) {
            state.error = "both Content-Length and Transfer-Encoding";
            goto fail;
        }
        if (!state.te_last_chunked) {
            state.error = "the last transfer coding must be chunked";
            goto fail;
        }
        if (state.te_other) {
            state.error = "transfer codings other than chunked are not supported";
            status = 501;
            goto fail;
        }
        request->chunked = true;
    }
    if (state.host_count > 1 || (request->version_minor >= 1 && state.host_count == 0)) {
        state.error = state.host_count > 1 ? "more than one Host header" : "an HTTP/1.1 request needs a Host header";
        goto fail;
    }
    if (request->version_minor >= 1)
        request->keep_alive = !state.connection_close;
    else /* HTTP/1.0 closes unless asked; a chunked 1.0 message is suspect (RFC 9112 6.1) */
        request->keep_alive = state.connection_keep_alive && !state.connection_close && !request->chunked;
    return 0;

fail:
    *error = state.error;
    return status;
}

bool http_parse_chunk_line(const char *line, size_t length, uint64_t *size)
{
    size_t i = 0;
    uint64_t value = 0;
    for (; i < length; i++) {
        int digit = hex_value((uint8_t)line[i]);
        if (digit < 0)
            break;
        if (value > (UINT64_MAX >> 4))
            return false;
        value = value << 4 | (uint64_t)digit;
    }
    if (i == 0)
        return false;
    while (i < length && is_space((uint8_t)line[i]))
        i++;
    if (i < length) {
        if (line[i] != ';')
            return false;
        for (; i < length; i++) {
            uint8_t c = (uint8_t)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return false;
        }
    }
    *size = value;
    return true;
}

bool http_percent_decode(const char *text, size_t length, uint8_t *out, size_t *out_length)
{
    size_t used = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] != '%') {
            out[used++] = (uint8_t)text[i];
            continue;
        }
        if (length - i < 3)
            return false;
        int high = hex_value((uint8_t)text[i + 1]);
        int low = hex_value((uint8_t)text[i + 2]);
        if (high < 0 || low < 0)
            return false;
        out[used++] = (uint8_t)(high << 4 | low);
        i += 2;
    }
    *out_length = used;
    return true;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

static void append_two_digits(struct sbuf *out, unsigned value)
{
    char digits[2] = {(char)('0' + value / 10 % 10), (char)('0' + value % 10)};
    sbuf_append(out, digits, 2);
}

void http_format_date(struct sbuf *out, uint64_t unix_seconds)
{
    static const char days_of_week[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t days = unix_seconds / 86400;
    uint64_t seconds = unix_seconds % 86400;
    /* civil_from_days (H. Hinnant), for days >= 0 */
    uint64_t z = days + 719468;
    uint64_t era = z / 146097;
    uint64_t day_of_era = z - era * 146097;
    uint64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    uint64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    uint64_t shifted_month = (5 * day_of_year + 2) / 153;
    unsigned day = (unsigned)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    unsigned month = (unsigned)(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    uint64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);

    sbuf_append(out, days_of_week[(days + 4) % 7], 3); /* 1970-01-01 was a Thursday */
    sbuf_append(out, ", ", 2);
    append_two_digits(out, day);
    sbuf_append(out, " ", 1);
    sbuf_append(out, months[month - 1], 3);
    sbuf_append(out, " ", 1);
    sbuf_append_u64(out, year);
    sbuf_append(out, " ", 1);
    append_two_digits(out, (unsigned)(seconds / 3600));
    sbuf_append(out, ":", 1);
    append_two_digits(out, (unsigned)(seconds / 60 % 60));
    sbuf_append(out, ":", 1);
    append_two_digits(out, (unsigned)(seconds % 60));
    sbuf_append(out, " GMT", 4);
}

void http_format_head(struct sbuf *out, const struct http_response_head *head)
{
    sbuf_append_str(out, "HTTP/1.1 ");
    sbuf_append_u64(out, (uint64_t)head->status);
    sbuf_append_str(out, " ");
    sbuf_append_str(out, http_reason(head->status));
    sbuf_append_str(out, "\r\n");
    if (head->content_type != NULL) {
        if (head->has_date) {
            sbuf_append_str(out, "Date: ");
            http_format_date(out, head->date);
            sbuf_append_str(out, "\r\n");
        }
        sbuf_append_str(out, "Server: irmin-serve\r\nContent-Type: ");
        sbuf_append_str(out, head->content_type);
        sbuf_append_str(out, "\r\nContent-Length: ");
        sbuf_append_u64(out, head->content_length);
        sbuf_append_str(out, "\r\n");
        if (head->allow != NULL) {
            sbuf_append_str(out, "Allow: ");
            sbuf_append_str(out, head->allow);
            sbuf_append_str(out, "\r\n");
        }
        if (head->close)
            sbuf_append_str(out, "Connection: close\r\n");
        else if (head->keep_alive_header)
            sbuf_append_str(out, "Connection: keep-alive\r\n");
    }
    sbuf_append_str(out, "\r\n");
}
