/* orionctl_out.c - see orionctl_out.h. */
#include "orionctl_out.h"

#include <errno.h>

int out_u64(int rc, json_t *obj, const char *key, uint64_t v)
{
    if (rc != 0)
        return rc;
    if (v > (uint64_t)INT64_MAX)
        return -ERANGE;
    return json_object_set_new(obj, key, json_integer((json_int_t)v)) == 0 ? 0 : -ENOMEM;
}

int out_str(int rc, json_t *obj, const char *key, const char *s)
{
    if (rc != 0)
        return rc;
    return json_object_set_new(obj, key, json_string(s != NULL ? s : "")) == 0 ? 0 : -ENOMEM;
}

int out_bool(int rc, json_t *obj, const char *key, int v)
{
    if (rc != 0)
        return rc;
    return json_object_set_new(obj, key, json_boolean(v)) == 0 ? 0 : -ENOMEM;
}

int out_new(int rc, json_t *obj, const char *key, json_t *val)
{
    if (rc != 0) {
        json_decref(val);
        return rc;
    }
    if (val == NULL)
        return -ENOMEM;
    return json_object_set_new(obj, key, val) == 0 ? 0 : -ENOMEM;
}

int out_json(json_t *obj, FILE *f)
{
    int rc = json_dumpf(obj, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (rc != 0)
        return -EIO;
    fputc('\n', f);
    return 0;
}
