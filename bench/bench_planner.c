/* bench_planner.c - every planner policy on every MiniMalloc CSV under
 * <data>/planner (default: the compile-time ORION_BENCH_DATA), as a table of
 * peak / lower bound and planning time; then a synthetic 10,000-tensor graph.
 *
 * usage: bench_planner [DATA_DIR] [--time-limit S] [--tl-all]
 *   --time-limit S  also run the default policy with this time budget on the
 *                   `challenging` files (minimalloc/[A-K]*), or on every file
 *                   with --tl-all, and on the tight packings.
 * Then: the default's fast-mode time over greedy-size's on the large traces
 * (somas/bert_large, somas/pangu_2.6B, iopddl/S_1, iopddl/Y_1; the best of
 * three runs each), and the tight packings with a known optimum
 * (packings.c: PACKINGS_N guillotine cuts, 150-2,000 buffers): peak/optimum
 * geomean of greedy-size, the default, and the default with the limit.
 * The last line is the headline in key=value pairs.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "packings.h"
#include "planner.h"
#include "problem_csv.h"

#ifndef ORION_BENCH_DATA
#define ORION_BENCH_DATA "../shared/bench"
#endif

#define MAX_POL 16

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of "sub/file.csv" under dir; returns count or -1. */
static int list_csv(const char *dir, char ***out)
{
    char **v = NULL;
    int n = 0, cap = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char sub[8192];
        DIR *d2;
        struct dirent *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
        d2 = opendir(sub);
        if (!d2)
            continue;
        while ((f = readdir(d2))) {
            size_t l = strlen(f->d_name);
            if (l < 5 || strcmp(f->d_name + l - 4, ".csv") != 0)
                continue;
            if (n == cap) {
                char **nv;
                cap = cap ? cap * 2 : 64;
                nv = realloc(v, (size_t)cap * sizeof(*v));
                if (!nv)
                    exit(1);
                v = nv;
            }
            v[n] = malloc(strlen(de->d_name) + l + 2);
            if (!v[n])
                exit(1);
            sprintf(v[n], "%s/%s", de->d_name, f->d_name);
            n++;
        }
        closedir(d2);
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof(*v), str_cmp);
    *out = v;
    return n;
}

static bool is_challenging(const char *rel)
{
    return strncmp(rel, "minimalloc/", 11) == 0 && rel[11] >= 'A' && rel[11] <= 'K' &&
           rel[12] == '.';
}

static bool is_real(const char *rel)
{
    return strncmp(rel, "somas/", 6) == 0 || strncmp(rel, "iopddl/", 7) == 0 ||
           strncmp(rel, "iree/", 5) == 0 || strncmp(rel, "tflm/", 5) == 0;
}

/* Plan a copy; returns ratio peak/lb (lb 0: 1) and the time, or -1 on error. */
static double run_one(const char *policy, const struct plan_buffer *src, size_t n, uint64_t lb,
                      double tl, double *ms, uint64_t *peak_out)
{
    struct plan_buffer *b = malloc(n * sizeof(*b) + 1);
    struct planner_opts o = {.time_limit_s = tl};
    char err[256];
    uint64_t peak = 0;
    double t0;
    int rc;

    if (!b)
        return -1;
    memcpy(b, src, n * sizeof(*b));
    t0 = now_ms();
    rc = planner_run(policy, b, n, &o, &peak, err, sizeof(err));
    *ms = now_ms() - t0;
    if (rc == 0)
        rc = planner_verify(b, n, peak, err, sizeof(err));
    free(b);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", policy, err);
        return -1;
    }
    if (peak_out)
        *peak_out = peak;
    return lb ? (double)peak / (double)lb : 1.0;
}

/* A DNN-like graph: op i writes tensor i; it is read by the next 1-3 ops and
 * now and then by an op far ahead (a residual); sizes vary by orders of
 * magnitude; alignment 64. */
static void synth(struct plan_buffer *b, size_t n, uint64_t seed)
{
    size_t i;
    uint64_t x = seed;
    for (i = 0; i < n; i++) {
        uint64_t span;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        span = 1 + x % 3;
        if (x % 10 == 0)
            span += 10 + (x >> 8) % 60;
        b[i].lower = i;
        b[i].upper = i + 1 + span;
        b[i].bytes = (1 + (x >> 16) % 64) << ((x >> 24) % 12);
        b[i].align = 64;
        b[i].off = 0;
    }
}

