/* problem_csv.c - MiniMalloc CSV reader and writer; the minimalloc-csv row of the reader table. */
#include "problem_csv.h"
#include "errmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { COL_ID, COL_LOWER, COL_UPPER, COL_SIZE, COL_ALIGN, COL_OFFSET, N_KNOWN };
static const char *const known_names[N_KNOWN] = {"id", "lower", "upper", "size", "alignment",
                                                 "offset"};

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Split line (NUL-terminated, modified in place) at commas into at most max
 * fields. Returns the number of fields found (may exceed max: then only max
 * are stored). */
static size_t split(char *line, char **fields, size_t max)
{
    size_t k = 0;
    char *s = line;
    for (;;) {
        char *c = strchr(s, ',');
        if (c)
            *c = '\0';
        if (k < max)
            fields[k] = trim(s);
        k++;
        if (!c)
            return k;
        s = c + 1;
    }
}

/* Parse a non-negative decimal integer. 0, -EINVAL (not a number), -ERANGE. */
static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

void problem_free(struct problem *p)
{
    if (!p)
        return;
    free(p->bufs);
    free(p->ids);
    free(p->col_names);
    free(p->cells);
    free(p->storage);
    memset(p, 0, sizeof(*p));
}

int problem_csv_parse(const char *text, size_t len, struct problem *p, char *err,
                      size_t err_len)
{
    size_t n_lines = 1, lineno = 0, row = 0, c;
    char *s, *line, *next;
    int col[N_KNOWN];
    int rc = -EINVAL;

    memset(p, 0, sizeof(*p));
    if (len == SIZE_MAX) {
        errmsg_set(err, err_len, "input too large");
        return -EINVAL;
    }
    p->storage = malloc(len + 1);
    if (!p->storage)
        goto err_nomem;
    memcpy(p->storage, text, len);
    p->storage[len] = '\0';
    if (memchr(p->storage, '\0', len)) {
        errmsg_set(err, err_len, "input contains a NUL byte");
        goto err_free;
    }
    for (s = p->storage; (s = strchr(s, '\n')); s++)
        n_lines++;

    /* The header: the first non-blank line. */
    for (line = p->storage; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (!is_blank(line))
            break;
    }
    if (!line) {
        errmsg_set(err, err_len, "line %zu: missing header line (id,lower,upper,size)",
                lineno ? lineno : 1);
        goto err_free;
    }
    p->n_cols = 1;
    for (s = line; (s = strchr(s, ',')); s++)
        p->n_cols++;
    p->col_names = calloc(p->n_cols, sizeof(*p->col_names));
    if (!p->col_names)
        goto err_nomem;
    split(line, p->col_names, p->n_cols);
    for (c = 0; c < N_KNOWN; c++)
        col[c] = -1;
    for (c = 0; c < p->n_cols; c++) {
        int k;
        for (k = 0; k < N_KNOWN; k++)
            if (strcmp(p->col_names[c], known_names[k]) == 0)
                break;
        if (k == N_KNOWN)
            continue; /* an extra column: kept, not interpreted */
        if (col[k] >= 0) {
            errmsg_set(err, err_len, "line %zu: duplicate column '%s'", lineno, known_names[k]);
            goto err_free;
        }
        col[k] = (int)c;
    }
    for (c = 0; c <= COL_SIZE; c++) {
        if (col[c] < 0) {
            errmsg_set(err, err_len, "line %zu: missing column '%s'", lineno, known_names[c]);
            goto err_free;
        }
    }
    p->has_alignment = col[COL_ALIGN] >= 0;
    p->has_offset = col[COL_OFFSET] >= 0;

    p->bufs = calloc(n_lines, sizeof(*p->bufs));
    p->ids = calloc(n_lines, sizeof(*p->ids));
    if (p->n_cols > SIZE_MAX / sizeof(char *) / n_lines)
        goto err_nomem;
    p->cells = calloc(n_lines * p->n_cols, sizeof(*p->cells));
    if (!p->bufs || !p->ids || !p->cells)
        goto err_nomem;

    for (line = next; line; line = next) {
        char **f;
        size_t got;
        struct plan_buffer *b = &p->bufs[row];
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (is_blank(line))
            continue;
        f = &p->cells[row * p->n_cols];
        got = split(line, f, p->n_cols);
        if (got != p->n_cols) {
            errmsg_set(err, err_len, "line %zu: expected %zu columns, got %zu", lineno, p->n_cols,
                    got);
            goto err_free;
        }
        for (c = COL_LOWER; c < N_KNOWN; c++) {
            uint64_t v = 0;
            int prc;
            if (col[c] < 0)
                continue;
            prc = parse_u64(f[col[c]], &v);
            if (prc == -ERANGE) {
                errmsg_set(err, err_len, "line %zu: column '%s': number too large: '%s'", lineno,
                        known_names[c], f[col[c]]);
                goto err_free;
            }
            if (prc < 0) {
                errmsg_set(err, err_len, "line %zu: column '%s': not a number: '%s'", lineno,
                        known_names[c], f[col[c]]);
                goto err_free;
            }
            switch (c) {
            case COL_LOWER: b->lower = v; break;
            case COL_UPPER: b->upper = v; break;
            case COL_SIZE: b->bytes = v; break;
            case COL_ALIGN: b->align = v; break;
            default: b->off = v; break;
            }
        }
        if (f[col[COL_ID]][0] == '\0') {
            errmsg_set(err, err_len, "line %zu: column 'id': empty", lineno);
            goto err_free;
        }
        if (b->bytes == 0) {
            errmsg_set(err, err_len, "line %zu: column 'size': must be > 0", lineno);
            goto err_free;
        }
        if (b->upper <= b->lower) {
            errmsg_set(err, err_len,
                    "line %zu: column 'upper': %" PRIu64 " is not above lower %" PRIu64
                    " (upper is exclusive)",
                    lineno, b->upper, b->lower);
            goto err_free;
        }
        if (b->align & (b->align - 1)) {
            errmsg_set(err, err_len, "line %zu: column 'alignment': %" PRIu64
                    " is not a power of two", lineno, b->align);
            goto err_free;
        }
        p->ids[row] = f[col[COL_ID]];
        row++;
    }
    p->n = row;
    return 0;

err_nomem:
    rc = -ENOMEM;
    errmsg_set(err, err_len, "out of memory");
err_free:
    problem_free(p);
    return rc;
}

