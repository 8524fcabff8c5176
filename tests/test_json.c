/* test_json.c - graph JSON: the format, its defaults, every error with the
 * place it names, files, and writing back. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph_json.h"

static char err[1024];

static struct graph_json *parse_ok(const char *text)
{
    struct graph_json *gj = NULL;
    int rc = graph_json_parse(text, strlen(text), "t.json", &gj, err, sizeof(err));

    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_ptr_nonnull(gj);
    return gj;
}

/* Parsing must fail with -EINVAL and a message holding "t.json: " + where
 * (or where itself, when it already starts with the file name). */
static void parse_fails(const char *text, const char *where)
{
    struct graph_json *gj = (struct graph_json *)&gj;
    char want[256];
    int rc = graph_json_parse(text, strlen(text), "t.json", &gj, err, sizeof(err));

    ck_assert_msg(rc == -EINVAL, "rc %d for %s (%s)", rc, text, err);
    ck_assert_ptr_null(gj);
    snprintf(want, sizeof(want), "%s%s", strncmp(where, "t.json", 6) == 0 ? "" : "t.json: ",
             where);
    ck_assert_msg(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);
}

START_TEST(test_json_parses_every_field)
{
    struct graph_json *gj = parse_ok(
        "{\"name\": \"person_detect\",\n"
        " \"tensors\": [\n"
        "  {\"id\": 88, \"bytes\": 9216, \"kind\": \"input\", \"name\": \"input\"},\n"
        "  {\"id\": 0,  \"bytes\": 72, \"kind\": \"persistent\", \"name\": \"w\"},\n"
        "  {\"id\": 34, \"bytes\": 36864},\n"
        "  {\"id\": 90, \"bytes\": 4096, \"kind\": \"export\", \"share\": \"stage1/out\","
        "   \"align\": 256},\n"
        "  {\"id\": 91, \"bytes\": 16, \"kind\": \"import\", \"share\": \"up\"},\n"
        "  {\"id\": 9007199254740993, \"bytes\": 17592186044416, \"kind\": \"output\"},\n"
        "  {\"id\": 7, \"bytes\": 1, \"kind\": \"intermediate\"}\n"
        " ],\n"
        " \"ops\": [\n"
        "  {\"name\": \"DEPTHWISE_CONV_2D\", \"inputs\": [88, 0], \"outputs\": [34]},\n"
        "  {\"id\": 5, \"inputs\": [34, 91], \"outputs\": [90, 9007199254740993]},\n"
        "  {\"outputs\": [7]}\n"
        " ]}");
    const struct graph *g = graph_json_graph(gj);

    ck_assert_str_eq(g->name, "person_detect");
    ck_assert_uint_eq(g->n_tensors, 7);
    ck_assert_uint_eq(g->n_ops, 3);

    ck_assert_uint_eq(g->tensors[0].id, 88);
    ck_assert_uint_eq(g->tensors[0].bytes, 9216);
    ck_assert_int_eq(g->tensors[0].kind, TENSOR_INPUT);
    ck_assert_str_eq(g->tensors[0].name, "input");
    ck_assert_uint_eq(g->tensors[0].align, 0);
    ck_assert_ptr_null(g->tensors[0].share);
    ck_assert_int_eq(g->tensors[1].kind, TENSOR_PERSISTENT);
    ck_assert_int_eq(g->tensors[2].kind, TENSOR_INTERMEDIATE);
    ck_assert_ptr_null(g->tensors[2].name);
    ck_assert_int_eq(g->tensors[3].kind, TENSOR_EXPORT);
    ck_assert_str_eq(g->tensors[3].share, "stage1/out");
    ck_assert_uint_eq(g->tensors[3].align, 256);
    ck_assert_int_eq(g->tensors[4].kind, TENSOR_IMPORT);
    ck_assert_str_eq(g->tensors[4].share, "up");
    /* 2^53 + 1: not representable as a double, so it proves ints stay exact. */
    ck_assert_uint_eq(g->tensors[5].id, ((uint64_t)1 << 53) + 1);
    ck_assert_uint_eq(g->tensors[5].bytes, (uint64_t)1 << 44);
    ck_assert_int_eq(g->tensors[5].kind, TENSOR_OUTPUT);
    ck_assert_int_eq(g->tensors[6].kind, TENSOR_INTERMEDIATE);

    ck_assert_str_eq(g->ops[0].name, "DEPTHWISE_CONV_2D");
    ck_assert_uint_eq(g->ops[0].n_inputs, 2);
    ck_assert_uint_eq(g->ops[0].inputs[0], 88);
    ck_assert_uint_eq(g->ops[0].inputs[1], 0);
    ck_assert_uint_eq(g->ops[0].n_outputs, 1);
    ck_assert_uint_eq(g->ops[0].outputs[0], 34);
    ck_assert_ptr_null(g->ops[1].name);
    ck_assert_uint_eq(g->ops[1].n_outputs, 2);
    ck_assert_uint_eq(g->ops[1].outputs[1], ((uint64_t)1 << 53) + 1);
    ck_assert_uint_eq(g->ops[2].n_inputs, 0);
    ck_assert_uint_eq(g->ops[2].n_outputs, 1);
    ck_assert_uint_eq(g->ops[2].outputs[0], 7);
    graph_json_free(gj);
}
END_TEST