int main(int argc, char **argv)
{
    const char *data = ORION_BENCH_DATA;
    char dir[4096], **files = NULL;
    double tl = 0, worst_real[MAX_POL] = {0}, sum_ch[MAX_POL] = {0}, sum_ch_tl = 0;
    double worst_real_tl = 0, fast_over_greedy = 0, pack_geo[3] = {0};
    size_t np = planner_policy_count(), p, def = 0;
    int nf, f, n_ch = 0, i, failures = 0;
    bool tl_all = false;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--time-limit") == 0 && i + 1 < argc)
            tl = atof(argv[++i]);
        else if (strcmp(argv[i], "--tl-all") == 0)
            tl_all = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [DATA_DIR] [--time-limit S] [--tl-all]\n", argv[0]);
            return 2;
        } else
            data = argv[i];
    }
    if (np > MAX_POL)
        np = MAX_POL;
    for (p = 0; p < np; p++)
        if (strcmp(planner_policy_name(p), planner_default_policy()) == 0)
            def = p;
    snprintf(dir, sizeof(dir), "%s/planner", data);
    nf = list_csv(dir, &files);
    if (nf < 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }

    printf("%-36s %7s", "file", "n");
    for (p = 0; p < np; p++)
        printf(" %20s", planner_policy_name(p));
    if (tl > 0)
        printf(" %14s+%gs", planner_default_policy(), tl);
    printf("\n%-36s %7s", "", "");
    for (p = 0; p < np; p++)
        printf(" %20s", "peak/lb      ms");
    if (tl > 0)
        printf(" %20s", "peak/lb      ms");
    printf("\n");

    for (f = 0; f < nf; f++) {
        char path[8192], err[512];
        struct problem pr;
        uint64_t lb;
        bool ch = is_challenging(files[f]), real = is_real(files[f]);

        snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
        if (problem_csv_read(path, &pr, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            failures++;
            continue;
        }
        lb = planner_lower_bound(pr.bufs, pr.n);
        printf("%-36s %7zu", files[f], pr.n);
        fflush(stdout);
        for (p = 0; p < np; p++) {
            double ms = 0, r = run_one(planner_policy_name(p), pr.bufs, pr.n, lb, 0, &ms, NULL);
            if (r < 0)
                failures++;
            printf("      %7.4f %7.1f", r, ms);
            fflush(stdout);
            if (real && r > worst_real[p])
                worst_real[p] = r;
            if (ch)
                sum_ch[p] += r;
        }
        if (tl > 0 && (ch || tl_all)) {
            double ms = 0, r = run_one(planner_default_policy(), pr.bufs, pr.n, lb, tl, &ms, NULL);
            if (r < 0)
                failures++;
            printf("      %7.4f %7.1f", r, ms);
            if (ch)
                sum_ch_tl += r;
            if (real && r > worst_real_tl)
                worst_real_tl = r;
        }
        printf("\n");
        if (ch)
            n_ch++;
        problem_free(&pr);
    }

    /* The large traces: the default's fast mode over greedy-size. */
    {
        static const char *const large[] = {"somas/bert_large.csv", "somas/pangu_2.6B.csv",
                                            "iopddl/S_1.csv", "iopddl/Y_1.csv"};
        printf("\nlarge traces: fast mode (%s) over greedy-size, best of 3 runs each\n",
               planner_default_policy());
        printf("  %-24s %7s %10s %10s %7s\n", "file", "n", "greedy ms", "default ms", "ratio");
        for (size_t q = 0; q < sizeof(large) / sizeof(large[0]); q++) {
            char path[8192], err[512];
            struct problem pr;
            double best[2] = {1e30, 1e30}, r;
            snprintf(path, sizeof(path), "%s/%s", dir, large[q]);
            if (problem_csv_read(path, &pr, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s\n", err);
                failures++;
                continue;
            }
            for (i = 0; i < 6; i++) {
                double ms = 1e30;
                const char *pol = i % 2 ? planner_default_policy() : "greedy-size";
                if (run_one(pol, pr.bufs, pr.n, 0, 0, &ms, NULL) < 0)
                    failures++;
                if (ms < best[i % 2])
                    best[i % 2] = ms;
            }
            r = best[1] / best[0];
            printf("  %-24s %7zu %10.1f %10.1f %7.3f\n", large[q], pr.n, best[0], best[1], r);
            if (r > fast_over_greedy)
                fast_over_greedy = r;
            problem_free(&pr);
        }
    }

    /* The tight packings: peak / optimum, geomean. */
    {
        static const char *const cols[] = {"greedy-size", "default", "default+limit"};
        double lsum[3] = {0};
        int ncol = tl > 0 ? 3 : 2;
        printf("\ntight packings (guillotine cuts, optimum known): peak/optimum\n");
        printf("  %4s %6s", "#", "n");
        for (int c = 0; c < ncol; c++)
            printf(" %14s", cols[c]);
        if (tl > 0)
            printf(" (limit %gs)", tl);
        printf("\n");
        for (size_t q = 0; q < PACKINGS_N; q++) {
            struct plan_buffer *b;
            size_t n;
            uint64_t opt;
            if (packings_make(q, packings_size(q), &b, &n, &opt) < 0) {
                failures++;
                continue;
            }
            printf("  %4zu %6zu", q, n);
            for (int c = 0; c < ncol; c++) {
                double ms = 0, r = run_one(c == 0 ? "greedy-size" : planner_default_policy(), b, n,
                                       opt, c == 2 ? tl : 0, &ms, NULL);
                if (r < 0) {
                    failures++;
                    r = 1;
                }
                lsum[c] += log(r);
                printf(" %14.4f", r);
                fflush(stdout);
            }
            printf("\n");
            free(b);
        }
        for (int c = 0; c < 3; c++)
            pack_geo[c] = c < ncol ? exp(lsum[c] / PACKINGS_N) : 0;
        printf("  geomean %14.4f %14.4f", pack_geo[0], pack_geo[1]);
        if (tl > 0)
            printf(" %14.4f", pack_geo[2]);
        printf("\n");
    }

    /* The synthetic graph: the best of 5 runs per policy. */
    {
        size_t n = 10000;
        struct plan_buffer *b = malloc(n * sizeof(*b));
        double best_ms[MAX_POL];
        uint64_t lb;
        if (!b)
            return 1;
        synth(b, n, 12345);
        lb = planner_lower_bound(b, n);
        printf("\nsynthetic %zu-tensor graph (lower bound %" PRIu64 "):\n", n, lb);
        for (p = 0; p < np; p++) {
            double r = 0;
            best_ms[p] = 1e30;
            for (i = 0; i < 5; i++) {
                double ms = 1e30;
                r = run_one(planner_policy_name(p), b, n, lb, 0, &ms, NULL);
                if (r < 0)
                    failures++;
                if (ms < best_ms[p])
                    best_ms[p] = ms;
            }
            printf("  %-14s peak/lb %.4f  %.2f ms\n", planner_policy_name(p), r, best_ms[p]);
        }
        free(b);

        printf("\n");
        for (p = 0; p < np; p++)
            printf("worst_real_ratio_%s=%.4f mean_challenging_%s=%.4f ms_10k_%s=%.2f ",
                   planner_policy_name(p), worst_real[p], planner_policy_name(p),
                   n_ch ? sum_ch[p] / n_ch : 0, planner_policy_name(p), best_ms[p]);
        if (tl > 0)
            printf("mean_challenging_%s_tl%g=%.4f ", planner_default_policy(), tl,
                   n_ch ? sum_ch_tl / n_ch : 0);
        if (tl > 0 && tl_all)
            printf("worst_real_ratio_%s_tl%g=%.4f ", planner_default_policy(), tl, worst_real_tl);
        printf("fast_over_greedy_large_max=%.3f packings_geomean_greedy=%.4f "
               "packings_geomean_default=%.4f ",
               fast_over_greedy, pack_geo[0], pack_geo[1]);
        if (tl > 0)
            printf("packings_geomean_default_tl%g=%.4f ", tl, pack_geo[2]);
        printf("default=%s failures=%d\n", planner_policy_name(def), failures);
    }
    for (f = 0; f < nf; f++)
        free(files[f]);
    free(files);
    return failures ? 1 : 0;
}
