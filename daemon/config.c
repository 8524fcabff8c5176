/* config.c - see config.h. */
#include "config.h"

#include "config_file.h"
#include "log.h"
#include "planner.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ORION_VERSION
#define ORION_VERSION "0"
#endif

#define DEFAULT_ARENA_BYTES ((uint64_t)256 << 20)
#define DEFAULT_MIN_BLOCK ((uint64_t)4 << 10)
#define DEFAULT_MAX_FRAME (16u << 20)
#define DEFAULT_MAX_TENSORS (1u << 20)
#define MAX_FRAME_LIMIT (1u << 30)
#define DEFAULT_MAX_CLIENTS 1024u
#define MAX_CLIENTS_LIMIT (1u << 20)
#define DEFAULT_HELLO_TIMEOUT_MS 10000u
#define HELLO_TIMEOUT_LIMIT_S 3600.0
#define DEFAULT_IO_TIMEOUT_MS 10000u
#define DEFAULT_MAX_PENDING ((uint64_t)256 << 20)
#define DEFAULT_MAX_GRAPHS 4096u
#define DEFAULT_CLIENT_MEMORY ((uint64_t)16 << 20)
#define DEFAULT_MAX_UID_CLIENTS 512u

static void usage(FILE *f)
{
    fprintf(f,
        "usage: orionrtd [options]\n"
        "  --socket PATH        listening socket (default: $ORION_SOCKET, else\n"
        "                       /run/orionrt/orionrtd.sock for root, else\n"
        "                       $XDG_RUNTIME_DIR/orionrtd.sock, else /tmp/orionrtd-<uid>.sock)\n"
        "  --arena-size SIZE    shared arena bytes, K/M/G suffixes (default 256M),\n"
        "                       reserved in full at start-up\n"
        "  --huge-pages         back the arena with huge pages (hugetlbfs if enough are\n"
        "                       reserved, else shmem transparent huge pages)\n"
        "  --socket-mode MODE   octal mode of the socket (default 0660)\n"
        "  --socket-group GROUP group (name or number) of the socket file (default: the\n"
        "                       daemon's own); ignored under socket activation\n"
        "  --max-frame SIZE     largest request frame (default 16M)\n"
        "  --client-limit SIZE  bytes one connection may allocate, 0 = no limit (default 0)\n"
        "  --max-tensors N      tensors per graph (default 1048576)\n"
        "  --policy NAME        default planning policy (default: %s)\n"
        "  --min-block SIZE     smallest buddy block, a power of two >= 16 (default 4K)\n"
        "  --max-clients N      connections served at once; more are refused (default 1024)\n"
        "  --hello-timeout SECONDS\n"
        "                       a connection without hello by then is closed (default 10)\n"
        "  --io-timeout SECONDS a request frame once begun must arrive whole by then,\n"
        "                       else the connection is closed (default 10)\n"
        "  --max-pending SIZE   bytes of partial request frames buffered for all\n"
        "                       connections together (default 256M)\n"
        "  --max-graphs N       graphs one connection may hold (default 4096)\n"
        "  --client-memory SIZE daemon memory (names, records) one connection may make\n"
        "                       the daemon hold (default 16M)\n"
        "  --max-uid-clients N  connections one user may have at once (default 512)\n"
        "  --uid-limit SIZE     arena bytes one user's connections may hold together,\n"
        "                       0 = no limit (default 0)\n"
        "  --log-level LEVEL    error, warn, info (default) or debug (a line per buffer event)\n"
        "  --config FILE        read `flag = value` lines first (default: %s\n"
        "                       when it exists); flags given here override it\n"
        "  --shm-name NAME, --arena-mode MODE\n"
        "                       deprecated, ignored: the arena has no name in /dev/shm\n"
        "  --help               this text\n"
        "  --version            the daemon's version\n",
        planner_default_policy(), CONFIG_FILE_DEFAULT);
}

static void list_policies(FILE *f)
{
    char list[256];

    planner_policies_format(list, sizeof(list), " ");
    fprintf(f, "policies: %s\n", list);
}

