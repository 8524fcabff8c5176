/* orionctl.h - the subcommands of orionctl, one file each. Each takes the
 * arguments after the subcommand's name (argv[0] is the subcommand) and
 * returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef ORION_ORIONCTL_H
#define ORION_ORIONCTL_H

/* orionctl_plan.c: plan a MiniMalloc CSV or a graph JSON offline. */
int orionctl_plan_main(int argc, char **argv);

/* orionctl_daemon.c: talk to a running orionrtd (socket_path NULL = default). */
int orionctl_stats_main(const char *socket_path, int argc, char **argv);
int orionctl_register_main(const char *socket_path, int argc, char **argv);

/* orionctl_list.c: what a running orionrtd holds, and for whom. */
int orionctl_list_main(const char *socket_path, int argc, char **argv);

#endif
