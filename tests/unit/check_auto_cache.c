/* Unit tests for auto_cache: lookups, replacement, expiry, case, refused
 * keys, eviction from a full bucket, the file (round trip, malformed lines,
 * a missing file), and the table shared by several processes: concurrent
 * writers never show a torn entry, and a process killed while it holds a
 * lock does not wedge the others. Times are fixed numbers, never the clock. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto_cache.h"
#include "tutil.h"

#define T0 ((time_t)2000000000)

/* A table of one bucket, so that every key shares it. */
static struct auto_cache *
one_bucket(void)
{
    struct auto_cache *c = auto_cache_create(1);

    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(auto_cache_size(c), 8);
    return c;
}

/* tu_tmpdir()/name (static). */
static const char *
tmp_path(const char *name)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s", tu_tmpdir(), name);
    return path;
}

static const char *
write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(test_put_get_expiry)
{
    struct auto_cache *c = auto_cache_create(4096);
    char name[SHAPE_NAME_MAX] = "";

    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(auto_cache_size(c), 4096);
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0, name), AUTO_CACHE_NONE);
    auto_cache_put(c, "example.com", "split", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "split");
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0 + 99, name), AUTO_CACHE_WINNER);
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0 + 100, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "example.org", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "192.0.2.1", T0, name), AUTO_CACHE_NONE);
    auto_cache_put(c, "192.0.2.1", "oob", T0 + 100);
    auto_cache_put(c, "2001:db8::1", "tlsrec", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "192.0.2.1", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "oob");
    ck_assert_int_eq(auto_cache_get(c, "2001:DB8::1", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "tlsrec");
    auto_cache_destroy(c);
    /* A NULL table remembers nothing and does not crash. */
    auto_cache_put(NULL, "example.com", "split", T0 + 100);
    ck_assert_int_eq(auto_cache_get(NULL, "example.com", T0, name), AUTO_CACHE_NONE);
}
END_TEST

START_TEST(test_replace_and_failed)
{
    struct auto_cache *c = one_bucket();
    char name[SHAPE_NAME_MAX] = "";

    auto_cache_put(c, "example.com", "split", T0 + 100);
    auto_cache_put(c, "example.com", NULL, T0 + 50);
    strcpy(name, "untouched");
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0, name), AUTO_CACHE_FAILED);
    ck_assert_str_eq(name, "untouched");
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0 + 50, name), AUTO_CACHE_NONE);
    auto_cache_put(c, "example.com", "disorder", T0 + 200);
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0 + 60, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "disorder");
    /* Replacing took no second slot: seven other keys still fit beside it. */
    for (int i = 0; i < 7; i++) {
        char key[32];
        snprintf(key, sizeof(key), "h%d.example", i);
        auto_cache_put(c, key, "split", T0 + 1);
    }
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0, name), AUTO_CACHE_WINNER);
    for (int i = 0; i < 7; i++) {
        char key[32];
        snprintf(key, sizeof(key), "h%d.example", i);
        ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_WINNER);
    }
    auto_cache_destroy(c);
}
END_TEST

START_TEST(test_case_insensitive)
{
    struct auto_cache *c = auto_cache_create(64);
    char name[SHAPE_NAME_MAX] = "";

    auto_cache_put(c, "WWW.Example.COM", "fake", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "www.example.com", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "fake");
    ck_assert_int_eq(auto_cache_get(c, "WWW.EXAMPLE.COM", T0, name), AUTO_CACHE_WINNER);
    auto_cache_put(c, "www.EXAMPLE.com", "oob", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "Www.Example.Com", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "oob");
    /* The strategy name keeps its case: it is not a key. */
    auto_cache_put(c, "x.example", "MyStrat", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "X.EXAMPLE", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "MyStrat");
    auto_cache_destroy(c);
}
END_TEST