int config_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return -EINVAL;
    }
    if (*end == 'i' && shift != 0 && (end[1] == 'B' || end[1] == 'b'))
        end += 2;
    else if ((*end == 'B' || *end == 'b') && shift != 0)
        end++;
    if (*end != '\0')
        return -EINVAL;
    if (shift != 0 && v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/* Seconds, with a fraction ("10", "0.3"), from 0.001 to an hour, into ms. */
static int parse_seconds_ms(const char *s, uint64_t *out_ms)
{
    if (s == NULL || *s == '\0' || s[strspn(s, "0123456789.")] != '\0')
        return -EINVAL; /* no sign, exponent, hex, inf or nan */
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= 0.001 && v <= HELLO_TIMEOUT_LIMIT_S))
        return -EINVAL;
    *out_ms = (uint64_t)(v * 1000.0 + 0.5);
    return 0;
}

static int parse_mode(const char *s, mode_t *out)
{
    if (s == NULL || *s < '0' || *s > '7')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 8);
    if (errno != 0 || *end != '\0' || v > 07777)
        return -EINVAL;
    *out = (mode_t)v;
    return 0;
}

char *config_default_socket(bool *from_env)
{
    char buf[4096];
    const char *env = getenv("ORION_SOCKET");
    *from_env = false;
    if (env != NULL && *env != '\0') {
        *from_env = true;
        return strdup(env);
    }
    if (geteuid() == 0)
        return strdup("/run/orionrt/orionrtd.sock");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg != NULL && *xdg != '\0') {
        snprintf(buf, sizeof(buf), "%s/orionrtd.sock", xdg);
        return strdup(buf);
    }
    snprintf(buf, sizeof(buf), "/tmp/orionrtd-%u.sock", (unsigned)geteuid());
    return strdup(buf);
}

/* Where the value being parsed came from: "" (the command line) or
 * "FILE:LINE: ", for messages. */
static const char *where = "";

static int bad(const char *flag, const char *val, const char *why)
{
    fprintf(stderr, "orionrtd: %sbad value for %s: '%s' (%s)\n", where, flag, val, why);
    if (where[0] == '\0')
        usage(stderr);
    return -EINVAL;
}

enum {
    OPT_SOCKET = 256, OPT_ARENA_SIZE, OPT_SHM_NAME, OPT_SOCKET_MODE, OPT_ARENA_MODE,
    OPT_MAX_FRAME, OPT_CLIENT_LIMIT, OPT_MAX_TENSORS, OPT_POLICY, OPT_MIN_BLOCK,
    OPT_MAX_CLIENTS, OPT_HELLO_TIMEOUT, OPT_HUGE_PAGES, OPT_HELP, OPT_VERSION,
    OPT_IO_TIMEOUT, OPT_MAX_PENDING, OPT_MAX_GRAPHS, OPT_CLIENT_MEMORY, OPT_MAX_UID_CLIENTS,
    OPT_UID_LIMIT,
    OPT_LOG_LEVEL, OPT_CONFIG, OPT_SOCKET_GROUP,
};

