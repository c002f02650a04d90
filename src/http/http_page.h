/* warpd's own answers as bytes: the head of a short page and the text of an
 * error page. A leaf: it builds bytes into the caller's buffer and calls
 * nothing back; http_reply.c sends them and closes. */
#ifndef WARPD_HTTP_PAGE_H
#define WARPD_HTTP_PAGE_H

#include <stddef.h>

/* Room for any head http_page_head writes with the extra fields warpd uses. */
#define HTTP_PAGE_HEAD_MAX 512
/* Room for an error page's text. */
#define HTTP_PAGE_BODY_MAX 256

/* "HTTP/1.1 status reason", Content-Type when ctype is not NULL, the extra
 * field lines, Content-Length: blen, the connection line ("" for none), the
 * empty line. Returns the length written (cut to cap - 1, NUL-terminated). */
size_t http_page_head(char *buf, size_t cap, int status, const char *ctype, const char *extra,
                      size_t blen, const char *connection);
/* "warpd: status reason: what" and CRLF, the body of an error page. Returns
 * the length written (cut to cap - 1, NUL-terminated). */
size_t http_page_text(char *buf, size_t cap, int status, const char *what);

/* The Proxy-Authenticate line of a 407 with the Basic challenge for realm
 * (RFC 7617: charset says credentials are read as UTF-8). */
size_t http_page_challenge(char *buf, size_t cap, const char *realm);

#endif
