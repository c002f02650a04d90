/* Fixed answers from a hosts file. The supervisor reads the file when it loads
 * the configuration (never a worker, never per request), keeps each line's
 * address once and each name once, sorted, in four flat arrays; a lookup is a
 * binary search. Lines are "ADDRESS NAME [ALIAS...]" with "#" comments, as in
 * hosts(5); a line whose address is not a literal is skipped as glibc does. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hosts.h"

#define HOSTS_NAMEMAX    256 /* longest name kept, with the NUL */
#define HOSTS_NAME_ADDRS 16  /* addresses kept per name; later ones are dropped */

struct hosts_addr {
    uint8_t a_family; /* AF_INET or AF_INET6 */
    uint8_t a_ip[16]; /* 4 or 16 bytes in network order */
};

struct hosts_name {
    uint32_t n_name;  /* offset of the lowercase name in h_text */
    uint32_t n_addr;  /* index of its first address in h_addrs */
    uint32_t n_naddr; /* how many, 1..HOSTS_NAME_ADDRS */
};

struct hosts {
    struct hosts *h_next; /* every table this process loaded, for reuse */
    dev_t h_dev;          /* identity of the file as read: an unchanged file */
    ino_t h_ino;          /* is not read again at the next reload */
    off_t h_size;
    struct timespec h_mtime;
    size_t h_nnames;
    struct hosts_name *h_names; /* sorted by name (strcmp) */
    struct hosts_addr *h_addrs; /* each name's addresses, contiguous, in file order */
    char *h_text;               /* the names, each NUL-terminated */
    char h_path[];
};

/* One (name, address) pair found while parsing, before sorting. */
struct hosts_pair {
    const char *p_name; /* lowercase, inside the file's text */
    uint32_t p_addr;    /* index in the per-line address array */
    uint32_t p_seq;     /* file order, so that the sort keeps it per name */
};

struct hosts_build {
    struct hosts_addr *addr; /* one per useful line */
    size_t naddr, addr_cap;
    struct hosts_pair *pair;
    size_t npair, pair_cap;
};

static struct hosts *loaded;

static int
grow(void **arr, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap * 2 : 64;
    void *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    p = realloc(*arr, n * size);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static int
parse_addr(const char *tok, struct hosts_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, tok, a->a_ip) == 1)
        a->a_family = AF_INET;
    else if (inet_pton(AF_INET6, tok, a->a_ip) == 1)
        a->a_family = AF_INET6;
    else
        return -1;
    return 0;
}