static const struct option opts[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"arena-size", required_argument, NULL, OPT_ARENA_SIZE},
        {"shm-name", required_argument, NULL, OPT_SHM_NAME},
        {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
        {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
        {"arena-mode", required_argument, NULL, OPT_ARENA_MODE},
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
        {"client-limit", required_argument, NULL, OPT_CLIENT_LIMIT},
        {"max-tensors", required_argument, NULL, OPT_MAX_TENSORS},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"min-block", required_argument, NULL, OPT_MIN_BLOCK},
        {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
        {"hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT},
        {"huge-pages", no_argument, NULL, OPT_HUGE_PAGES},
        {"io-timeout", required_argument, NULL, OPT_IO_TIMEOUT},
        {"max-pending", required_argument, NULL, OPT_MAX_PENDING},
        {"max-graphs", required_argument, NULL, OPT_MAX_GRAPHS},
        {"client-memory", required_argument, NULL, OPT_CLIENT_MEMORY},
        {"max-uid-clients", required_argument, NULL, OPT_MAX_UID_CLIENTS},
        {"uid-limit", required_argument, NULL, OPT_UID_LIMIT},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
};

static int parse_loop(int argc, char **argv, struct config *cfg);

/* The --config FILE of argv (the last one given), or NULL. */
static const char *config_flag(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

/* The file's settings, each parsed as if given as a flag, before argv's. */
static int apply_file(const char *path, bool must_exist, struct config *cfg)
{
    struct config_file cf;
    char err[1024];
    int rc = config_file_read(path, opts, &cf, err, sizeof(err));
    if (rc == -ENOENT && !must_exist) {
        config_file_free(&cf);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "orionrtd: %s\n", err);
        config_file_free(&cf);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    char at[1100];
    for (size_t i = 0; i < cf.n && rc == 0; i++) {
        char prog[] = "orionrtd";
        char *args[] = {prog, cf.e[i].flag, cf.e[i].value, NULL};
        snprintf(at, sizeof(at), "%s:%d: ", path, cf.e[i].line);
        where = at;
        rc = parse_loop(cf.e[i].value != NULL ? 3 : 2, args, cfg);
        where = "";
    }
    config_file_free(&cf);
    cfg->config_path = path;
    return rc;
}

int config_parse(int argc, char **argv, struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->arena_bytes = DEFAULT_ARENA_BYTES;
    cfg->socket_mode = 0660;
    cfg->max_frame = DEFAULT_MAX_FRAME;
    cfg->max_tensors = DEFAULT_MAX_TENSORS;
    cfg->policy = planner_default_policy();
    cfg->min_block = DEFAULT_MIN_BLOCK;
    cfg->max_clients = DEFAULT_MAX_CLIENTS;
    cfg->hello_timeout_ms = DEFAULT_HELLO_TIMEOUT_MS;
    cfg->io_timeout_ms = DEFAULT_IO_TIMEOUT_MS;
    cfg->max_pending = DEFAULT_MAX_PENDING;
    cfg->max_graphs = DEFAULT_MAX_GRAPHS;
    cfg->client_memory = DEFAULT_CLIENT_MEMORY;
    cfg->max_uid_clients = DEFAULT_MAX_UID_CLIENTS;
    cfg->log_level = LOG_LVL_INFO;

    /* --help and --version need no file; a bad file must not hide them. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "--version") == 0)
            return parse_loop(argc, argv, cfg);
    const char *file = config_flag(argc, argv);
    int rc = apply_file(file != NULL ? file : CONFIG_FILE_DEFAULT, file != NULL, cfg);
    if (rc != 0)
        return rc;
    return parse_loop(argc, argv, cfg);
}

/* Parse argv's flags over *cfg; the final checks and defaults after the
 * command line. */
static int parse_loop(int argc, char **argv, struct config *cfg)
{
    uint64_t v;
    int c;
    opterr = 0;
    optind = 0; /* glibc: full re-initialisation, for repeated parses */
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_SOCKET:
            if (*optarg == '\0')
                return bad("--socket", optarg, "empty path");
            free(cfg->socket_path);
            if ((cfg->socket_path = strdup(optarg)) == NULL)
                return -ENOMEM;
            break;
        case OPT_ARENA_SIZE:
            if (config_parse_size(optarg, &v) < 0 || v == 0)
                return bad("--arena-size", optarg, "a size > 0 such as 64M");
            cfg->arena_bytes = v;
            break;
        case OPT_SHM_NAME:
        case OPT_ARENA_MODE:
            /* Kept so that units and scripts written for the named shm
             * object still start: the arena is a sealed memfd now. */
            fprintf(stderr, "orionrtd: warning: %s is deprecated and ignored: the arena is "
                    "an anonymous sealed memfd, with no name in /dev/shm and no mode\n",
                    c == OPT_SHM_NAME ? "--shm-name" : "--arena-mode");
            break;
        case OPT_SOCKET_MODE:
            if (parse_mode(optarg, &cfg->socket_mode) < 0)
                return bad("--socket-mode", optarg, "an octal mode such as 0660");
            break;
        case OPT_SOCKET_GROUP:
            if (*optarg == '\0')
                return bad("--socket-group", optarg, "a group name or number");
            free(cfg->socket_group);
            if ((cfg->socket_group = strdup(optarg)) == NULL)
                return -ENOMEM;
            break;
        case OPT_MAX_FRAME:
            if (config_parse_size(optarg, &v) < 0 || v < 64 || v > MAX_FRAME_LIMIT)
                return bad("--max-frame", optarg, "a size from 64 to 1G");
            cfg->max_frame = (uint32_t)v;
            break;
        case OPT_CLIENT_LIMIT:
            if (config_parse_size(optarg, &v) < 0)
                return bad("--client-limit", optarg, "a size, 0 = no limit");
            cfg->client_limit = v;
            break;
        case OPT_MAX_TENSORS:
            if (config_parse_size(optarg, &v) < 0 || v == 0 || v > UINT32_MAX)
                return bad("--max-tensors", optarg, "a count from 1 to 4294967295");
            cfg->max_tensors = (uint32_t)v;
            break;
        case OPT_POLICY: {
            const struct planner_policy *found = planner_find(optarg);
            if (found == NULL) {
                fprintf(stderr, "orionrtd: %sunknown policy '%s'; ", where, optarg);
                list_policies(stderr);
                return -EINVAL;
            }
            cfg->policy = found->name;
            break;
        }
        case OPT_MIN_BLOCK:
            if (config_parse_size(optarg, &v) < 0 || v < 16 || (v & (v - 1)) != 0 ||
                v > ((uint64_t)1 << 40))
                return bad("--min-block", optarg, "a power of two >= 16");
            cfg->min_block = v;
            break;
        case OPT_MAX_CLIENTS:
            if (config_parse_size(optarg, &v) < 0 || v == 0 || v > MAX_CLIENTS_LIMIT)
                return bad("--max-clients", optarg, "a count from 1 to 1048576");
            cfg->max_clients = (uint32_t)v;
            break;
        case OPT_HELLO_TIMEOUT:
            if (parse_seconds_ms(optarg, &cfg->hello_timeout_ms) < 0)
                return bad("--hello-timeout", optarg, "seconds from 0.001 to 3600, such as 10 or 0.5");
            break;
        case OPT_HUGE_PAGES:
            cfg->huge_pages = true;
            break;
        case OPT_IO_TIMEOUT:
            if (parse_seconds_ms(optarg, &cfg->io_timeout_ms) < 0)
                return bad("--io-timeout", optarg, "seconds from 0.001 to 3600, such as 10 or 0.5");
            break;
        case OPT_MAX_PENDING:
            if (config_parse_size(optarg, &v) < 0 || v == 0)
                return bad("--max-pending", optarg, "a size > 0 such as 256M");
            cfg->max_pending = v;
            break;
        case OPT_MAX_GRAPHS:
            if (config_parse_size(optarg, &v) < 0 || v == 0 || v > UINT32_MAX)
                return bad("--max-graphs", optarg, "a count from 1 to 4294967295");
            cfg->max_graphs = (uint32_t)v;
            break;
        case OPT_CLIENT_MEMORY:
            if (config_parse_size(optarg, &v) < 0 || v < 4096)
                return bad("--client-memory", optarg, "a size of at least 4K");
            cfg->client_memory = v;
            break;
        case OPT_MAX_UID_CLIENTS:
            if (config_parse_size(optarg, &v) < 0 || v == 0 || v > MAX_CLIENTS_LIMIT)
                return bad("--max-uid-clients", optarg, "a count from 1 to 1048576");
            cfg->max_uid_clients = (uint32_t)v;
            break;
        case OPT_UID_LIMIT:
            if (config_parse_size(optarg, &v) < 0)
                return bad("--uid-limit", optarg, "a size, 0 = no limit");
            cfg->uid_limit = v;
            break;
        case OPT_LOG_LEVEL: {
            enum log_level lvl;
            if (log_level_parse(optarg, &lvl) < 0)
                return bad("--log-level", optarg, "error, warn, info or debug");
            cfg->log_level = (int)lvl;
            break;
        }
        case OPT_CONFIG:
            break; /* read before the other flags */
        case OPT_HELP:
            usage(stdout);
            list_policies(stdout);
            return 1;
        case OPT_VERSION:
            printf("orionrtd %s\n", ORION_VERSION);
            return 1;
        case ':':
            fprintf(stderr, "orionrtd: %s needs a value\n", argv[optind - 1]);
            usage(stderr);
            return -EINVAL;
        default:
            fprintf(stderr, "orionrtd: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "orionrtd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -EINVAL;
    }
    if (where[0] != '\0')
        return 0; /* one setting of the file: the checks come after the flags */
    if (cfg->arena_bytes < cfg->min_block) {
        fprintf(stderr, "orionrtd: --arena-size %llu is smaller than --min-block %llu\n",
                (unsigned long long)cfg->arena_bytes, (unsigned long long)cfg->min_block);
        return -EINVAL;
    }
    if (cfg->socket_path == NULL) {
        bool from_env;
        if ((cfg->socket_path = config_default_socket(&from_env)) == NULL)
            return -ENOMEM;
        cfg->socket_is_default = !from_env;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    free(cfg->socket_path);
    cfg->socket_path = NULL;
    free(cfg->socket_group);
    cfg->socket_group = NULL;
}
