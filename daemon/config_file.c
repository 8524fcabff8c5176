/* config_file.c - see config_file.h. */
#include "config_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

struct reading {
    FILE *f;
    int line;                   /* lines read so far: the handler's line */
    const struct option *opts;
    struct config_file *out;
    const char *path;
    char *err;
    size_t err_len;
    int rc;
};

/* fgets that counts lines, so that the handler knows where it is. */
static char *read_line(char *str, int num, void *stream)
{
    struct reading *r = stream;
    char *s = fgets(str, num, r->f);
    if (s != NULL && strchr(s, '\n') != NULL)
        r->line++;
    else if (s != NULL && feof(r->f))
        r->line++; /* a last line without a newline */
    return s;
}

static int fail(struct reading *r, int rc, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(r->err, r->err_len, "%s:%d: ", r->path, r->line);
    if (n > 0 && (size_t)n < r->err_len)
        snprintf(r->err + n, r->err_len - (size_t)n, fmt, a, b);
    r->rc = rc;
    return 0; /* stops inih */
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct reading *r = user;
    if (section[0] != '\0')
        return fail(r, -EINVAL, "section [%s]%s: orionrtd's config has none", section, "");
    const struct option *o = r->opts;
    while (o->name != NULL && strcmp(o->name, name) != 0)
        o++;
    if (o->name == NULL || strcmp(name, "config") == 0 || strcmp(name, "help") == 0 ||
        strcmp(name, "version") == 0)
        return fail(r, -EINVAL, "unknown key '%s'%s (keys are the long flags: orionrtd --help)",
                    name, "");
    bool on = true;
    if (o->has_arg == no_argument) {
        if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
            strcasecmp(value, "on") == 0 || strcmp(value, "1") == 0)
            on = true;
        else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
                 strcasecmp(value, "off") == 0 || strcmp(value, "0") == 0)
            on = false;
        else
            return fail(r, -EINVAL, "bad value for %s: '%s' (yes or no)", name, value);
        if (!on)
            return 1;
    } else if (value[0] == '\0') {
        return fail(r, -EINVAL, "%s needs a value%s", name, "");
    }
    struct config_file *cf = r->out;
    struct config_entry *e = realloc(cf->e, (cf->n + 1) * sizeof(*e));
    if (e == NULL)
        return fail(r, -ENOMEM, "out of memory%s%s", "", "");
    cf->e = e;
    e = &cf->e[cf->n];
    size_t len = strlen(name) + 3;
    e->flag = malloc(len);
    e->value = o->has_arg == no_argument ? NULL : strdup(value);
    e->line = r->line;
    if (e->flag == NULL || (o->has_arg != no_argument && e->value == NULL)) {
        free(e->flag);
        free(e->value);
        return fail(r, -ENOMEM, "out of memory%s%s", "", "");
    }
    snprintf(e->flag, len, "--%s", name);
    cf->n++;
    return 1;
}

int config_file_read(const char *path, const struct option *opts, struct config_file *out,
                     char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int rc = -errno;
        snprintf(err, err_len, "cannot read config file %s: %s", path, strerror(-rc));
        return rc;
    }
    struct reading r = {f, 0, opts, out, path, err, err_len, 0};
    int at = ini_parse_stream(read_line, &r, on_value, &r);
    int bad = ferror(f);
    fclose(f);
    if (r.rc < 0)
        return r.rc;
    if (bad) {
        snprintf(err, err_len, "cannot read config file %s", path);
        return -EIO;
    }
    if (at != 0) {
        snprintf(err, err_len, "%s:%d: not a 'key = value' line", path, at);
        return -EINVAL;
    }
    return 0;
}

void config_file_free(struct config_file *cf)
{
    for (size_t i = 0; i < cf->n; i++) {
        free(cf->e[i].flag);
        free(cf->e[i].value);
    }
    free(cf->e);
    cf->e = NULL;
    cf->n = 0;
}
