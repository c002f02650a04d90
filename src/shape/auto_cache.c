/* The shared auto-shaping table: a fixed number of buckets of AC_WAYS slots
 * each in one anonymous shared mapping, with no pointers inside, so every
 * process forked after auto_cache_create reads and writes the same entries.
 * The hash of a key picks its bucket; each bucket has its own process-shared
 * robust mutex, held only while a slot is searched and copied (no I/O, no
 * allocation), so a worker waits at most for another's copy of one slot. A
 * process killed while it holds a bucket's lock leaves that bucket's entries
 * possibly half written: the next locker is told (EOWNERDEAD), forgets the
 * bucket's entries and carries on. */
#include "auto_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define AC_WAYS        8          /* slots per bucket */
#define AC_MAX_ENTRIES (1u << 24) /* about 5 GB: anything more is a typo */
#define AC_LINE_MAX    (AUTO_CACHE_KEY_MAX + SHAPE_NAME_MAX + 32)
#define AC_FAILED_WORD "-" /* NAME of "nothing worked" in the file */

/* One remembered destination; 304 bytes. */
struct ac_slot {
    int64_t expires; /* wall-clock end, seconds since the epoch */
    uint32_t hash;   /* of key, to skip most comparisons */
    uint8_t state;   /* 0 empty, AUTO_CACHE_WINNER or AUTO_CACHE_FAILED */
    uint8_t keylen;
    char name[SHAPE_NAME_MAX];        /* NUL-terminated when a winner */
    char key[AUTO_CACHE_KEY_MAX + 1]; /* lowercased, NUL-terminated */
};

struct ac_bucket {
    pthread_mutex_t lock; /* process-shared, robust */
    struct ac_slot slot[AC_WAYS];
};

struct auto_cache {
    size_t size;       /* bytes mapped, for munmap */
    unsigned nbuckets; /* never 0 */
    struct ac_bucket bucket[];
};

/* A key normalised for lookup: lowercased, with its length and hash. */
struct ac_key {
    char text[AUTO_CACHE_KEY_MAX + 1];
    size_t len;
    uint32_t hash;
};

static struct auto_cache *ac_shared;

/* A byte that may not be in a key or name: it would break the file's fields. */
static int
ac_bad_byte(unsigned char ch)
{
    return ch <= ' ' || ch == 0x7f;
}

/* Lowercases and hashes key (FNV-1a) into k. Returns 0, or -1 when the key
 * is empty, too long or holds a byte it may not. */