START_TEST(test_json_ignores_unknown_keys_and_accepts_nulls)
{
    struct graph_json *gj = parse_ok(
        "{\"version\": 3, \"name\": null, \"extra\": {\"x\": [1, 2]},"
        " \"tensors\": [{\"id\": 1, \"bytes\": 2, \"dtype\": \"int8\", \"shape\": [2],"
        "                \"name\": null, \"share\": null}],"
        " \"ops\": [{\"name\": \"W\", \"outputs\": [1], \"inputs\": null, \"attrs\": {}}]}");
    const struct graph *g = graph_json_graph(gj);

    ck_assert_ptr_null(g->name);
    ck_assert_uint_eq(g->n_tensors, 1);
    ck_assert_ptr_null(g->tensors[0].name);
    ck_assert_ptr_null(g->tensors[0].share);
    ck_assert_uint_eq(g->ops[0].n_inputs, 0);
    ck_assert_uint_eq(g->ops[0].n_outputs, 1);
    graph_json_free(gj);
}
END_TEST

START_TEST(test_json_empty_arrays_parse_for_liveness_to_judge)
{
    struct graph_json *gj = parse_ok("{\"tensors\": [], \"ops\": []}");

    ck_assert_uint_eq(graph_json_graph(gj)->n_tensors, 0);
    ck_assert_uint_eq(graph_json_graph(gj)->n_ops, 0);
    graph_json_free(gj);
}
END_TEST

START_TEST(test_json_syntax_error_names_line_and_column)
{
    parse_fails("{\"tensors\": [\n  {\"id\": 1,, \"bytes\": 2}], \"ops\": []}", "t.json:2:");
    parse_fails("", "t.json:1:");
    parse_fails("{\"tensors\": [], \"ops\": []} trailing", "t.json:1:");
}
END_TEST

START_TEST(test_json_top_level_errors_name_the_member)
{
    parse_fails("[1, 2]", "expected a JSON object");
    parse_fails("{\"ops\": []}", "tensors: missing");
    parse_fails("{\"tensors\": {}, \"ops\": []}", "tensors: expected an array");
    parse_fails("{\"tensors\": []}", "ops: missing");
    parse_fails("{\"tensors\": [], \"ops\": 3}", "ops: expected an array");
    parse_fails("{\"name\": 5, \"tensors\": [], \"ops\": []}", "name: expected a string");
    parse_fails("{\"tensors\": [], \"tensors\": [], \"ops\": []}", "t.json:1:25: duplicate");
}
END_TEST

#define TENSORS(t) "{\"ops\": [], \"tensors\": [{\"id\": 0, \"bytes\": 1}, " t "]}"

