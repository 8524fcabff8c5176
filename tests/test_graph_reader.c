/* test_graph_reader.c - the table of input formats: which reader takes an input, what it loads. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph_json.h"
#include "graph_reader.h"
#include "problem_csv.h"

static const char graph_text[] =
    "{\"name\": \"g\", \"tensors\": [{\"id\": 1, \"bytes\": 64, \"kind\": \"input\"},"
    " {\"id\": 2, \"bytes\": 128, \"kind\": \"output\"}],"
    " \"ops\": [{\"name\": \"op\", \"inputs\": [1], \"outputs\": [2]}]}";
static const char csv_text[] = "id,lower,upper,size\nb1,0,3,4\nb2,3,9,4\nb3,0,9,4\n";

static const struct graph_reader *pick(const char *path, const char *text)
{
    return graph_reader_pick(path, (const uint8_t *)text, strlen(text));
}

START_TEST(test_reader_json_taken_by_first_byte_or_by_name)
{
    ck_assert_ptr_eq(pick("g.txt", graph_text), &graph_json_reader);
    ck_assert_ptr_eq(pick("-", " \n\t{}"), &graph_json_reader);
    /* A .json name is a graph whatever it holds (its parser then says why not). */
    ck_assert_ptr_eq(pick("model.json", "id,lower,upper,size\n"), &graph_json_reader);
    ck_assert_ptr_eq(pick("x.json", ""), &graph_json_reader);
}
END_TEST

START_TEST(test_reader_csv_takes_what_no_other_format_takes)
{
    ck_assert_ptr_eq(pick("in.csv", csv_text), &problem_csv_reader);
    ck_assert_ptr_eq(pick("-", csv_text), &problem_csv_reader);
    ck_assert_ptr_eq(pick("json", "garbage"), &problem_csv_reader);
    ck_assert_ptr_eq(pick("a.jso", "  [1, 2]"), &problem_csv_reader);
    ck_assert_ptr_eq(pick("empty", ""), &problem_csv_reader);
    ck_assert_str_eq(graph_json_reader.name, "graph-json");
    ck_assert_str_eq(problem_csv_reader.name, "minimalloc-csv");
}
END_TEST

START_TEST(test_reader_json_loads_a_graph)
{
    struct plan_input in;
    char err[256] = "";
    int rc = graph_json_reader.load("g.json", (const uint8_t *)graph_text, strlen(graph_text), &in,
                                    err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_ptr_nonnull(in.graph);
    ck_assert_ptr_null(in.problem);
    ck_assert_uint_eq(in.graph->n_tensors, 2);
    ck_assert_uint_eq(in.graph->n_ops, 1);
    ck_assert_uint_eq(in.graph->tensors[1].bytes, 128);
    plan_input_free(&in);
    ck_assert_ptr_null(in.graph);
    ck_assert_ptr_null(in.owner);
    plan_input_free(&in); /* a zeroed input is fine */
    plan_input_free(NULL);
}
END_TEST

START_TEST(test_reader_csv_loads_a_problem)
{
    struct plan_input in;
    char err[256] = "";
    int rc = problem_csv_reader.load("p.csv", (const uint8_t *)csv_text, strlen(csv_text), &in,
                                     err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_ptr_null(in.graph);
    ck_assert_ptr_nonnull(in.problem);
    ck_assert_uint_eq(in.problem->n, 3);
    ck_assert_str_eq(in.problem->ids[2], "b3");
    ck_assert_uint_eq(in.problem->bufs[1].lower, 3);
    ck_assert_uint_eq(in.problem->bufs[1].upper, 9);
    plan_input_free(&in);
    ck_assert_ptr_null(in.problem);
}
END_TEST

/* Errors name the source first, then what the format's parser found. */
START_TEST(test_reader_errors_name_the_source_and_leave_the_input_empty)
{
    struct plan_input in;
    char err[256] = "";
    const char bad_csv[] = "id,lower,upper,size\nb1,0,3,x\n";
    const char bad_json[] = "{\"tensors\": [{\"id\": 1}], \"ops\": []}";

    ck_assert_int_eq(problem_csv_reader.load("bad.csv", (const uint8_t *)bad_csv,
                                             strlen(bad_csv), &in, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strncmp(err, "bad.csv: ", 9) == 0, "%s", err);
    ck_assert_msg(strstr(err, "line 2") && strstr(err, "'size'"), "%s", err);
    ck_assert_ptr_null(in.problem);
    ck_assert_ptr_null(in.owner);
    plan_input_free(&in);

    ck_assert_int_eq(graph_json_reader.load("bad.json", (const uint8_t *)bad_json,
                                            strlen(bad_json), &in, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strncmp(err, "bad.json: ", 10) == 0, "%s", err);
    ck_assert_msg(strstr(err, "tensors[0].bytes"), "%s", err);
    ck_assert_ptr_null(in.graph);
    ck_assert_ptr_null(in.owner);
    plan_input_free(&in);
}
END_TEST

static Suite *reader_suite(void)
{
    Suite *s = suite_create("graph_reader");
    TCase *t = tcase_create("core");
    tcase_add_test(t, test_reader_json_taken_by_first_byte_or_by_name);
    tcase_add_test(t, test_reader_csv_takes_what_no_other_format_takes);
    tcase_add_test(t, test_reader_json_loads_a_graph);
    tcase_add_test(t, test_reader_csv_loads_a_problem);
    tcase_add_test(t, test_reader_errors_name_the_source_and_leave_the_input_empty);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reader_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