START_TEST(test_eviction)
{
    struct auto_cache *c = one_bucket();
    char name[SHAPE_NAME_MAX] = "", key[32];

    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "k%d.example", i);
        auto_cache_put(c, key, "split", T0 + 100 + i);
    }
    /* Full: the ninth key takes the slot of the one expiring soonest (k0). */
    auto_cache_put(c, "k8.example", "fake", T0 + 50);
    ck_assert_int_eq(auto_cache_get(c, "k0.example", T0, name), AUTO_CACHE_NONE);
    for (int i = 1; i <= 8; i++) {
        snprintf(key, sizeof(key), "k%d.example", i);
        ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_WINNER);
    }
    /* An expired entry goes before any live one, even one expiring soon
     * (k8, T0 + 50). */
    auto_cache_put(c, "k5.example", "split", T0 - 1);
    auto_cache_put(c, "k9.example", NULL, T0 + 300);
    ck_assert_int_eq(auto_cache_get(c, "k5.example", T0 - 10, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "k8.example", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "fake");
    ck_assert_int_eq(auto_cache_get(c, "k9.example", T0, name), AUTO_CACHE_FAILED);
    /* Then k8, the soonest of the live ones. */
    auto_cache_put(c, "k10.example", "oob", T0 + 400);
    ck_assert_int_eq(auto_cache_get(c, "k8.example", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "k1.example", T0, name), AUTO_CACHE_WINNER);
    auto_cache_destroy(c);
}
END_TEST

START_TEST(test_key_and_name_limits)
{
    struct auto_cache *c = one_bucket();
    char name[SHAPE_NAME_MAX] = "", key[300], nm[40];

    memset(key, 'a', sizeof(key));
    key[255] = '\0';
    auto_cache_put(c, key, "split", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_WINNER);
    /* 256 bytes: refused, not truncated (it would collide with the 255). */
    key[255] = 'a';
    key[256] = '\0';
    ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_NONE);
    auto_cache_put(c, key, "fake", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_NONE);
    key[255] = '\0';
    ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "split");
    /* Keys that would break the file's fields, and the empty key. */
    auto_cache_put(c, "a b", "split", T0 + 100);
    auto_cache_put(c, "a\tb", "split", T0 + 100);
    auto_cache_put(c, "a\nb", "split", T0 + 100);
    auto_cache_put(c, "", "split", T0 + 100);
    auto_cache_put(c, NULL, "split", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "a b", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "a\tb", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "a\nb", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "", T0, name), AUTO_CACHE_NONE);
    /* Names: 31 bytes fit, 32 do not; none empty or with a space. */
    memset(nm, 'n', sizeof(nm));
    nm[31] = '\0';
    auto_cache_put(c, "n31.example", nm, T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "n31.example", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, nm);
    nm[31] = 'n';
    nm[32] = '\0';
    auto_cache_put(c, "n32.example", nm, T0 + 100);
    auto_cache_put(c, "n0.example", "", T0 + 100);
    auto_cache_put(c, "nsp.example", "a b", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "n32.example", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "n0.example", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(c, "nsp.example", T0, name), AUTO_CACHE_NONE);
    /* Nothing refused took a slot: the two kept entries are still there. */
    ck_assert_int_eq(auto_cache_get(c, key, T0, name), AUTO_CACHE_WINNER);
    auto_cache_destroy(c);
}
END_TEST

START_TEST(test_create_limits)
{
    struct auto_cache *c;

    ck_assert_ptr_null(auto_cache_create(0));
    ck_assert_ptr_null(auto_cache_create(4000000000u));
    c = auto_cache_create(9);
    ck_assert_uint_eq(auto_cache_size(c), 16);
    auto_cache_set_shared(c);
    ck_assert_ptr_eq(auto_cache_shared(), c);
    auto_cache_destroy(c);
    ck_assert_ptr_null(auto_cache_shared());
}
END_TEST

/* Whether the directory holds a temporary file of name's (name.XXXXXX). */
static int
dir_has_temp(const char *name)
{
    DIR *d = opendir(tu_tmpdir());
    struct dirent *e;
    int other = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, name, strlen(name)) == 0 && e->d_name[strlen(name)] == '.')
            other = 1;
    closedir(d);
    return other;
}