static int
ac_key_make(const char *key, struct ac_key *k)
{
    uint32_t h = 2166136261u;
    size_t i;

    if (key == NULL)
        return -1;
    for (i = 0; key[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)key[i];

        if (i >= AUTO_CACHE_KEY_MAX || ac_bad_byte(ch))
            return -1;
        if (ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        k->text[i] = (char)ch;
        h = (h ^ ch) * 16777619u;
    }
    if (i == 0)
        return -1;
    k->text[i] = '\0';
    k->len = i;
    k->hash = h;
    return 0;
}

/* 1 when name can be stored: 1 to SHAPE_NAME_MAX - 1 bytes, no space. */
static int
ac_name_ok(const char *name)
{
    size_t i;

    for (i = 0; name[i] != '\0'; i++)
        if (i >= SHAPE_NAME_MAX - 1 || ac_bad_byte((unsigned char)name[i]))
            return 0;
    return i > 0;
}

static struct ac_bucket *
ac_bucket_of(struct auto_cache *c, const struct ac_key *k)
{
    return &c->bucket[k->hash % c->nbuckets];
}

/* Locks b. When the last holder died inside its critical section, its
 * half-made update may be anywhere in the bucket: the entries are only
 * hints, so they are all forgotten and the lock made usable again. Returns
 * 0, or -1 when the lock cannot be had. */
static int
ac_lock(struct ac_bucket *b)
{
    int rc = pthread_mutex_lock(&b->lock);

    if (rc == EOWNERDEAD) {
        memset(b->slot, 0, sizeof(b->slot));
        pthread_mutex_consistent(&b->lock);
        return 0;
    }
    return rc == 0 ? 0 : -1;
}

static void
ac_unlock(struct ac_bucket *b)
{
    pthread_mutex_unlock(&b->lock);
}

/* The slot of b holding k, or NULL. Called with b locked. */
static struct ac_slot *
ac_find(struct ac_bucket *b, const struct ac_key *k)
{
    for (int i = 0; i < AC_WAYS; i++) {
        struct ac_slot *s = &b->slot[i];

        if (s->state != 0 && s->hash == k->hash && s->keylen == k->len &&
            memcmp(s->key, k->text, k->len) == 0)
            return s;
    }
    return NULL;
}

/* The slot of b a new key takes: an empty one, else the one that expires
 * soonest (an expired one expires sooner than any live one, whatever the
 * time now). Called with b locked. */
static struct ac_slot *
ac_victim(struct ac_bucket *b)
{
    struct ac_slot *v = &b->slot[0];

    for (int i = 0; i < AC_WAYS; i++) {
        struct ac_slot *s = &b->slot[i];

        if (s->state == 0)
            return s;
        if (s->expires < v->expires)
            v = s;
    }
    return v;
}

struct auto_cache *
auto_cache_create(unsigned entries)
{
    pthread_mutexattr_t attr;
    struct auto_cache *c;
    unsigned nb;
    size_t size;

    if (entries == 0 || entries > AC_MAX_ENTRIES) {
        errno = EINVAL;
        return NULL;
    }
    nb = (entries + AC_WAYS - 1) / AC_WAYS;
    size = sizeof(struct auto_cache) + (size_t)nb * sizeof(struct ac_bucket);
    c = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        return NULL;
    c->size = size;
    c->nbuckets = nb;
    if (pthread_mutexattr_init(&attr) != 0)
        goto fail;
    if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0) {
        pthread_mutexattr_destroy(&attr);
        goto fail;
    }
    for (unsigned i = 0; i < nb; i++)
        if (pthread_mutex_init(&c->bucket[i].lock, &attr) != 0) {
            pthread_mutexattr_destroy(&attr);
            goto fail;
        }
    pthread_mutexattr_destroy(&attr);
    return c;

fail:
    munmap(c, size);
    errno = ENOMEM;
    return NULL;
}

void
auto_cache_destroy(struct auto_cache *c)
{
    if (c == NULL)
        return;
    if (ac_shared == c)
        ac_shared = NULL;
    munmap(c, c->size);
}

unsigned
auto_cache_size(const struct auto_cache *c)
{
    return c == NULL ? 0 : c->nbuckets * AC_WAYS;
}

int
auto_cache_get(struct auto_cache *c, const char *key, time_t now, char *name)
{
    struct ac_key k;
    struct ac_bucket *b;
    struct ac_slot *s;
    int state = AUTO_CACHE_NONE;

    if (c == NULL || ac_key_make(key, &k) < 0)
        return AUTO_CACHE_NONE;
    b = ac_bucket_of(c, &k);
    if (ac_lock(b) < 0)
        return AUTO_CACHE_NONE;
    s = ac_find(b, &k);
    if (s != NULL && s->expires > (int64_t)now) {
        state = s->state;
        if (state == AUTO_CACHE_WINNER)
            memcpy(name, s->name, SHAPE_NAME_MAX);
    }
    ac_unlock(b);
    return state;
}

void
auto_cache_put(struct auto_cache *c, const char *key, const char *name, time_t expires)
{
    struct ac_key k;
    struct ac_bucket *b;
    struct ac_slot *s;
    char n[SHAPE_NAME_MAX] = "";

    if (c == NULL || ac_key_make(key, &k) < 0 || (name != NULL && !ac_name_ok(name)))
        return;
    if (name != NULL)
        strcpy(n, name); /* fits: ac_name_ok */
    b = ac_bucket_of(c, &k);
    if (ac_lock(b) < 0)
        return;
    s = ac_find(b, &k);
    if (s == NULL)
        s = ac_victim(b);
    s->expires = (int64_t)expires;
    s->hash = k.hash;
    s->state = name != NULL ? AUTO_CACHE_WINNER : AUTO_CACHE_FAILED;
    s->keylen = (uint8_t)k.len;
    memcpy(s->name, n, sizeof(n));
    memcpy(s->key, k.text, k.len + 1);
    ac_unlock(b);
}

