/* test_csv.c - the MiniMalloc CSV reader and writer. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "problem_csv.h"

static int parse(const char *text, struct problem *p, char *err, size_t len)
{
    return problem_csv_parse(text, strlen(text), p, err, len);
}

/* Parse text, expect -EINVAL with every word of want in the message. */
static void expect_error(const char *text, const char *want1, const char *want2)
{
    struct problem p;
    char err[256] = "";
    int rc = parse(text, &p, err, sizeof(err));
    ck_assert_msg(rc == -EINVAL, "accepted: %s", text);
    ck_assert_msg(strstr(err, want1) != NULL, "message '%s' lacks '%s'", err, want1);
    if (want2)
        ck_assert_msg(strstr(err, want2) != NULL, "message '%s' lacks '%s'", err, want2);
    ck_assert_ptr_null(p.bufs);
    ck_assert_uint_eq(p.n, 0);
}

static char *write_to_string(const struct problem *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(problem_csv_write(f, p), 0);
    fclose(f);
    return buf;
}

START_TEST(test_csv_reads_minimalloc_example)
{
    struct problem p;
    char err[256];
    const char *text = "id,lower,upper,size\n"
                       "b1,0,3,4\n"
                       "b2,3,9,4\n"
                       "b3,0,9,4\n"
                       "b4,9,21,4\n"
                       "b5,0,21,4\n";
    ck_assert_int_eq(parse(text, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.n, 5);
    ck_assert_str_eq(p.ids[0], "b1");
    ck_assert_str_eq(p.ids[4], "b5");
    ck_assert_uint_eq(p.bufs[3].lower, 9);
    ck_assert_uint_eq(p.bufs[3].upper, 21);
    ck_assert_uint_eq(p.bufs[3].bytes, 4);
    ck_assert_uint_eq(p.bufs[3].align, 0);
    ck_assert(!p.has_offset);
    ck_assert(!p.has_alignment);
    problem_free(&p);
    ck_assert_ptr_null(p.bufs);
    problem_free(&p); /* twice is fine */
    problem_free(NULL);
}
END_TEST

START_TEST(test_csv_accepts_columns_in_any_order_and_extra_columns)
{
    struct problem p;
    char err[256];
    const char *text = "size,note,upper,id,lower\r\n"
                       "100, conv1 ,7,t0,2\r\n"
                       "\r\n"
                       "5,x,2,t1,1\r\n";
    ck_assert_int_eq(parse(text, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.n, 2);
    ck_assert_str_eq(p.ids[0], "t0");
    ck_assert_uint_eq(p.bufs[0].bytes, 100);
    ck_assert_uint_eq(p.bufs[0].lower, 2);
    ck_assert_uint_eq(p.bufs[0].upper, 7);
    ck_assert_uint_eq(p.bufs[1].bytes, 5);
    /* the extra column comes back verbatim, in place; offset appended */
    p.bufs[0].off = 40;
    p.bufs[1].off = 0;
    char *out = write_to_string(&p);
    ck_assert_str_eq(out, "size,note,upper,id,lower,offset\n"
                          "100,conv1,7,t0,2,40\n"
                          "5,x,2,t1,1,0\n");
    free(out);
    problem_free(&p);
}
END_TEST

START_TEST(test_csv_reads_alignment_and_offset_and_replaces_offset_on_write)
{
    struct problem p;
    char err[256];
    const char *text = "id,lower,upper,size,alignment,offset\n"
                       "a,0,2,10,64,128\n"
                       "b,1,3,20,0,0\n";
    ck_assert_int_eq(parse(text, &p, err, sizeof(err)), 0);
    ck_assert(p.has_alignment);
    ck_assert(p.has_offset);
    ck_assert_uint_eq(p.bufs[0].align, 64);
    ck_assert_uint_eq(p.bufs[0].off, 128);
    ck_assert_uint_eq(p.bufs[1].align, 0);
    p.bufs[0].off = 0;
    p.bufs[1].off = 64;
    char *out = write_to_string(&p);
    ck_assert_str_eq(out, "id,lower,upper,size,alignment,offset\n"
                          "a,0,2,10,64,0\n"
                          "b,1,3,20,0,64\n");
    free(out);
    problem_free(&p);
}
END_TEST

START_TEST(test_csv_write_then_read_round_trips)
{
    struct problem p, q;
    char err[256];
    const char *text = "id,lower,upper,size\n"
                       "x,0,18446744073709551615,18446744073709551615\n"
                       "y,5,6,1\n";
    ck_assert_int_eq(parse(text, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.bufs[0].upper, UINT64_MAX);
    p.bufs[1].off = 12345;
    char *out = write_to_string(&p);
    ck_assert_int_eq(parse(out, &q, err, sizeof(err)), 0);
    ck_assert_uint_eq(q.n, 2);
    ck_assert(q.has_offset);
    ck_assert_uint_eq(q.bufs[1].off, 12345);
    ck_assert_uint_eq(q.bufs[0].bytes, UINT64_MAX);
    ck_assert_str_eq(q.ids[1], "y");
    free(out);
    problem_free(&q);
    problem_free(&p);
}
END_TEST

START_TEST(test_csv_header_only_is_an_empty_problem)
{
    struct problem p;
    char err[64];
    ck_assert_int_eq(parse("id,lower,upper,size\n", &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.n, 0);
    problem_free(&p);
    ck_assert_int_eq(parse("id,lower,upper,size", &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.n, 0);
    problem_free(&p);
}
END_TEST

START_TEST(test_csv_rejects_missing_header_and_columns)
{
    expect_error("", "line 1", "missing header");
    expect_error("\n\n", "missing header", NULL);
    expect_error("id,lower,size\nb,0,4\n", "line 1", "missing column 'upper'");
    expect_error("lower,upper,size\n0,1,4\n", "line 1", "missing column 'id'");
    expect_error("id,lower,upper,size,size\nb,0,1,4,4\n", "line 1", "duplicate column 'size'");
}
END_TEST

START_TEST(test_csv_rejects_bad_numbers_with_line_and_column)
{
    expect_error("id,lower,upper,size\nb1,0,3,4\nb2,0,3,4\nb3,0,3,x\n", "line 4",
                 "column 'size': not a number: 'x'");
    expect_error("id,lower,upper,size\nb1,-1,3,4\n", "line 2",
                 "column 'lower': not a number: '-1'");
    expect_error("id,lower,upper,size\nb1,0,3.5,4\n", "line 2", "column 'upper'");
    expect_error("id,lower,upper,size\nb1,0,,4\n", "line 2", "not a number: ''");
    expect_error("id,lower,upper,size\nb1,0,18446744073709551616,4\n", "line 2",
                 "column 'upper': number too large");
    expect_error("id,lower,upper,size,alignment\nb1,0,3,4,abc\n", "line 2",
                 "column 'alignment'");
    expect_error("id,lower,upper,size,offset\nb1,0,3,4,1e3\n", "line 2", "column 'offset'");
}
END_TEST

START_TEST(test_csv_rejects_wrong_field_counts_with_line)
{
    expect_error("id,lower,upper,size\nb1,0,3,4\n\nb2,0,3\n", "line 4",
                 "expected 4 columns, got 3");
    expect_error("id,lower,upper,size\nb1,0,3,4,9\n", "line 2", "expected 4 columns, got 5");
}
END_TEST

START_TEST(test_csv_rejects_bad_buffers_with_line)
{
    expect_error("id,lower,upper,size\nb1,0,3,0\n", "line 2", "column 'size': must be > 0");
    expect_error("id,lower,upper,size\nb1,3,3,4\n", "line 2", "not above lower 3");
    expect_error("id,lower,upper,size\nb1,0,3,4\nb2,5,2,4\n", "line 3", "column 'upper'");
    expect_error("id,lower,upper,size,alignment\nb1,0,3,4,24\n", "line 2",
                 "24 is not a power of two");
    expect_error("id,lower,upper,size\n,0,3,4\n", "line 2", "column 'id': empty");
    {
        static const char nul[] = "id,lower,upper,size\nb\0,0,3,4\n";
        struct problem p;
        char err[128] = "";
        ck_assert_int_eq(problem_csv_parse(nul, sizeof(nul) - 1, &p, err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, "NUL") != NULL, "%s", err);
    }
}
END_TEST

START_TEST(test_csv_reads_files_and_names_the_path_in_errors)
{
    char path[] = "/tmp/orion-csv-XXXXXX";
    int fd = mkstemp(path);
    struct problem p;
    char err[512];
    FILE *f;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs("id,lower,upper,size\na,0,1,8\nb,0,1,nope\n", f);
    fclose(f);
    ck_assert_int_eq(problem_csv_read(path, &p, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, path) && strstr(err, "line 3"), "%s", err);

    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("id,lower,upper,size\na,0,1,8\nb,0,1,16\n", f);
    fclose(f);
    ck_assert_int_eq(problem_csv_read(path, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.n, 2);
    ck_assert_uint_eq(p.bufs[1].bytes, 16);
    problem_free(&p);
    unlink(path);

    ck_assert_int_eq(problem_csv_read(path, &p, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, path) != NULL, "%s", err);
}
END_TEST

/* A large file (tens of thousands of lines) reads quickly and exactly. */
START_TEST(test_csv_reads_large_input)
{
    size_t n = 50000, cap = n * 40 + 64, len = 0;
    char *text = malloc(cap);
    struct problem p;
    char err[128];
    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text, cap, "id,lower,upper,size\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "t%zu,%zu,%zu,%zu\n", i, i, i + 3,
                                (i * 37) % 1000 + 1);
    ck_assert_int_eq(problem_csv_parse(text, len, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.n, n);
    ck_assert_uint_eq(p.bufs[n - 1].bytes, ((n - 1) * 37) % 1000 + 1);
    ck_assert_str_eq(p.ids[12345], "t12345");
    problem_free(&p);
    free(text);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *t = tcase_create("core");
    tcase_add_test(t, test_csv_reads_minimalloc_example);
    tcase_add_test(t, test_csv_accepts_columns_in_any_order_and_extra_columns);
    tcase_add_test(t, test_csv_reads_alignment_and_offset_and_replaces_offset_on_write);
    tcase_add_test(t, test_csv_write_then_read_round_trips);
    tcase_add_test(t, test_csv_header_only_is_an_empty_problem);
    tcase_add_test(t, test_csv_rejects_missing_header_and_columns);
    tcase_add_test(t, test_csv_rejects_bad_numbers_with_line_and_column);
    tcase_add_test(t, test_csv_rejects_wrong_field_counts_with_line);
    tcase_add_test(t, test_csv_rejects_bad_buffers_with_line);
    tcase_add_test(t, test_csv_reads_files_and_names_the_path_in_errors);
    tcase_add_test(t, test_csv_reads_large_input);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(csv_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
