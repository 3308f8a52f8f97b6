/*
 * util.h: the few helpers the C programs of bench/ share (clock, percentiles, /proc readings), as static
 * functions so each program stays one file to compile. Include after the system headers.
 */
#ifndef PCMKR_BENCH_UTIL_H
#define PCMKR_BENCH_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* Microseconds on the monotonic clock. */
static inline long long
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* qsort order for long long. */
static inline int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0..1) of n sorted values; -1 when there are none. */
static inline long long
pct(const long long *v, int n, double p)
{
    int i;

    if (n <= 0) {
        return -1;
    }
    i = (int) ceil(p * n) - 1;
    return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

/* The number after "FIELD:" in /proc/PID/FILE (kB in status and smaps_rollup), or -1. */
static inline long long
proc_kib(pid_t pid, const char *file, const char *field)
{
    char path[64], line[256];
    size_t len = strlen(field);
    long long v = -1;
    FILE *f;

    if (pid <= 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = atoll(line + len + 1);
            break;
        }
    }
    fclose(f);
    return v;
}

#endif