void
auto_cache_set_shared(struct auto_cache *c)
{
    ac_shared = c;
}

struct auto_cache *
auto_cache_shared(void)
{
    return ac_shared;
}

void
auto_cache_test_die_locked(struct auto_cache *c, const char *key)
{
    struct ac_key k;
    struct ac_bucket *b;
    struct ac_slot *s;

    if (c == NULL || ac_key_make(key, &k) < 0)
        return;
    b = ac_bucket_of(c, &k);
    if (ac_lock(b) < 0)
        return;
    s = ac_victim(b);
    s->expires = INT64_MAX;
    s->hash = k.hash;
    s->state = AUTO_CACHE_WINNER;
    s->keylen = (uint8_t)k.len;
    memset(s->name, 'x', sizeof(s->name)); /* no NUL yet: torn */
    memcpy(s->key, k.text, k.len + 1);
}

/* ---- the file --------------------------------------------------------- */

/* Writes the live entries of c to f. Each bucket is copied under its lock
 * and written after, so no lock is held across I/O. */
static void
ac_write_entries(struct auto_cache *c, FILE *f, time_t now)
{
    struct ac_slot copy[AC_WAYS];

    fprintf(f, "# warpd shape auto cache: KEY NAME EXPIRES (\"-\": nothing worked)\n");
    for (unsigned i = 0; i < c->nbuckets; i++) {
        struct ac_bucket *b = &c->bucket[i];

        if (ac_lock(b) < 0)
            continue;
        memcpy(copy, b->slot, sizeof(copy));
        ac_unlock(b);
        for (int j = 0; j < AC_WAYS; j++) {
            const struct ac_slot *s = &copy[j];

            if (s->state == 0 || s->expires <= (int64_t)now)
                continue;
            fprintf(f, "%s %s %lld\n", s->key,
                    s->state == AUTO_CACHE_WINNER ? s->name : AC_FAILED_WORD,
                    (long long)s->expires);
        }
    }
}

int
auto_cache_save(struct auto_cache *c, const char *path, time_t now, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    FILE *f;
    int fd, bad;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file next to %s: %s", path,
                 strerror(errno));
        return -1;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (c != NULL)
        ac_write_entries(c, f, now);
    bad = fflush(f) != 0 || ferror(f) || fsync(fd) < 0;
    if (fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Parses one line of the file into an entry. Returns NULL and sets *name
 * (NULL for "nothing worked") and *expires, or returns what is wrong. The
 * line is cut into its fields in place. */
static const char *
ac_parse_line(char *line, struct ac_key *k, const char **name, long long *expires)
{
    char *f[4], *save = NULL, *end;
    int n = 0;

    for (char *w = strtok_r(line, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save))
        if (n < 4)
            f[n++] = w;
        else
            n++;
    if (n != 3)
        return "expected KEY NAME EXPIRES";
    if (strlen(f[0]) > AUTO_CACHE_KEY_MAX)
        return "key longer than 255 bytes";
    if (ac_key_make(f[0], k) < 0)
        return "key with a control character";
    *name = strcmp(f[1], AC_FAILED_WORD) == 0 ? NULL : f[1];
    if (*name != NULL && !ac_name_ok(*name))
        return "strategy name longer than 31 bytes or with a control character";
    errno = 0;
    *expires = strtoll(f[2], &end, 10);
    if (errno != 0 || end == f[2] || *end != '\0' || *expires <= 0)
        return "EXPIRES is not a positive number of seconds";
    return NULL;
}

int
auto_cache_load(struct auto_cache *c, const char *path, time_t now, char *err, size_t errlen)
{
    char line[AC_LINE_MAX];
    FILE *f = fopen(path, "re");
    int lineno = 0;

    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        const char *name, *why;
        struct ac_key k;
        long long expires;

        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     AC_LINE_MAX - 2);
            fclose(f);
            return -1;
        }
        if (len == 0 || line[0] == '#')
            continue;
        if ((why = ac_parse_line(line, &k, &name, &expires)) != NULL) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            fclose(f);
            return -1;
        }
        if (expires > (long long)now)
            auto_cache_put(c, k.text, name, (time_t)expires);
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}
