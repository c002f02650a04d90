/* ttfb: time to the first byte of an answer on a new connection, one
 * connection at a time, so that each measured flight is the first of its
 * connection (the one a shaping strategy cuts). Each KIND:PORT names a
 * contender; connections go to them in turn, one each, so that a burst of
 * other work on the machine falls on all of them alike. The kinds:
 *   http         connect to the proxy, send GET http://127.0.0.1:TARGET/small
 *                (absolute form); timed from connect() to the answer's first byte
 *   connect      connect to the proxy, CONNECT 127.0.0.1:TARGET, wait for the
 *                200, then send the ClientHello read from HELLO_FILE; timed from
 *                that write to the first byte of the server's answer
 *   direct-http  the same GET (origin form) straight to PORT
 *   direct-tls   the same ClientHello straight to PORT
 * A contender is done after COUNT connections, or after SECONDS once it has
 * MIN samples (a slow one holds the others up: measure it apart); all stop
 * after 3 * SECONDS + 10 in any case. An answer that takes more than 3 s
 * counts as a failure (warp's pauses take 1.7 s). Prints one JSON line, per
 * contender: every sample in microseconds, failures, and what the answers
 * were (HTTP status; "hello" for a ServerHello, "alert", "other").
 * Usage: ttfb TARGET_PORT COUNT SECONDS MIN HELLO_FILE|- KIND:PORT... */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES  20000
#define MAX_ANSWERS  8
#define MAX_CONTENDS 32

enum kind { HTTP, CONNECT, DIRECT_HTTP, DIRECT_TLS };

/* One contender: where it listens, and what it answered so far. */
struct contender {
    enum kind kind;
    int port;
    int n;       /* samples taken */
    long failed; /* connections with no answer */
    struct {
        char name[8];
        long n;
    } answers[MAX_ANSWERS]; /* the answers seen, by name, with their counts */
    int nanswers;
    double *samples; /* seconds, MAX_SAMPLES of room */
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
answer_count(struct contender *c, const char *name)
{
    for (int i = 0; i < c->nanswers; i++)
        if (strcmp(c->answers[i].name, name) == 0) {
            c->answers[i].n++;
            return;
        }
    if (c->nanswers < MAX_ANSWERS) {
        snprintf(c->answers[c->nanswers].name, sizeof(c->answers[0].name), "%s", name);
        c->answers[c->nanswers++].n = 1;
    }
}

/* A blocking socket connected to 127.0.0.1:port, reads and writes bounded
 * by 3 s so that a lost answer fails one sample instead of the run. */
static int
dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 3};
    int one = 1, fd;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Closes with a reset: no TIME_WAIT left behind by thousands of samples,
 * and a TLS server waiting for the client's next flight lets go at once. */