START_TEST(test_json_tensor_errors_name_the_field)
{
    parse_fails(TENSORS("7"), "tensors[1]: expected an object");
    parse_fails(TENSORS("{\"bytes\": 1}"), "tensors[1].id: missing");
    parse_fails(TENSORS("{\"id\": -1, \"bytes\": 1}"), "tensors[1].id: expected a non-negative integer");
    parse_fails(TENSORS("{\"id\": \"3\", \"bytes\": 1}"), "tensors[1].id: expected");
    parse_fails(TENSORS("{\"id\": 1.5, \"bytes\": 1}"), "tensors[1].id: expected");
    parse_fails(TENSORS("{\"id\": 1}"), "tensors[1].bytes: missing");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 0}"), "tensors[1].bytes: expected a positive integer");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": -4}"), "tensors[1].bytes: expected a positive integer");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": \"4\"}"), "tensors[1].bytes: expected a positive integer");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 4, \"align\": \"64\"}"), "tensors[1].align: expected a non-negative integer");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 4, \"align\": -64}"), "tensors[1].align: expected");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 4, \"kind\": \"weights\"}"), "tensors[1].kind: unknown kind \"weights\"");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 4, \"kind\": 3}"), "tensors[1].kind: expected a string");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 4, \"share\": 3}"), "tensors[1].share: expected a string");
    parse_fails(TENSORS("{\"id\": 1, \"bytes\": 4, \"name\": []}"), "tensors[1].name: expected a string");
}
END_TEST

#define OPS(o) "{\"tensors\": [{\"id\": 0, \"bytes\": 1}], \"ops\": [{\"outputs\": [0]}, " o "]}"

START_TEST(test_json_op_errors_name_the_field)
{
    parse_fails(OPS("\"CONV\""), "ops[1]: expected an object");
    parse_fails(OPS("{\"name\": 12}"), "ops[1].name: expected a string");
    parse_fails(OPS("{\"inputs\": 0}"), "ops[1].inputs: expected an array");
    parse_fails(OPS("{\"outputs\": {}}"), "ops[1].outputs: expected an array");
    parse_fails(OPS("{\"inputs\": [0, \"a\"]}"), "ops[1].inputs[1]: expected a tensor id");
    parse_fails(OPS("{\"inputs\": [0, -2]}"), "ops[1].inputs[1]: expected a tensor id");
    parse_fails(OPS("{\"outputs\": [0, 1, 2.0]}"), "ops[1].outputs[2]: expected a tensor id");
    parse_fails(OPS("{\"outputs\": [null]}"), "ops[1].outputs[0]: expected a tensor id");
}
END_TEST

START_TEST(test_json_null_source_is_named_memory)
{
    struct graph_json *gj;

    ck_assert_int_eq(graph_json_parse("[]", 2, NULL, &gj, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "<memory>") != NULL, "%s", err);
}
END_TEST

START_TEST(test_json_load_reads_a_file_and_names_it_in_errors)
{
    char path[] = "/tmp/test_json_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"tensors\": [{\"id\": 1, \"bytes\": 0}], \"ops\": []}";
    struct graph_json *gj;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(graph_json_load(path, &gj, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, path) != NULL && strstr(err, "tensors[0].bytes") != NULL, "%s",
                  err);
    unlink(path);
    ck_assert_int_eq(graph_json_load(path, &gj, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, path) != NULL, "%s", err);
    ck_assert_ptr_null(gj);
}
END_TEST

/* Writing a graph and reading it back gives the same graph. */
START_TEST(test_json_write_then_parse_round_trips)
{
    static const uint64_t in0[] = {1, 5}, o0[] = {(uint64_t)1 << 40}, o1[] = {9};
    const struct graph_tensor ts[] = {
        {1, 100, 0, TENSOR_INPUT, NULL, "in"},
        {(uint64_t)1 << 40, 200, 4096, TENSOR_INTERMEDIATE, NULL, NULL},
        {5, 300, 0, TENSOR_IMPORT, "up/x", "imp"},
        {9, 400, 256, TENSOR_EXPORT, "down/y", "\xc3\xa9t\xc3\xa9"},
    };
    const struct graph_op ops[] = {{"A", in0, 2, o0, 1}, {NULL, o0, 1, o1, 1}};
    const struct graph g = {"rt", ts, 4, ops, 2};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct graph_json *gj;
    const struct graph *h;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(graph_json_write(f, &g), 0);
    fclose(f);
    ck_assert_int_eq(graph_json_parse(buf, len, "mem", &gj, err, sizeof(err)), 0);
    h = graph_json_graph(gj);
    ck_assert_str_eq(h->name, "rt");
    ck_assert_uint_eq(h->n_tensors, 4);
    ck_assert_uint_eq(h->n_ops, 2);
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(h->tensors[i].id, ts[i].id);
        ck_assert_uint_eq(h->tensors[i].bytes, ts[i].bytes);
        ck_assert_uint_eq(h->tensors[i].align, ts[i].align);
        ck_assert_int_eq(h->tensors[i].kind, ts[i].kind);
        if (ts[i].share == NULL)
            ck_assert_ptr_null(h->tensors[i].share);
        else
            ck_assert_str_eq(h->tensors[i].share, ts[i].share);
        if (ts[i].name == NULL)
            ck_assert_ptr_null(h->tensors[i].name);
        else
            ck_assert_str_eq(h->tensors[i].name, ts[i].name);
    }
    for (uint32_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(h->ops[i].n_inputs, ops[i].n_inputs);
        ck_assert_uint_eq(h->ops[i].n_outputs, ops[i].n_outputs);
        for (uint32_t j = 0; j < ops[i].n_inputs; j++)
            ck_assert_uint_eq(h->ops[i].inputs[j], ops[i].inputs[j]);
        for (uint32_t j = 0; j < ops[i].n_outputs; j++)
            ck_assert_uint_eq(h->ops[i].outputs[j], ops[i].outputs[j]);
    }
    ck_assert_str_eq(h->ops[0].name, "A");
    ck_assert_ptr_null(h->ops[1].name);
    graph_json_free(gj);
    free(buf);
}
END_TEST

