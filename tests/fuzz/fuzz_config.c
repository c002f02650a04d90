/* fuzz_config: the configuration file parser (config.c, config_shape.c) as
 * warpd -c runs it, through config_build. The file is the input, kept in a
 * memfd and opened by its /proc/self/fd path. Oracles: no crash, leak or
 * exit; a refused file gets one line "path:..." without control bytes (it is
 * logged); the same file gives the same verdict twice; an accepted one is
 * within the documented bounds and answers lookups. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"
#include "fuzz.h"

static int conf_fd = -1;
static char conf_path[64];

static void
check_error(const char *err)
{
    size_t n = strlen(err);

    FUZZ_CHECK(n > 0, "refused without a message");
    FUZZ_CHECK(strncmp(err, conf_path, strlen(conf_path)) == 0, "message without the path: %s",
               err);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
                   "control byte 0x%02x in the message at %zu", (unsigned char)err[i], i);
}

static void
check_config(const struct config *c, const uint8_t *data, size_t size)
{
    uint16_t port = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 443;

    FUZZ_CHECK(c->nlisten >= 1 && c->nlisten <= CFG_MAX_LISTEN, "%d listen addresses", c->nlisten);
    FUZZ_CHECK(c->workers >= 1 && c->workers <= CFG_MAX_WORKERS, "%d workers", c->workers);
    FUZZ_CHECK(c->nacl >= 0 && c->nacl <= CFG_MAX_ACL_RULES, "%d acl rules", c->nacl);
    FUZZ_CHECK(c->nauth_users >= 0 && c->nauth_users <= AUTH_MAX_USERS, "%d users", c->nauth_users);
    FUZZ_CHECK(c->max_header_size >= 1024 && c->max_header_size <= 1024 * 1024,
               "max_header_size %zu", (size_t)c->max_header_size);
    FUZZ_CHECK(c->mode == MODE_FORWARD || c->upstream_host[0] != '\0', "no upstream in %s mode",
               config_mode_name(c->mode));
    FUZZ_CHECK(c->nauth_users == 0 || c->mode == MODE_FORWARD, "users outside forward mode");
    FUZZ_CHECK(!config_port_allowed(c, 0) && !config_tls_split_port(c, 0), "port 0 allowed");
    (void)config_port_allowed(c, port);
    (void)config_tls_split_port(c, port);
    (void)config_shape_for(c, "www.example.com.");
    (void)config_shape_for(c, NULL);
    for (int i = 0; i < c->nlisten; i++)
        (void)config_listen_open(c, i);
    (void)config_auth_exposed(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cli_opts o;
    struct config *c = malloc(sizeof(*c));
    char err[2][1024];
    int r[2];

    FUZZ_CHECK(c != NULL, "out of memory");
    if (conf_fd < 0) {
        conf_fd = memfd_create("warpd.conf", MFD_CLOEXEC);
        FUZZ_CHECK(conf_fd >= 0, "memfd_create failed");
        snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
    }
    FUZZ_CHECK(ftruncate(conf_fd, 0) == 0, "ftruncate failed");
    FUZZ_CHECK(size == 0 || pwrite(conf_fd, data, size, 0) == (ssize_t)size, "pwrite failed");
    memset(&o, 0, sizeof(o));
    o.config_path = conf_path;
    for (int k = 0; k < 2; k++) {
        err[k][0] = '\0';
        r[k] = config_build(c, &o, err[k], sizeof(err[k]));
        if (r[k] == 0)
            check_config(c, data, size);
        else
            check_error(err[k]);
    }
    FUZZ_CHECK(r[0] == r[1] && strcmp(err[0], err[1]) == 0, "two verdicts: '%s' then '%s'", err[0],
               err[1]);
    free(c);
    return 0;
}
