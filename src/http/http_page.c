/* warpd's own answers as bytes (see http_page.h): the reason phrases come
 * from http_out.c, everything else is formatted here. */
#include "http_page.h"

#include <stdio.h>

#include "http.h"

static size_t
page_len(int n, size_t cap)
{
    if (n < 0)
        return 0;
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

size_t
http_page_head(char *buf, size_t cap, int status, const char *ctype, const char *extra, size_t blen,
               const char *connection)
{
    int n = snprintf(buf, cap, "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s%s\r\n", status,
                     http_reason(status), ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", blen, extra, connection);

    return page_len(n, cap);
}

size_t
http_page_text(char *buf, size_t cap, int status, const char *what)
{
    return page_len(snprintf(buf, cap, "warpd: %d %s: %s\r\n", status, http_reason(status), what),
                    cap);
}

size_t
http_page_challenge(char *buf, size_t cap, const char *realm)
{
    return page_len(
        snprintf(buf, cap, "Proxy-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n", realm),
        cap);
}