START_TEST(test_json_write_refuses_ids_json_cannot_hold)
{
    static const uint64_t o[] = {UINT64_MAX};
    const struct graph_tensor ts[] = {{UINT64_MAX, 1, 0, TENSOR_OUTPUT, NULL, NULL}};
    const struct graph_op ops[] = {{NULL, NULL, 0, o, 1}};
    const struct graph g = {NULL, ts, 1, ops, 1};
    FILE *f = fopen("/dev/null", "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(graph_json_write(f, &g), -EINVAL);
    fclose(f);
}
END_TEST

START_TEST(test_json_kind_names_round_trip)
{
    const char *words[] = {"intermediate", "input", "output", "persistent", "export", "import"};

    for (int k = 0; k < 6; k++) {
        enum tensor_kind got;
        ck_assert_str_eq(graph_kind_name((enum tensor_kind)k), words[k]);
        ck_assert_int_eq(graph_kind_parse(words[k], &got), 0);
        ck_assert_int_eq(got, k);
    }
    ck_assert_ptr_null(graph_kind_name((enum tensor_kind)6));
    ck_assert_int_eq(graph_kind_parse("Input", &(enum tensor_kind){0}), -EINVAL);
}
END_TEST

/* The public model graphs load and validate (skipped without the data). */
START_TEST(test_json_bench_graphs_load_and_validate)
{
    const char *data = getenv("ORION_BENCH_DATA");
    char dir[4096];
    DIR *d;
    struct dirent *e;
    int n = 0;

    if (data != NULL) {
        snprintf(dir, sizeof(dir), "%s/graphs", data);
    } else {
        /* Default: ../shared/bench beside the source tree (this file is in tests/). */
        snprintf(dir, sizeof(dir), "%s", __FILE__);
        char *slash = strrchr(dir, '/');
        snprintf(slash != NULL ? slash : dir, sizeof(dir) - (size_t)(slash ? slash - dir : 0),
                 "%s", slash != NULL ? "/../../shared/bench/graphs" : "../shared/bench/graphs");
    }
    d = opendir(dir);
    if (d == NULL) {
        printf("test_json: %s absent: skipping the public model graphs\n", dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[8192];
        struct graph_json *gj;
        struct tensor_live *live;
        const struct graph *g;

        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ck_assert_msg(graph_json_load(path, &gj, err, sizeof(err)) == 0, "%s", err);
        g = graph_json_graph(gj);
        ck_assert_uint_gt(g->n_tensors, 0);
        ck_assert_uint_gt(g->n_ops, 0);
        live = calloc(g->n_tensors, sizeof(*live));
        ck_assert_msg(liveness_compute(g, NULL, live, err, sizeof(err)) == 0, "%s: %s", path,
                      err);
        free(live);
        graph_json_free(gj);
        n++;
    }
    closedir(d);
    ck_assert_int_gt(n, 0);
}
END_TEST

START_TEST(test_json_keeps_dtype_and_shape)
{
    struct graph_json *gj = parse_ok(
        "{\"tensors\": [{\"id\": 4, \"bytes\": 602112, \"dtype\": \"float32\","
        "                \"shape\": [1, 224, 224, 3]},"
        "               {\"id\": 5, \"bytes\": 7, \"dtype\": \"int8\"},"
        "               {\"id\": 6, \"bytes\": 9, \"shape\": [3, 3]},"
        "               {\"id\": 7, \"bytes\": 3, \"dtype\": null, \"shape\": null}],"
        " \"ops\": [{\"outputs\": [4, 5, 6, 7]}]}");
    uint64_t dims[8] = {0};

    ck_assert_str_eq(graph_json_tensor_dtype(gj, 0), "float32");
    ck_assert_int_eq(graph_json_tensor_shape(gj, 0, dims, 8), 4);
    ck_assert_uint_eq(dims[0], 1);
    ck_assert_uint_eq(dims[1], 224);
    ck_assert_uint_eq(dims[3], 3);
    ck_assert_str_eq(graph_json_tensor_dtype(gj, 1), "int8");
    ck_assert_int_eq(graph_json_tensor_shape(gj, 1, dims, 8), -1);
    ck_assert_ptr_null(graph_json_tensor_dtype(gj, 2));
    ck_assert_int_eq(graph_json_tensor_shape(gj, 2, dims, 8), 2);
    ck_assert_ptr_null(graph_json_tensor_dtype(gj, 3));
    ck_assert_int_eq(graph_json_tensor_shape(gj, 3, dims, 8), -1);
    ck_assert_ptr_null(graph_json_tensor_dtype(gj, 9));
    ck_assert_uint_eq(graph_dtype_bytes("complex128"), 16);
    ck_assert_uint_eq(graph_dtype_bytes("float8"), 0);
    graph_json_free(gj);
}
END_TEST

START_TEST(test_json_refuses_bytes_other_than_dtype_times_shape)
{
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 16, \"dtype\": \"float32\","
                " \"shape\": [2, 3]}], \"ops\": []}",
                "tensors[0].bytes: 16, but dtype float32 x shape is 24 bytes");
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 16, \"dtype\": \"float32\","
                " \"shape\": [4294967296, 4294967296]}], \"ops\": []}",
                "tensors[0].bytes: 16, but dtype float32 x shape is above");
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 16, \"dtype\": \"f32\"}], \"ops\": []}",
                "tensors[0].dtype: expected one of");
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 16, \"dtype\": 4}], \"ops\": []}",
                "tensors[0].dtype: expected one of");
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 16, \"shape\": 4}], \"ops\": []}",
                "tensors[0].shape: expected an array");
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 16, \"shape\": [4, -1]}], \"ops\": []}",
                "tensors[0].shape[1]: expected a non-negative integer");
}
END_TEST