static void
hang_up(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

/* Reads until the proxy's answer to CONNECT is complete; 0 when it is a 200. */
static int
connect_reply(int fd)
{
    char buf[1024];
    size_t have = 0;
    ssize_t n;

    while (have < sizeof(buf) - 1) {
        n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        if (memmem(buf, have, "\r\n\r\n", 4) != NULL)
            return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
    }
    return -1;
}

/* Reads an HTTP answer to its end (Content-Length framed, or to EOF). */
static void
http_rest(int fd, char *buf, size_t have, size_t cap)
{
    char *e, *cl;
    ssize_t n;

    for (;;) {
        buf[have] = '\0';
        e = memmem(buf, have, "\r\n\r\n", 4);
        cl = strcasestr(buf, "\r\ncontent-length:");
        if (e != NULL && cl != NULL && have >= (size_t)(e + 4 - buf) + strtoul(cl + 17, NULL, 10))
            return;
        if (have == cap - 1) { /* keep the head, drop the body read so far */
            if (e == NULL)
                return;
            have = (size_t)(e + 4 - buf);
        }
        n = read(fd, buf + have, cap - 1 - have);
        if (n <= 0)
            return;
        have += (size_t)n;
    }
}

/* One connection: its time to first byte in seconds, or -1. */
static double
sample(struct contender *c, int target, const char *hello, size_t hello_len)
{
    enum kind kind = c->kind;
    char req[256], buf[8192], name[8];
    size_t have = 0;
    double t0, t1;
    ssize_t n;
    int fd, len;

    t0 = now();
    fd = dial(c->port);
    if (fd < 0)
        return -1;
    if (kind == CONNECT) {
        len =
            snprintf(req, sizeof(req),
                     "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", target, target);
        if (write(fd, req, (size_t)len) != len || connect_reply(fd) < 0)
            goto fail;
    }
    if (kind == CONNECT || kind == DIRECT_TLS) {
        t0 = now();
        if (write(fd, hello, hello_len) != (ssize_t)hello_len)
            goto fail;
    } else {
        len = kind == HTTP ? snprintf(req, sizeof(req),
                                      "GET http://127.0.0.1:%d/small HTTP/1.1\r\n"
                                      "Host: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                                      target, target)
                           : snprintf(req, sizeof(req),
                                      "GET /small HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                      "Connection: close\r\n\r\n",
                                      target);
        if (write(fd, req, (size_t)len) != len)
            goto fail;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    t1 = now();
    if (n <= 0)
        goto fail;
    have = (size_t)n;
    if (kind == CONNECT || kind == DIRECT_TLS) {
        /* A record header (5 bytes) and the handshake type follow at once. */
        while (have < 6 && (n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0)
            have += (size_t)n;
        if (have >= 6 && buf[0] == 0x16 && buf[5] == 0x02)
            answer_count(c, "hello");
        else
            answer_count(c, have >= 1 && buf[0] == 0x15 ? "alert" : "other");
    } else {
        http_rest(fd, buf, have, sizeof(buf));
        if (have >= 12 && strncmp(buf, "HTTP/1.", 7) == 0) {
            snprintf(name, sizeof(name), "%.3s", buf + 9);
            answer_count(c, name);
        } else {
            answer_count(c, "other");
        }
    }
    hang_up(fd);
    return t1 - t0;
fail:
    hang_up(fd);
    return -1;
}

static const struct {
    const char *name;
    enum kind kind;
} kinds[] = {
    {"http", HTTP}, {"connect", CONNECT}, {"direct-http", DIRECT_HTTP}, {"direct-tls", DIRECT_TLS}};

/* Parses KIND:PORT into c; 0 on success. */
static int
contender_parse(struct contender *c, const char *arg)
{
    const char *colon = strrchr(arg, ':');

    if (colon == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strlen(kinds[i].name) == (size_t)(colon - arg) &&
            strncmp(arg, kinds[i].name, (size_t)(colon - arg)) == 0) {
            c->kind = kinds[i].kind;
            c->port = atoi(colon + 1);
            c->samples = calloc(MAX_SAMPLES, sizeof(double));
            return c->port > 0 && c->samples != NULL ? 0 : -1;
        }
    return -1;
}

static void
contender_print(const struct contender *c, int first)
{
    printf("%s{\"failed\": %ld, \"answers\": {", first ? "" : ", ", c->failed);
    for (int i = 0; i < c->nanswers; i++)
        printf("%s\"%s\": %ld", i ? ", " : "", c->answers[i].name, c->answers[i].n);
    printf("}, \"samples_us\": [");
    for (int i = 0; i < c->n; i++)
        printf("%s%.1f", i ? ", " : "", c->samples[i] * 1e6);
    printf("]}");
}

int
main(int argc, char **argv)
{
    static struct contender cs[MAX_CONTENDS];
    static char hello[16384];
    size_t hello_len = 0;
    int target, count, min, ncs, busy;
    double secs, t0, t;

    if (argc < 7 || argc - 6 > MAX_CONTENDS)
        return 2;
    target = atoi(argv[1]);
    count = atoi(argv[2]);
    secs = atof(argv[3]);
    min = atoi(argv[4]);
    if (count < 1 || count > MAX_SAMPLES || min > count)
        return 2;
    if (strcmp(argv[5], "-") != 0) {
        FILE *f = fopen(argv[5], "rb");

        if (f == NULL)
            return 2;
        hello_len = fread(hello, 1, sizeof(hello), f);
        fclose(f);
    }
    ncs = argc - 6;
    for (int i = 0; i < ncs; i++) {
        if (contender_parse(&cs[i], argv[6 + i]) < 0)
            return 2;
        if ((cs[i].kind == CONNECT || cs[i].kind == DIRECT_TLS) && hello_len == 0)
            return 2;
    }
    t0 = now();
    do {
        busy = 0;
        for (int i = 0; i < ncs; i++) {
            struct contender *c = &cs[i];

            /* Done: COUNT samples, or SECONDS are up and everyone has MIN. */
            if (c->n >= count || (c->n >= min && now() - t0 >= secs))
                continue;
            busy = 1;
            t = sample(c, target, hello, hello_len);
            if (t >= 0)
                c->samples[c->n++] = t;
            else
                c->failed++;
        }
    } while (busy && now() - t0 < 3 * secs + 10);
    printf("{\"seconds\": %.3f, \"contenders\": [", now() - t0);
    for (int i = 0; i < ncs; i++)
        contender_print(&cs[i], i == 0);
    printf("]}\n");
    return 0;
}
