/* config_file.h - orionrtd's config file: `key = value` lines named like the
 * long flags (`arena-size = 4G`, `huge-pages = yes`), read with libinih. */
#ifndef ORION_CONFIG_FILE_H
#define ORION_CONFIG_FILE_H

#include <getopt.h>
#include <stddef.h>

#define CONFIG_FILE_DEFAULT "/etc/orionrtd/orionrtd.conf"

/* One setting of the file: the flag it stands for and its value (NULL for a
 * flag without a value), and the line it came from. */
struct config_entry {
    char *flag;     /* "--arena-size" */
    char *value;
    int line;
};

struct config_file {
    struct config_entry *e;
    size_t n;
};

/* Read path into *out. Keys must be long options of opts that are neither
 * "config", "help" nor "version"; a flag without a value (no_argument)
 * takes yes/no/true/false/on/off/1/0 ("no" leaves it out). '#' and ';'
 * start comments; sections are refused. Returns 0, or -ENOENT (no file),
 * -EINVAL (a message naming path and line in err), -EIO, -ENOMEM. Free
 * with config_file_free whatever the result. */
int config_file_read(const char *path, const struct option *opts, struct config_file *out,
                     char *err, size_t err_len);

void config_file_free(struct config_file *cf);

#endif