START_TEST(test_json_refuses_unknown_tensor_keys_naming_key_and_tensor)
{
    parse_fails("{\"tensors\": [{\"id\": 1, \"bytes\": 2},"
                " {\"id\": 7, \"bytes\": 2, \"knd\": \"input\"}], \"ops\": []}",
                "tensors[1] (id 7): unknown key \"knd\"");
    parse_fails("{\"tensors\": [{\"id\": 3, \"bytes\": 2, \"Shape\": [2]}], \"ops\": []}",
                "tensors[0] (id 3): unknown key \"Shape\"");
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_json_parses_every_field);
    tcase_add_test(tc, test_json_ignores_unknown_keys_and_accepts_nulls);
    tcase_add_test(tc, test_json_empty_arrays_parse_for_liveness_to_judge);
    tcase_add_test(tc, test_json_syntax_error_names_line_and_column);
    tcase_add_test(tc, test_json_top_level_errors_name_the_member);
    tcase_add_test(tc, test_json_tensor_errors_name_the_field);
    tcase_add_test(tc, test_json_op_errors_name_the_field);
    tcase_add_test(tc, test_json_null_source_is_named_memory);
    tcase_add_test(tc, test_json_load_reads_a_file_and_names_it_in_errors);
    tcase_add_test(tc, test_json_write_then_parse_round_trips);
    tcase_add_test(tc, test_json_write_refuses_ids_json_cannot_hold);
    tcase_add_test(tc, test_json_kind_names_round_trip);
    tcase_add_test(tc, test_json_bench_graphs_load_and_validate);
    tcase_add_test(tc, test_json_keeps_dtype_and_shape);
    tcase_add_test(tc, test_json_refuses_bytes_other_than_dtype_times_shape);
    tcase_add_test(tc, test_json_refuses_unknown_tensor_keys_naming_key_and_tensor);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