/* Lowercases a name in place and drops one trailing dot; 0 when it is kept. */
static int
name_norm(char *s)
{
    size_t n = strlen(s), i;

    if (n > 1 && s[n - 1] == '.')
        s[--n] = '\0';
    if (n == 0 || n >= HOSTS_NAMEMAX)
        return -1;
    for (i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    return 0;
}

/* One line (NUL-terminated, comment included): its address and its names. */
static int
parse_line(char *line, struct hosts_build *b)
{
    static const char ws[] = " \t\r\f\v";
    char *save = NULL, *tok;
    struct hosts_addr a;
    int names = 0;

    line[strcspn(line, "#")] = '\0';
    tok = strtok_r(line, ws, &save);
    if (tok == NULL || parse_addr(tok, &a) < 0)
        return 0;
    while ((tok = strtok_r(NULL, ws, &save)) != NULL) {
        if (name_norm(tok) < 0)
            continue;
        if (grow((void **)&b->pair, &b->pair_cap, b->npair + 1, sizeof(*b->pair)) < 0)
            return -1;
        b->pair[b->npair].p_name = tok;
        b->pair[b->npair].p_addr = (uint32_t)b->naddr;
        b->pair[b->npair].p_seq = (uint32_t)b->npair;
        b->npair++;
        names++;
    }
    if (names == 0)
        return 0;
    if (grow((void **)&b->addr, &b->addr_cap, b->naddr + 1, sizeof(*b->addr)) < 0)
        return -1;
    b->addr[b->naddr++] = a;
    return 0;
}

static int
pair_cmp(const void *x, const void *y)
{
    const struct hosts_pair *a = x, *b = y;
    int c = strcmp(a->p_name, b->p_name);

    return c != 0 ? c : (a->p_seq > b->p_seq) - (a->p_seq < b->p_seq);
}

/* Adds the addresses of one name's pairs [i, j) to the table, once each. */
static void
add_name(struct hosts *h, const struct hosts_build *b, size_t i, size_t j, size_t *naddr,
         size_t *text)
{
    struct hosts_name *n = &h->h_names[h->h_nnames++];
    size_t len = strlen(b->pair[i].p_name), k, m;

    n->n_name = (uint32_t)*text;
    n->n_addr = (uint32_t)*naddr;
    n->n_naddr = 0;
    memcpy(h->h_text + *text, b->pair[i].p_name, len + 1);
    *text += len + 1;
    for (k = i; k < j && n->n_naddr < HOSTS_NAME_ADDRS; k++) {
        const struct hosts_addr *a = &b->addr[b->pair[k].p_addr];

        for (m = 0; m < n->n_naddr; m++)
            if (memcmp(&h->h_addrs[n->n_addr + m], a, sizeof(*a)) == 0)
                break;
        if (m == n->n_naddr)
            h->h_addrs[n->n_addr + n->n_naddr++] = *a;
    }
    *naddr += n->n_naddr;
}

/* Sorts the pairs and lays them out as the table's flat arrays. */
static int
build_table(struct hosts *h, struct hosts_build *b)
{
    size_t i, j, names = 0, text = 0, naddr = 0;

    if (b->npair > 0)
        qsort(b->pair, b->npair, sizeof(*b->pair), pair_cmp);
    for (i = 0; i < b->npair; i++)
        if (i == 0 || strcmp(b->pair[i].p_name, b->pair[i - 1].p_name) != 0) {
            names++;
            text += strlen(b->pair[i].p_name) + 1;
        }
    h->h_names = malloc((names ? names : 1) * sizeof(*h->h_names));
    h->h_addrs = malloc((b->npair ? b->npair : 1) * sizeof(*h->h_addrs));
    h->h_text = malloc(text ? text : 1);
    if (h->h_names == NULL || h->h_addrs == NULL || h->h_text == NULL)
        return -1;
    text = 0;
    for (i = 0; i < b->npair; i = j) {
        for (j = i + 1; j < b->npair && strcmp(b->pair[j].p_name, b->pair[i].p_name) == 0; j++)
            ;
        add_name(h, b, i, j, &naddr, &text);
    }
    return 0;
}

/* The whole file in one NUL-terminated buffer; *size is what was read. */
static char *
read_all(int fd, off_t want, size_t *size)
{
    char *buf = malloc((size_t)want + 1);
    size_t got = 0;
    ssize_t n;

    if (buf == NULL)
        return NULL;
    while (got < (size_t)want) {
        n = read(fd, buf + got, (size_t)want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if (n == 0)
            break; /* the file shrank while we read it: what we have */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *size = got;
    return buf;
}

/* Parses the text into a new table for path; NULL when out of memory. */
static struct hosts *
parse_text(const char *path, char *text, size_t size)
{
    struct hosts_build b;
    struct hosts *h;
    char *p = text, *end = text + size, *eol;

    memset(&b, 0, sizeof(b));
    h = calloc(1, sizeof(*h) + strlen(path) + 1);
    if (h == NULL)
        return NULL;
    strcpy(h->h_path, path);
    for (; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        *eol = '\0';
        if (parse_line(p, &b) < 0)
            goto fail;
    }
    if (build_table(h, &b) < 0)
        goto fail;
    free(b.addr);
    free(b.pair);
    return h;

fail:
    free(b.addr);
    free(b.pair);
    free(h->h_names);
    free(h->h_addrs);
    free(h->h_text);
    free(h);
    return NULL;
}

static struct hosts *
find_loaded(const char *path, const struct stat *st)
{
    struct hosts *h;

    for (h = loaded; h != NULL; h = h->h_next)
        if (h->h_dev == st->st_dev && h->h_ino == st->st_ino && h->h_size == st->st_size &&
            h->h_mtime.tv_sec == st->st_mtim.tv_sec && h->h_mtime.tv_nsec == st->st_mtim.tv_nsec &&
            strcmp(h->h_path, path) == 0)
            return h;
    return NULL;
}

int
hosts_load(const char *path, int missing_ok, const struct hosts **out, char *err, size_t errlen)
{
    struct stat st;
    struct hosts *h = NULL;
    char *text = NULL;
    size_t size = 0;
    int fd;

    *out = NULL;
    /* O_NONBLOCK: opening a FIFO named by mistake must not hang the load. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 && errno == ENOENT && missing_ok)
        return 0;
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto fail;
    }
    if (st.st_size > HOSTS_MAX_SIZE) {
        snprintf(err, errlen, "%s is larger than %d MiB", path, HOSTS_MAX_SIZE >> 20);
        goto fail;
    }
    if ((h = find_loaded(path, &st)) != NULL) {
        close(fd);
        *out = h;
        return 0;
    }
    text = read_all(fd, st.st_size, &size);
    if (text == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno ? errno : ENOMEM));
        goto fail;
    }
    h = parse_text(path, text, size);
    if (h == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    free(text);
    close(fd);
    h->h_dev = st.st_dev;
    h->h_ino = st.st_ino;
    h->h_size = st.st_size;
    h->h_mtime = st.st_mtim;
    h->h_next = loaded;
    loaded = h;
    *out = h;
    return 0;

fail:
    free(text);
    close(fd);
    return -1;
}

static void
fill(const struct hosts_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (a->a_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, a->a_ip, 4);
        *len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, a->a_ip, 16);
        *len = sizeof(*sin6);
    }
}

int
hosts_lookup(const struct hosts *h, const char *name, struct sockaddr_storage *addr, socklen_t *len,
             int max)
{
    char key[HOSTS_NAMEMAX];
    size_t n = strlen(name), lo = 0, hi, mid;
    const struct hosts_name *e;
    int c, i;

    if (h == NULL || h->h_nnames == 0 || n >= sizeof(key))
        return 0;
    memcpy(key, name, n + 1);
    if (name_norm(key) < 0)
        return 0;
    hi = h->h_nnames;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        e = &h->h_names[mid];
        c = strcmp(key, h->h_text + e->n_name);
        if (c == 0) {
            for (i = 0; i < (int)e->n_naddr && i < max; i++)
                fill(&h->h_addrs[e->n_addr + (uint32_t)i], &addr[i], &len[i]);
            return i;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

size_t
hosts_count(const struct hosts *h)
{
    return h != NULL ? h->h_nnames : 0;
}