int problem_csv_read(const char *path, struct problem *p, char *err, size_t err_len)
{
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;
    bool is_stdin = strcmp(path, "-") == 0;

    memset(p, 0, sizeof(*p));
    f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        rc = -errno;
        errmsg_set(err, err_len, "%s: %s", path, strerror(errno));
        return rc;
    }
    for (;;) {
        size_t got;
        if (cap - len < 65536) {
            char *nb;
            size_t ncap = cap ? cap * 2 : 65536;
            nb = realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                errmsg_set(err, err_len, "%s: out of memory", path);
                goto err_close;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = -EIO;
        errmsg_set(err, err_len, "%s: read error", path);
        goto err_close;
    }
    if (!is_stdin)
        fclose(f);
    rc = problem_csv_parse(buf, len, p, err, err_len);
    free(buf);
    if (rc < 0 && err && err_len) {
        /* Prefix the path: "file.csv: line 7: ..." */
        char tmp[512];
        errmsg_set(tmp, sizeof(tmp), "%s", err);
        errmsg_set(err, err_len, "%s: %s", path, tmp);
    }
    return rc;

err_close:
    if (!is_stdin)
        fclose(f);
    free(buf);
    return rc;
}

int problem_csv_write(FILE *f, const struct problem *p)
{
    size_t i, c, off_col = SIZE_MAX;

    for (c = 0; c < p->n_cols; c++) {
        if (strcmp(p->col_names[c], "offset") == 0)
            off_col = c;
        fprintf(f, "%s%s", c ? "," : "", p->col_names[c]);
    }
    if (off_col == SIZE_MAX)
        fprintf(f, "%soffset", p->n_cols ? "," : "");
    fputc('\n', f);
    for (i = 0; i < p->n; i++) {
        char *const *row = &p->cells[i * p->n_cols];
        for (c = 0; c < p->n_cols; c++) {
            if (c == off_col)
                fprintf(f, "%s%" PRIu64, c ? "," : "", p->bufs[i].off);
            else
                fprintf(f, "%s%s", c ? "," : "", row[c]);
        }
        if (off_col == SIZE_MAX)
            fprintf(f, ",%" PRIu64, p->bufs[i].off);
        fputc('\n', f);
    }
    return ferror(f) ? -EIO : 0;
}

/* ---- the reader row ------------------------------------------------------ */

/* The last row: whatever no other format took is read as CSV, whose parser
 * then says what is wrong with it. */
static bool csv_sniff(const char *path, const uint8_t *head, size_t n)
{
    (void)path;
    (void)head;
    (void)n;
    return true;
}

static void csv_release(void *owner)
{
    problem_free(owner);
    free(owner);
}

static int csv_load(const char *src, const uint8_t *data, size_t len, struct plan_input *out,
                    char *err, size_t err_len)
{
    struct problem *p;
    char why[1024];
    int rc;

    memset(out, 0, sizeof(*out));
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        errmsg_set(err, err_len, "%s: out of memory", src);
        return -ENOMEM;
    }
    rc = problem_csv_parse((const char *)data, len, p, why, sizeof(why));
    if (rc < 0) {
        errmsg_set(err, err_len, "%s: %s", src, why);
        free(p);
        return rc;
    }
    out->problem = p;
    out->owner = p;
    out->release = csv_release;
    return 0;
}

const struct graph_reader problem_csv_reader = {
    .name = "minimalloc-csv",
    .sniff = csv_sniff,
    .load = csv_load,
};
