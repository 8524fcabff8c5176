/* orionctl.c - the orionctl tool: global options and dispatch to the
 * subcommands (orionctl_plan.c, orionctl_daemon.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "orionctl.h"

#ifndef ORION_VERSION
#define ORION_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: orionctl [--socket PATH] COMMAND [ARGS...]\n"
            "\n"
            "commands:\n"
            "  plan      plan a MiniMalloc CSV or a graph JSON offline, show the plan\n"
            "  stats     show a running orionrtd's arena and counts\n"
            "  register  register a graph JSON with a running orionrtd, show its plan\n"
            "  list      list a running orionrtd's graphs and named buffers, and who holds them\n"
            "\n"
            "options:\n"
            "  --socket PATH  the daemon's socket (default: $ORION_SOCKET, else\n"
            "                 /run/orionrt/orionrtd.sock for root, else\n"
            "                 $XDG_RUNTIME_DIR/orionrtd.sock, else /tmp/orionrtd-<uid>.sock)\n"
            "  --help         show this help\n"
            "  --version      show the version\n"
            "\n"
            "'orionctl COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *socket_path = NULL;
    const char *cmd;
    int c;

    opterr = 0;
    /* "+": stop at the command; its options are its own. */
    while ((c = getopt_long(argc, argv, "+s:hV", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            socket_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("orionctl %s\n", ORION_VERSION);
            return 0;
        default:
            if (optopt != 0 && optopt != '?' && optopt < 256 && strchr("s", optopt))
                fprintf(stderr, "orionctl: option requires an argument: %s\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "orionctl: unknown option: %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "orionctl: no command given\n");
        usage(stderr);
        return 2;
    }
    cmd = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0; /* glibc: 0 re-initialises getopt for the subcommand */

    if (strcmp(cmd, "plan") == 0)
        return orionctl_plan_main(argc, argv);
    if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "register") == 0 ||
        strcmp(cmd, "list") == 0) {
#ifdef ORION_HAVE_CLIENT
        if (strcmp(cmd, "stats") == 0)
            return orionctl_stats_main(socket_path, argc, argv);
        if (strcmp(cmd, "list") == 0)
            return orionctl_list_main(socket_path, argc, argv);
        return orionctl_register_main(socket_path, argc, argv);
#else
        (void)socket_path;
        fprintf(stderr,
                "orionctl: '%s' talks to orionrtd and needs liborion-client, which this "
                "build does not include\n",
                cmd);
        return 1;
#endif
    }
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "orionctl: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
