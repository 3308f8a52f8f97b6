/*
 * spawn-floor: the physical floor of an executor. Runs the no-op agent the way a daemon
 * must at least run it (posix_spawn, then wait for the exit) and nothing else: no
 * sockets, no parsing, no pipes to read. Whatever a daemon's round trip adds to this is
 * the daemon's own cost.
 *
 * Usage: spawn-floor --ops N [--parallel C] [--warmup W] -- AGENT ARG...
 *   At most C agents run at once (C = 1: one after the other). The agent gets the
 *   environment an OCF agent is given for a start (OCF_ROOT, OCF_RA_VERSION_*,
 *   OCF_RESOURCE_*, a few OCF_RESKEY_CRM_meta_*), stdin, stdout and stderr on /dev/null.
 * Output: one JSON object: per-op latency (spawn -> reaped) in microseconds, ops/s, and
 * this process's own CPU (the spawning and reaping) and its children's, per 1,000 ops.
 * Exit status: 0 done, 1 an agent failed or could not be spawned, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAX_PARALLEL 1024

static long long
cpu_us(const struct rusage *r)
{
    return (long long) (r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1000000
           + r->ru_utime.tv_usec + r->ru_stime.tv_usec;
}

struct slot {
    pid_t pid;
    long long t;
};

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ops", required_argument, NULL, 'o' },
        { "parallel", required_argument, NULL, 'p' },
        { "warmup", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    static char *env[] = {
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT=/usr/lib/ocf",
        "OCF_RA_VERSION_MAJOR=1",
        "OCF_RA_VERSION_MINOR=1",
        "OCF_RESOURCE_INSTANCE=bench-00000",
        "OCF_RESOURCE_TYPE=noop",
        "OCF_RESOURCE_PROVIDER=pcmkrbench",
        "OCF_RESKEY_CRM_meta_on_node=floor",
        "OCF_RESKEY_CRM_meta_on_node_uuid=floor",
        "OCF_RESKEY_CRM_meta_timeout=20000",
        "OCF_RESKEY_crm_feature_set=3.16.2",
        "OCF_RESKEY_CRM_meta_name=start",
        NULL,
    };
    int ops = 1000, parallel = 1, warmup = 20, c, failed = 0, running = 0, done = 0;
    int issued = 0, total;
    long long *lat, t0 = 0, wall;
    struct slot slots[MAX_PARALLEL] = { 0 };
    posix_spawn_file_actions_t fa;
    struct rusage self0, self1, ch0, ch1;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'o': ops = atoi(optarg); break;
            case 'p': parallel = atoi(optarg); break;
            case 'w': warmup = atoi(optarg); break;
            default: goto usage;
        }
    }
    if (optind >= argc || ops <= 0 || parallel <= 0 || parallel > MAX_PARALLEL || warmup < 0) {
        goto usage;
    }
    alarm(600); /* every loop below ends; this bounds a hung agent */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    lat = calloc((size_t) ops, sizeof(*lat));
    total = warmup + ops;

    while (done < total) {
        while (running < parallel && issued < total) {
            int i = 0, rc;

            while (slots[i].pid != 0) {
                i++;
            }
            if (issued == warmup && running == 0) {
                getrusage(RUSAGE_SELF, &self0);
                getrusage(RUSAGE_CHILDREN, &ch0);
                t0 = now_us();
            } else if (issued == warmup) {
                break; /* let the warm-up drain first, so the measured part starts clean */
            }
            slots[i].t = now_us();
            rc = posix_spawn(&slots[i].pid, argv[optind], &fa, NULL, argv + optind, env);
            if (rc != 0) {
                fprintf(stderr, "spawn-floor: posix_spawn %s: %s\n", argv[optind], strerror(rc));
                return 1;
            }
            running++;
            issued++;
        }
        {
            int status;
            pid_t pid = waitpid(-1, &status, 0);

            if (pid < 0) {
                if (errno == EINTR) {
                    continue;
                }
                perror("spawn-floor: waitpid");
                return 1;
            }
            for (int i = 0; i < parallel; i++) {
                if (slots[i].pid == pid) {
                    if (done >= warmup) {
                        lat[done - warmup] = now_us() - slots[i].t;
                    }
                    slots[i].pid = 0;
                    break;
                }
            }
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                failed++;
            }
            running--;
            done++;
        }
    }
    wall = now_us() - t0;
    getrusage(RUSAGE_SELF, &self1);
    getrusage(RUSAGE_CHILDREN, &ch1);
    qsort(lat, (size_t) ops, sizeof(*lat), cmp_ll);
    {
        double sum = 0;

        for (int i = 0; i < ops; i++) {
            sum += (double) lat[i];
        }
        printf("{\"mode\":\"floor\",\"ops\":%d,\"parallel\":%d,\"wall_ms\":%.1f,"
               "\"ops_per_s\":%.1f,\"failed\":%d,\"lat_us\":{\"n\":%d,\"min\":%lld,"
               "\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,\"max\":%lld,\"mean\":%.1f},"
               "\"self_cpu_us_per_1000\":%.0f,\"agents_cpu_us_per_1000\":%.0f}\n",
               ops, parallel, wall / 1000.0, ops * 1e6 / (double) wall, failed, ops, lat[0],
               pct(lat, ops, 0.5), pct(lat, ops, 0.9), pct(lat, ops, 0.99), lat[ops - 1],
               sum / ops, (cpu_us(&self1) - cpu_us(&self0)) * 1000.0 / ops,
               (cpu_us(&ch1) - cpu_us(&ch0)) * 1000.0 / ops);
    }
    return failed ? 1 : 0;

usage:
    fprintf(stderr, "usage: spawn-floor --ops N [--parallel C] [--warmup W] -- AGENT ARG...\n");
    return 2;
}