START_TEST(test_save_load)
{
    struct auto_cache *a = auto_cache_create(256), *b = auto_cache_create(64);
    const char *path = tmp_path("cache");
    char err[256] = "", name[SHAPE_NAME_MAX], text[1024];
    struct stat st;
    FILE *f;
    size_t n;

    auto_cache_put(a, "Example.com", "split", T0 + 100);
    auto_cache_put(a, "blocked.example", NULL, T0 + 30);
    auto_cache_put(a, "198.51.100.7", "fake", T0 + 5000);
    auto_cache_put(a, "old.example", "oob", T0 - 1); /* expired: not saved */
    ck_assert_int_eq(auto_cache_save(a, path, T0, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(dir_has_temp("cache"), 0);
    f = fopen(path, "r");
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_ptr_nonnull(strstr(text, "\nexample.com split 2000000100\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nblocked.example - 2000000030\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n198.51.100.7 fake 2000005000\n"));
    ck_assert_ptr_null(strstr(text, "old.example"));

    /* Loaded later: what expired meanwhile stays out. */
    ck_assert_int_eq(auto_cache_load(b, path, T0 + 40, err, sizeof(err)), 0);
    ck_assert_int_eq(auto_cache_get(b, "EXAMPLE.COM", T0 + 40, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "split");
    ck_assert_int_eq(auto_cache_get(b, "198.51.100.7", T0 + 40, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "fake");
    ck_assert_int_eq(auto_cache_get(b, "blocked.example", T0 + 20, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(auto_cache_get(b, "old.example", T0 - 10, name), AUTO_CACHE_NONE);
    /* Loaded at once: the "nothing worked" entry comes back as such. */
    ck_assert_int_eq(auto_cache_load(b, path, T0, err, sizeof(err)), 0);
    ck_assert_int_eq(auto_cache_get(b, "blocked.example", T0, name), AUTO_CACHE_FAILED);

    /* Saving again replaces the file; an empty table gives an empty list. */
    auto_cache_destroy(a);
    a = auto_cache_create(8);
    ck_assert_int_eq(auto_cache_save(a, path, T0, err, sizeof(err)), 0);
    auto_cache_destroy(b);
    b = auto_cache_create(8);
    ck_assert_int_eq(auto_cache_load(b, path, T0, err, sizeof(err)), 0);
    ck_assert_int_eq(auto_cache_get(b, "example.com", T0, name), AUTO_CACHE_NONE);
    ck_assert_int_eq(dir_has_temp("cache"), 0);
    auto_cache_destroy(a);
    auto_cache_destroy(b);
}
END_TEST

START_TEST(test_save_error)
{
    struct auto_cache *c = one_bucket();
    char err[256] = "";
    char path[300];

    snprintf(path, sizeof(path), "%s/no/such/dir/cache", tu_tmpdir());
    ck_assert_int_eq(auto_cache_save(c, path, T0, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot create a temporary file next to "));
    ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
    auto_cache_destroy(c);
}
END_TEST

START_TEST(test_load_missing)
{
    struct auto_cache *c = one_bucket();
    char err[256] = "untouched";

    ck_assert_int_eq(auto_cache_load(c, tmp_path("missing"), T0, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "untouched");
    auto_cache_destroy(c);
}
END_TEST

/* Loads text from a file; returns the load's result with the error's text
 * after the file name in why. */
static int
load_text(const char *text, char *why, size_t len)
{
    struct auto_cache *c = auto_cache_create(64);
    const char *path = write_file("bad", text);
    char err[512] = "";
    size_t plen = strlen(path);
    int rc = auto_cache_load(c, path, T0, err, sizeof(err));

    if (rc < 0) {
        ck_assert_int_eq(strncmp(err, path, plen), 0);
        snprintf(why, len, "%s", err + plen);
    }
    auto_cache_destroy(c);
    return rc;
}

START_TEST(test_load_malformed)
{
    struct auto_cache *c = auto_cache_create(64);
    const char *path;
    char err[512] = "", want[600], why[300], name[SHAPE_NAME_MAX], longkey[400];

    path = write_file("bad", "# comment\n\nexample.com split 2000000100\nbad line\n"
                             "later.example split 2000000100\n");
    ck_assert_int_eq(auto_cache_load(c, path, T0, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:4: expected KEY NAME EXPIRES", path);
    ck_assert_str_eq(err, want);
    /* The lines before the bad one were loaded, the ones after were not. */
    ck_assert_int_eq(auto_cache_get(c, "example.com", T0, name), AUTO_CACHE_WINNER);
    ck_assert_int_eq(auto_cache_get(c, "later.example", T0, name), AUTO_CACHE_NONE);
    auto_cache_destroy(c);

    ck_assert_int_eq(load_text("a.example split 2000000100 extra\n", why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: expected KEY NAME EXPIRES");
    ck_assert_int_eq(load_text("a.example split soon\n", why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: EXPIRES is not a positive number of seconds");
    ck_assert_int_eq(load_text("#\na.example split 12x\n", why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":2: EXPIRES is not a positive number of seconds");
    ck_assert_int_eq(load_text("a.example split -5\n", why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: EXPIRES is not a positive number of seconds");
    ck_assert_int_eq(
        load_text("a.example abcdefghijabcdefghijabcdefghijab 2000000100\n", why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: strategy name longer than 31 bytes or with a control character");
    ck_assert_int_eq(load_text("a\x01.example split 2000000100\n", why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: key with a control character");
    memset(longkey, 'k', 256);
    strcpy(longkey + 256, " split 2000000100\n");
    ck_assert_int_eq(load_text(longkey, why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: key longer than 255 bytes");
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    ck_assert_int_eq(load_text(longkey, why, sizeof(why)), -1);
    ck_assert_str_eq(why, ":1: line longer than 317 bytes");
    /* The last line may lack its newline; expired entries are no error. */
    ck_assert_int_eq(load_text("a.example split 2000000100", why, sizeof(why)), 0);
    ck_assert_int_eq(load_text("a.example split 1\n", why, sizeof(why)), 0);
}
END_TEST

/* ---- processes -------------------------------------------------------- */

#define HAM_KEYS    40
#define HAM_WRITERS 4
#define HAM_ROUNDS  100000

/* The name writer w stores for key k: it says both, and fills the name's
 * whole width with a letter of k, so that a mix of two entries shows. */
static void
ham_name(char *out, int w, int k)
{
    int n = snprintf(out, SHAPE_NAME_MAX, "w%d-k%d-", w, k);

    memset(out + n, 'a' + k % 26, (size_t)(SHAPE_NAME_MAX - 1 - n));
    out[SHAPE_NAME_MAX - 1] = '\0';
}

/* Whether name is one that some writer stores for key k. */
static int
ham_ok(const char *name, int k)
{
    char want[SHAPE_NAME_MAX];

    if (memchr(name, '\0', SHAPE_NAME_MAX) == NULL)
        return 0;
    for (int w = 0; w < HAM_WRITERS; w++) {
        ham_name(want, w, k);
        if (strcmp(name, want) == 0)
            return 1;
    }
    return 0;
}

/* Puts and gets on keys shared with the other writers, in a table much
 * smaller than the keys so slots change hands all the time. Returns the
 * number of torn entries read. */
static int
hammer(struct auto_cache *c, int w)
{
    unsigned r = 2654435761u * (unsigned)(w + 1);
    int torn = 0;

    for (int i = 0; i < HAM_ROUNDS; i++) {
        char key[32], name[SHAPE_NAME_MAX];
        int k, st;

        r = r * 1103515245u + 12345u;
        k = (int)((r >> 16) % HAM_KEYS);
        snprintf(key, sizeof(key), (r & 1) ? "host%d.example" : "HOST%d.Example", k);
        if (i % 3 == 0) {
            ham_name(name, w, k);
            auto_cache_put(c, key, w == 3 && (r & 2) ? NULL : name, T0 + 1000 + k);
            continue;
        }
        st = auto_cache_get(c, key, T0, name);
        if (st == AUTO_CACHE_WINNER && !ham_ok(name, k))
            torn++;
        else if (st != AUTO_CACHE_NONE && st != AUTO_CACHE_WINNER && st != AUTO_CACHE_FAILED)
            torn++;
    }
    return torn;
}

START_TEST(test_concurrent_writers)
{
    struct auto_cache *c = auto_cache_create(16);
    pid_t pid[HAM_WRITERS];
    int seen = 0;

    ck_assert_ptr_nonnull(c);
    for (int w = 0; w < HAM_WRITERS; w++) {
        pid[w] = fork();
        ck_assert_int_ge(pid[w], 0);
        if (pid[w] == 0)
            _exit(hammer(c, w) == 0 ? 0 : 1);
    }
    for (int w = 0; w < HAM_WRITERS; w++) {
        int st;
        ck_assert_int_eq(waitpid(pid[w], &st, 0), pid[w]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d read a torn entry", w);
    }
    /* What is left is whole, and came from the children. */
    for (int k = 0; k < HAM_KEYS; k++) {
        char key[32], name[SHAPE_NAME_MAX];
        int st;

        snprintf(key, sizeof(key), "host%d.example", k);
        st = auto_cache_get(c, key, T0, name);
        ck_assert(st != AUTO_CACHE_WINNER || ham_ok(name, k));
        seen += st != AUTO_CACHE_NONE;
    }
    ck_assert_int_gt(seen, 0);
    ck_assert_int_le(seen, 16);
    auto_cache_destroy(c);
}
END_TEST

/* Forks a child that takes the lock of key's bucket, half-writes an entry,
 * says so on a pipe, waits delay_us and is killed with the lock held.
 * Returns its pid once it holds the lock. */
static pid_t
die_locked(struct auto_cache *c, const char *key, unsigned delay_us)
{
    int p[2];
    pid_t pid;
    char b;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        auto_cache_test_die_locked(c, key);
        if (write(p[1], "L", 1) != 1)
            _exit(1);
        usleep(delay_us);
        raise(SIGKILL);
        _exit(1);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], &b, 1), 1);
    close(p[0]);
    return pid;
}

static void
reap_killed(pid_t pid)
{
    int st;

    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* After the holder's death the bucket works again, with no torn entry. */
static void
check_recovered(struct auto_cache *c)
{
    char name[SHAPE_NAME_MAX];
    pid_t pid;
    int st;

    ck_assert_int_eq(auto_cache_get(c, "victim.example", T0, name), AUTO_CACHE_NONE);
    /* The bucket's entries were forgotten: they may have been half written. */
    ck_assert_int_eq(auto_cache_get(c, "other.example", T0, name), AUTO_CACHE_NONE);
    auto_cache_put(c, "victim.example", "fake", T0 + 100);
    ck_assert_int_eq(auto_cache_get(c, "victim.example", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "fake");
    /* Another process can take the lock as well. */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        auto_cache_put(c, "child.example", "oob", T0 + 100);
        _exit(auto_cache_get(c, "victim.example", T0, name) == AUTO_CACHE_WINNER ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(auto_cache_get(c, "child.example", T0, name), AUTO_CACHE_WINNER);
    ck_assert_str_eq(name, "oob");
}

START_TEST(test_killed_holder_waiter)
{
    struct auto_cache *c = one_bucket();
    char name[SHAPE_NAME_MAX];
    pid_t pid;

    auto_cache_put(c, "other.example", "split", T0 + 100);
    pid = die_locked(c, "victim.example", 200000);
    /* Blocks until the holder is killed, then finds the bucket emptied. */
    ck_assert_int_eq(auto_cache_get(c, "victim.example", T0, name), AUTO_CACHE_NONE);
    reap_killed(pid);
    check_recovered(c);
    auto_cache_destroy(c);
}
END_TEST

START_TEST(test_killed_holder_later)
{
    struct auto_cache *c = one_bucket();
    pid_t pid;

    auto_cache_put(c, "other.example", "split", T0 + 100);
    pid = die_locked(c, "victim.example", 0);
    reap_killed(pid);
    check_recovered(c);
    auto_cache_destroy(c);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("auto_cache");
    TCase *tc = tcase_create("table");
    TCase *tf = tcase_create("file");
    TCase *tp = tcase_create("processes");

    tcase_add_test(tc, test_put_get_expiry);
    tcase_add_test(tc, test_replace_and_failed);
    tcase_add_test(tc, test_case_insensitive);
    tcase_add_test(tc, test_eviction);
    tcase_add_test(tc, test_key_and_name_limits);
    tcase_add_test(tc, test_create_limits);
    suite_add_tcase(s, tc);

    tcase_add_unchecked_fixture(tf, tu_tmpdir_setup, tu_tmpdir_teardown);
    tcase_add_test(tf, test_save_load);
    tcase_add_test(tf, test_save_error);
    tcase_add_test(tf, test_load_missing);
    tcase_add_test(tf, test_load_malformed);
    suite_add_tcase(s, tf);

    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, test_concurrent_writers);
    tcase_add_test(tp, test_killed_holder_waiter);
    tcase_add_test(tp, test_killed_holder_later);
    suite_add_tcase(s, tp);
    return tu_run_suite(s);
}
