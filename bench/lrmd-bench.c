/*
 * lrmd-bench: measures a remote executor (ours or Debian's pacemaker-remoted) through
 * Pacemaker's own client library, liblrmd, over TLS-PSK, as a cluster node reaches it.
 *
 * Usage: lrmd-bench --server ADDR [--port P] [--pid PID] [--timeout S] MODE [OPTIONS]
 *
 *   connect   --count N
 *       N times: a new connection object, connect (TCP + TLS handshake + sign-on),
 *       disconnect. Samples: the connect call, in microseconds.
 *   exec      --resources C --ops N [--warmup W] [--provider P] [--type T]
 *             [--action A] [--client-tuned] [--setup-tuned]
 *       Registers C resources, runs W unmeasured operations, then N operations with at
 *       most one in flight per resource (so C in flight at most), each one exec() call
 *       and its result notification. Samples: request -> result notification, and the
 *       exec() call alone (request -> reply with the call id), microseconds.
 *   recurring --resources N --interval-ms I --seconds S --runlog FILE
 *             [--provider P] [--type T] [--setup-tuned] [--start-limit S2]
 *             [--teardown cancel|disconnect|none]
 *       Registers N resources, starts one recurring monitor on each (for at most S2
 *       seconds, default 60; the agent appends "<resource> <uptime>" to FILE per run),
 *       watches S seconds, then cancels and unregisters everything (cancel, the
 *       default), or disconnects, which drops the monitors (they were registered with
 *       "drop recurring"), or only leaves (none: the caller stops the daemon), and
 *       reads FILE for missed, late and duplicate runs (rules in mode_recurring()).
 *
 * --pid names the daemon's process, read from /proc for CPU (utime+stime from stat, and
 * the run time in nanoseconds from every thread's schedstat) and memory (VmRSS, VmHWM,
 * which is reset through clear_refs before a measured phase).
 * --client-tuned turns on client-side TCP_NODELAY and immediate ACKs (see set_tuned())
 * for the whole run: a diagnostic, to see a daemon without the Nagle/delayed-ACK stall.
 * --setup-tuned does so only for the set-up phases (register, starting the monitors,
 * cancel, unregister), so the measured requests go out as a cluster node's do, while
 * set-up against the original does not take 44-88 ms per request
 * (docs/protocol.md 3).
 * The key is read by liblrmd from PCMK_authkey_location.
 *
 * Output: one JSON object on stdout. Exit status: 0 done, 1 a step failed, 2 usage,
 * 3 overall timeout (--timeout, default 600 s).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <pthread.h>

#include <glib.h>
#include <crm/crm.h>
#include <crm/lrmd.h>
#include <crm/services.h>

#include "util.h"

#define MAX_RESOURCES 20000
#define RSS_SAMPLE_MS 1000

static lrmd_t *g_lrmd;
static int g_fd = -1;
static int g_pid;
static const char *g_server;
static int g_port = 3121;
static long g_events; /* callbacks so far */

/* ---------------------------------------------------------------- time, stats */

/* Milliseconds since boot, the clock the agent stamps its runs with (/proc/uptime). */
static long long
uptime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints "name":{"n":..,"min":..,"p50":..,"p90":..,"p99":..,"max":..,"mean":..}. */
static void
print_stats(const char *name, long long *v, int n)
{
    double sum = 0;

    qsort(v, (size_t) n, sizeof(*v), cmp_ll);
    for (int i = 0; i < n; i++) {
        sum += (double) v[i];
    }
    printf("\"%s\":{\"n\":%d,\"min\":%lld,\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,"
           "\"max\":%lld,\"mean\":%.1f}",
           name, n, n ? v[0] : -1, pct(v, n, 0.50), pct(v, n, 0.90), pct(v, n, 0.99),
           n ? v[n - 1] : -1, n ? sum / n : -1.0);
}

/* ---------------------------------------------------------------- the daemon in /proc */

struct cpu {
    long long ticks; /* utime + stime, every thread, in clock ticks */
    long long ns;    /* run time of every live thread, from schedstat */
};

static struct cpu
daemon_cpu(void)
{
    struct cpu c = { -1, -1 };
    char path[64], buf[1024];
    FILE *f;
    DIR *d;
    struct dirent *e;

    if (g_pid <= 0) {
        return c;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", g_pid);
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(buf, sizeof(buf), f) != NULL) {
            char *p = strrchr(buf, ')');
            unsigned long long ut = 0, st = 0;

            /* after the name: state ppid pgrp session tty tpgid flags minflt cminflt
             * majflt cmajflt utime stime */
            if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                    &ut, &st) == 2) {
                c.ticks = (long long) (ut + st);
            }
        }
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/task", g_pid);
    if ((d = opendir(path)) != NULL) {
        c.ns = 0;
        while ((e = readdir(d)) != NULL) {
            char p2[300];
            unsigned long long ns = 0;

            if (e->d_name[0] == '.') {
                continue;
            }
            snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", g_pid, e->d_name);
            if ((f = fopen(p2, "r")) != NULL) {
                if (fscanf(f, "%llu", &ns) == 1) {
                    c.ns += (long long) ns;
                }
                fclose(f);
            }
        }
        closedir(d);
    }
    return c;
}

/* A field of the daemon's /proc/PID/status in KiB, or -1. */
static long long
status_kib(const char *field)
{
    return proc_kib(g_pid, "status", field);
}

/* Pss from the daemon's /proc/PID/smaps_rollup in KiB, or -1. */
static long long
pss_kib(void)
{
    return proc_kib(g_pid, "smaps_rollup", "Pss");
}

/* Resets VmHWM to the current RSS, so the next reading is this phase's peak. */
static void
reset_peak(void)
{
    char path[64];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/clear_refs", g_pid);
    if (g_pid > 0 && (f = fopen(path, "w")) != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

static void
print_cpu(const char *name, struct cpu a, struct cpu b)
{
    printf(",\"%s_ticks\":%lld,\"%s_ns\":%lld", name,
           (a.ticks >= 0 && b.ticks >= 0) ? b.ticks - a.ticks : -1, name,
           (a.ns >= 0 && b.ns >= 0) ? b.ns - a.ns : -1);
}

/* ---------------------------------------------------------------- the connection */

static void
die(const char *what, int rc)
{
    fprintf(stderr, "lrmd-bench: %s failed: rc=%d (%s)\n", what, rc, pcmk_strerror(rc));
    exit(1);
}

/*
 * Client-side tuning against the Nagle/delayed-ACK stall (docs/protocol.md 3):
 * TCP_NODELAY sends our two-record requests at once, and a helper thread re-arms
 * TCP_QUICKACK every QUICKACK_US, which also flushes an ACK the kernel is holding back,
 * so a server's Nagle does not wait ~40 ms for our ACK before the second record of its
 * reply. Linux drops quick-ACK mode as soon as we send, hence the thread. The thread only
 * calls setsockopt() on our socket; liblrmd is never called from it.
 */
#define QUICKACK_US 500
static volatile int g_tuned;
static volatile int g_tune_fd = -1;

static void *
quickack_thread(void *arg)
{
    (void) arg;
    for (;;) {
        int fd = g_tune_fd, on = 1;

        if (g_tuned && fd >= 0) {
            (void) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
        }
        usleep(QUICKACK_US);
    }
    return NULL;
}

/* Turns the client-side tuning on or off for what follows. */
static void
set_tuned(int on)
{
    static gboolean started;
    int nodelay = on;

    if (on && !started) {
        pthread_t t;

        if (pthread_create(&t, NULL, quickack_thread, NULL) == 0) {
            pthread_detach(t);
            started = TRUE;
        }
    }
    if (g_fd >= 0 && setsockopt(g_fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay)) != 0) {
        perror("lrmd-bench: TCP_NODELAY");
    }
    g_tune_fd = g_fd;
    g_tuned = on;
}

typedef void (*event_fn)(lrmd_event_data_t *e);
static event_fn g_on_exec;

static void
on_event(lrmd_event_data_t *e)
{
    g_events++;
    if (e->type == lrmd_event_exec_complete && g_on_exec != NULL) {
        g_on_exec(e);
    }
}

static void
open_connection(void)
{
    int rc;

    g_lrmd = lrmd_remote_api_new(g_server, g_server, g_port);
    if (g_lrmd == NULL) {
        die("lrmd_remote_api_new", -ENOMEM);
    }
    g_lrmd->cmds->set_callback(g_lrmd, on_event);
    rc = g_lrmd->cmds->connect(g_lrmd, "lrmd-bench", &g_fd);
    if (rc != pcmk_ok) {
        die("connect", rc);
    }
}

static void
close_connection(void)
{
    g_lrmd->cmds->disconnect(g_lrmd);
    lrmd_api_delete(g_lrmd);
    g_lrmd = NULL;
    g_tuned = 0;
    g_tune_fd = -1;
    g_fd = -1;
}

/*
 * Delivers what has arrived, waiting at most wait_ms for the socket. lrmd_dispatch() reads
 * whatever is ready and also delivers notifications queued while a synchronous call was
 * waiting for its reply, which the socket does not show; so it runs after every wait.
 */
static void
dispatch(void)
{
    if (!lrmd_dispatch(g_lrmd)) {
        fprintf(stderr, "lrmd-bench: the daemon closed the connection\n");
        exit(1);
    }
}

static void
pump(int wait_ms)
{
    struct pollfd p = { .fd = g_fd, .events = POLLIN };
    long before = g_events;

    dispatch();
    if (g_events != before || wait_ms <= 0) {
        return;
    }
    (void) poll(&p, 1, wait_ms);
    dispatch();
}

/* Parameters as the controller sends them (the agent sees them as OCF_RESKEY_*). */
static lrmd_key_value_t *
op_params(const char *action, guint interval_ms, const char *runlog)
{
    lrmd_key_value_t *kv = NULL;
    char buf[32];

    kv = lrmd_key_value_add(kv, "CRM_meta_on_node", g_server);
    kv = lrmd_key_value_add(kv, "CRM_meta_on_node_uuid", g_server);
    snprintf(buf, sizeof(buf), "%u", 20000);
    kv = lrmd_key_value_add(kv, "CRM_meta_timeout", buf);
    kv = lrmd_key_value_add(kv, "crm_feature_set", "3.16.2");
    kv = lrmd_key_value_add(kv, "CRM_meta_name", action);
    if (interval_ms > 0) {
        snprintf(buf, sizeof(buf), "%u", interval_ms);
        kv = lrmd_key_value_add(kv, "CRM_meta_interval", buf);
    }
    if (runlog != NULL) {
        kv = lrmd_key_value_add(kv, "runlog", runlog);
    }
    return kv;
}

/* Registers count resources PREFIX-NNNNN; returns the time taken in ms. */
static long long
register_all(const char *prefix, int count, const char *provider, const char *type)
{
    long long t0 = now_us();

    for (int i = 0; i < count; i++) {
        char id[64];
        int rc;

        snprintf(id, sizeof(id), "%s-%05d", prefix, i);
        rc = g_lrmd->cmds->register_rsc(g_lrmd, id, "ocf", provider, type,
                                        lrmd_opt_drop_recurring);
        if (rc != pcmk_ok) {
            die("register_rsc", rc);
        }
        if (i % 64 == 63) {
            pump(0); /* the register notifications, so nothing piles up */
        }
    }
    return (now_us() - t0) / 1000;
}

static long long
unregister_all(const char *prefix, int count)
{
    long long t0 = now_us();

    for (int i = 0; i < count; i++) {
        char id[64];
        int rc;

        snprintf(id, sizeof(id), "%s-%05d", prefix, i);
        rc = g_lrmd->cmds->unregister_rsc(g_lrmd, id, lrmd_opt_none);
        /* -EINPROGRESS: an operation was still being cancelled; it goes away after */
        if (rc != pcmk_ok && rc != -EINPROGRESS) {
            die("unregister_rsc", rc);
        }
        if (i % 64 == 63) {
            pump(0);
        }
    }
    return (now_us() - t0) / 1000;
}

/* ---------------------------------------------------------------- connect */

static int
mode_connect(int count)
{
    long long *v = g_new0(long long, count);
    long long t_all = now_us();

    for (int i = 0; i < count; i++) {
        lrmd_t *l = lrmd_remote_api_new(g_server, g_server, g_port);
        long long t0;
        int fd = -1, rc;

        if (l == NULL) {
            die("lrmd_remote_api_new", -ENOMEM);
        }
        t0 = now_us();
        rc = l->cmds->connect(l, "lrmd-bench", &fd);
        v[i] = now_us() - t0;
        if (rc != pcmk_ok) {
            die("connect", rc);
        }
        l->cmds->disconnect(l);
        lrmd_api_delete(l);
    }
    printf("{\"mode\":\"connect\",\"count\":%d,\"wall_ms\":%lld,", count,
           (now_us() - t_all) / 1000);
    print_stats("connect_us", v, count);
    printf("}\n");
    g_free(v);
    return 0;
}

/* ---------------------------------------------------------------- exec */

struct inflight {
    int call_id;      /* 0 when the resource is free */
    long long t_send; /* before the exec() call */
};

static struct inflight *g_slots;
static int g_nslots;
static long long *g_rtt;
static int g_done, g_failed;
static gboolean g_measuring;

static void
on_exec_result(lrmd_event_data_t *e)
{
    for (int i = 0; i < g_nslots; i++) {
        if (g_slots[i].call_id == e->call_id) {
            if (g_measuring) {
                g_rtt[g_done] = now_us() - g_slots[i].t_send;
            }
            if (e->rc != 0 || e->op_status != 0) {
                g_failed++;
                if (g_failed <= 3) {
                    fprintf(stderr, "lrmd-bench: %s %s: rc=%d status=%d (%s) %s\n", e->rsc_id,
                            e->op_type, e->rc, e->op_status, pcmk_exec_status_str(e->op_status),
                            e->exit_reason ? e->exit_reason : "");
                }
            }
            g_slots[i].call_id = 0;
            g_done++;
            return;
        }
    }
}

/* Runs n operations with at most one per resource in flight; returns the wall time (us). */
static long long
run_ops(int n, const char *action, long long *reply_us, long long deadline_us)
{
    int issued = 0, next = 0;
    long long t0 = now_us();

    g_done = 0;
    while (g_done < n) {
        /* Fill every free resource (in turn, so each resource gets the same share). */
        for (int k = 0; k < g_nslots && issued < n; k++) {
            int i = (next + k) % g_nslots;
            char id[64];
            long long ts;
            int rc;

            if (g_slots[i].call_id != 0) {
                continue;
            }
            snprintf(id, sizeof(id), "bench-%05d", i);
                ts = now_us();
            rc = g_lrmd->cmds->exec(g_lrmd, id, action, "lrmd-bench", 0, 20000, 0,
                                    lrmd_opt_notify_changes_only, op_params(action, 0, NULL));
            if (rc <= 0) {
                die("exec", rc);
            }
            if (reply_us != NULL) {
                reply_us[issued] = now_us() - ts;
            }
            g_slots[i].call_id = rc;
            g_slots[i].t_send = ts;
            issued++;
            next = i + 1;
            /* As a client's main loop would: results that came in while exec() waited
             * for its reply are delivered before the next request. */
            pump(0);
        }
        pump(20); /* every free resource is busy now, or everything is issued */
        if (now_us() > deadline_us) {
            fprintf(stderr, "lrmd-bench: %d of %d operations done at the deadline\n", g_done, n);
            exit(1);
        }
    }
    return now_us() - t0;
}

static int
mode_exec(int resources, int ops, int warmup, const char *provider, const char *type,
          const char *action, gboolean setup_tuned, gboolean tuned, int timeout_s)
{
    long long deadline = now_us() + (long long) timeout_s * 1000000;
    long long *reply_us, wall_us, reg_ms, unreg_ms, rss_before;
    struct cpu c0, c1;

    open_connection();
    set_tuned(tuned || setup_tuned);
    reg_ms = register_all("bench", resources, provider, type);
    g_slots = g_new0(struct inflight, resources);
    g_nslots = resources;
    g_rtt = g_new0(long long, ops + warmup);
    reply_us = g_new0(long long, ops);
    g_on_exec = on_exec_result;

    set_tuned(tuned);
    if (warmup > 0) {
        (void) run_ops(warmup, action, NULL, deadline);
    }
    g_failed = 0;
    rss_before = status_kib("VmRSS");
    reset_peak();
    c0 = daemon_cpu();
    g_measuring = TRUE;
    wall_us = run_ops(ops, action, reply_us, deadline);
    g_measuring = FALSE;
    c1 = daemon_cpu();

    printf("{\"mode\":\"exec\",\"resources\":%d,\"ops\":%d,\"action\":\"%s\",\"client_tuned\":%s,"
           "\"wall_ms\":%.1f,\"ops_per_s\":%.1f,\"failed\":%d,\"register_ms\":%lld,",
           resources, ops, action, tuned ? "true" : "false", wall_us / 1000.0,
           ops * 1e6 / (double) wall_us, g_failed, reg_ms);
    print_stats("rtt_us", g_rtt, ops);
    printf(",");
    print_stats("reply_us", reply_us, ops);
    print_cpu("cpu", c0, c1);
    printf(",\"rss_before_kib\":%lld,\"rss_peak_kib\":%lld,\"rss_after_kib\":%lld",
           rss_before, status_kib("VmHWM"), status_kib("VmRSS"));

    set_tuned(tuned || setup_tuned);
    unreg_ms = unregister_all("bench", resources);
    printf(",\"unregister_ms\":%lld}\n", unreg_ms);
    fflush(stdout);
    close_connection();
    return g_failed ? 1 : 0;
}

/* ---------------------------------------------------------------- recurring */

enum { TEARDOWN_CANCEL, TEARDOWN_DISCONNECT, TEARDOWN_NONE };

static int g_first_results;

static void
on_recurring_result(lrmd_event_data_t *e)
{
    if (e->op_status == 0) { /* not the cancellations */
        g_first_results++;
        if (e->rc != 0) {
            g_failed++;
        }
    }
}

/* Run start times per resource from the agents' log: "<resource> <uptime s>" lines. */
struct runs {
    long long *t;
    int n, cap;
};

static int
read_runlog(const char *path, const char *prefix, struct runs *r, int count)
{
    char line[256];
    size_t plen = strlen(prefix);
    int junk = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        int idx;
        double up;

        if (strncmp(line, prefix, plen) != 0 || line[plen] != '-'
            || sscanf(line + plen + 1, "%d %lf", &idx, &up) != 2 || idx < 0 || idx >= count) {
            junk++;
            continue;
        }
        if (r[idx].n == r[idx].cap) {
            r[idx].cap = r[idx].cap ? 2 * r[idx].cap : 64;
            r[idx].t = g_renew(long long, r[idx].t, r[idx].cap);
        }
        r[idx].t[r[idx].n++] = llround(up * 1000.0);
    }
    fclose(f);
    return junk;
}

static int
mode_recurring(int count, int interval_ms, int seconds, const char *runlog,
               const char *provider, const char *type, gboolean setup_tuned,
               int teardown, int start_limit_s, int timeout_s)
{
    long long deadline = now_us() + (long long) timeout_s * 1000000;
    long long reg_ms, exec_ms, cancel_ms = -1, unreg_ms = -1, t0_up, t1_up, t0, next_sample;
    long long rss_idle, rss_reg, pss_reg, rss_peak = 0, rss_end = -1, hwm;
    long long expected, in_window = 0, missed = 0, late = 0, dup = 0, never = 0;
    long long *lags, nlags = 0;
    int started = 0, exec_errors = 0;
    struct runs *r;
    struct cpu c0, c1;
    int junk;

    g_on_exec = on_recurring_result;
    open_connection();
    set_tuned(setup_tuned);
    rss_idle = status_kib("VmRSS");
    reg_ms = register_all("rec", count, provider, type);
    /* settle: notifications out, then the memory a cluster would see */
    for (int i = 0; i < 10; i++) {
        pump(100);
    }
    rss_reg = status_kib("VmRSS");
    pss_reg = pss_kib();
    reset_peak();

    /* Start the monitors, for at most start_limit_s: an executor that cannot keep up
     * answers later and later while its monitors run (the original starves its socket),
     * and a run must stay bounded. A monitor not started counts as never run. */
    t0 = now_us();
    for (int i = 0; i < count; i++) {
        char id[64];
        int rc;

        if (now_us() - t0 > (long long) start_limit_s * 1000000) {
            fprintf(stderr, "lrmd-bench: %d of %d monitors started in %d s, giving up on the "
                    "rest\n", started, count, start_limit_s);
            break;
        }
        snprintf(id, sizeof(id), "rec-%05d", i);
        rc = g_lrmd->cmds->exec(g_lrmd, id, "monitor", "lrmd-bench", (guint) interval_ms, 20000,
                                0, lrmd_opt_notify_changes_only,
                                op_params("monitor", (guint) interval_ms, runlog));
        if (rc > 0) {
            started++;
        } else {
            exec_errors++; /* e.g. -62: no reply within the operation's 20 s timeout */
        }
        if (i % 16 == 15) {
            pump(0);
        }
    }
    exec_ms = (now_us() - t0) / 1000;
    set_tuned(0); /* the window as a cluster node's connection would be */
    /* Two intervals for every first run to have happened; then the window. */
    for (long long until = now_us() + 2LL * interval_ms * 1000; now_us() < until;) {
        pump(50);
    }
    t0_up = uptime_ms();
    c0 = daemon_cpu();
    next_sample = now_us();
    for (long long until = now_us() + (long long) seconds * 1000000; now_us() < until;) {
        if (now_us() >= next_sample) {
            long long rss = status_kib("VmRSS");

            rss_peak = rss > rss_peak ? rss : rss_peak;
            next_sample += RSS_SAMPLE_MS * 1000;
        }
        pump(50);
        if (now_us() > deadline) {
            fprintf(stderr, "lrmd-bench: overall deadline during the window\n");
            exit(1);
        }
    }
    c1 = daemon_cpu();
    t1_up = uptime_ms();
    hwm = status_kib("VmHWM");

    if (teardown == TEARDOWN_CANCEL) {
        set_tuned(setup_tuned);
        t0 = now_us();
        for (int i = 0; i < count; i++) {
            char id[64];
            int rc;

            snprintf(id, sizeof(id), "rec-%05d", i);
            rc = g_lrmd->cmds->cancel(g_lrmd, id, "monitor", (guint) interval_ms);
            if (rc != pcmk_ok) {
                die("cancel", rc);
            }
            if (i % 16 == 15) {
                pump(0);
            }
        }
        cancel_ms = (now_us() - t0) / 1000;
        unreg_ms = unregister_all("rec", count);
        for (int i = 0; i < 10; i++) {
            pump(100);
        }
        rss_end = status_kib("VmRSS");
        close_connection();
    } else {
        /* The resources were registered with "drop recurring": leaving cancels every
         * monitor without a request per resource (the original may take seconds per
         * cancel while its 1,000 monitors run). With "none" the caller stops the daemon
         * next, so we only leave. */
        close_connection();
        if (teardown == TEARDOWN_DISCONNECT) {
            usleep(1000 * 1000);
            rss_end = status_kib("VmRSS");
        }
    }

    /* The runs: per resource, the gaps between starts that end inside the window, and
     * the gap from the last start to the window's end. The interval counts from the end
     * of a run, so a normal gap is the interval plus the run time plus scheduling. A gap
     * of k (>= 2) whole intervals or more means k - 1 runs did not happen: missed. A gap
     * over 1.5 intervals but under 2 is a late run. */
    r = g_new0(struct runs, count);
    junk = read_runlog(runlog, "rec", r, count);
    lags = g_new0(long long, 1);
    expected = (long long) count * ((t1_up - t0_up) / interval_ms);
    for (int i = 0; i < count; i++) {
        long long last = -1;

        qsort(r[i].t, (size_t) r[i].n, sizeof(long long), cmp_ll);
        lags = g_renew(long long, lags, nlags + r[i].n + 1);
        for (int k = 0; k < r[i].n; k++) {
            long long t = r[i].t[k];

            if (t > t1_up) {
                break;
            }
            if (t >= t0_up) {
                in_window++;
                if (last >= 0) {
                    long long gap = t - last;

                    lags[nlags++] = gap - interval_ms;
                    if (gap >= 2LL * interval_ms) {
                        missed += gap / interval_ms - 1;
                    } else if (2 * gap > 3LL * interval_ms) {
                        late++;
                    }
                    if (gap < interval_ms * 9 / 10) {
                        dup++;
                    }
                }
            }
            last = t;
        }
        if (last < 0) {
            never++;
            missed += (t1_up - t0_up) / interval_ms;
        } else if (t1_up - last >= 2LL * interval_ms) {
            missed += (t1_up - last) / interval_ms - 1;
        }
    }

    printf("{\"mode\":\"recurring\",\"resources\":%d,\"interval_ms\":%d,\"seconds\":%d,"
           "\"window_ms\":%lld,\"register_ms\":%lld,\"exec_ms\":%lld,\"cancel_ms\":%lld,"
           "\"unregister_ms\":%lld,\"rss_idle_kib\":%lld,\"rss_registered_kib\":%lld,"
           "\"pss_registered_kib\":%lld,\"rss_peak_sampled_kib\":%lld,\"rss_peak_kib\":%lld,"
           "\"rss_end_kib\":%lld",
           count, interval_ms, seconds, t1_up - t0_up, reg_ms, exec_ms, cancel_ms, unreg_ms,
           rss_idle, rss_reg, pss_reg, rss_peak, hwm, rss_end);
    print_cpu("cpu", c0, c1);
    printf(",\"started\":%d,\"exec_errors\":%d", started, exec_errors);
    printf(",\"runs_expected\":%lld,\"runs\":%lld,\"missed\":%lld,\"late\":%lld,"
           "\"duplicate\":%lld,\"never_ran\":%lld,\"first_results\":%d,\"failed\":%d,"
           "\"runlog_junk\":%d,",
           expected, in_window, missed, late, dup, never, g_first_results, g_failed, junk);
    print_stats("lag_ms", lags, (int) nlags);
    printf("}\n");
    fflush(stdout);
    (void) deadline;
    return 0;
}

/* ---------------------------------------------------------------- main */

static void
on_alarm(int sig)
{
    static const char msg[] = "lrmd-bench: overall timeout reached, giving up\n";

    (void) sig;
    (void) write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(3);
}

static void
usage(void)
{
    fprintf(stderr, "usage: lrmd-bench --server ADDR [--port P] [--pid PID] [--timeout S] "
            "connect|exec|recurring [options] (see the top of lrmd-bench.c)\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "port", required_argument, NULL, 'p' },
        { "pid", required_argument, NULL, 'P' },
        { "timeout", required_argument, NULL, 't' },
        { "count", required_argument, NULL, 'c' },
        { "resources", required_argument, NULL, 'r' },
        { "ops", required_argument, NULL, 'o' },
        { "warmup", required_argument, NULL, 'w' },
        { "provider", required_argument, NULL, 'v' },
        { "type", required_argument, NULL, 'y' },
        { "action", required_argument, NULL, 'a' },
        { "client-tuned", no_argument, NULL, 'n' },
        { "setup-tuned", no_argument, NULL, 'N' },
        { "interval-ms", required_argument, NULL, 'i' },
        { "seconds", required_argument, NULL, 'S' },
        { "runlog", required_argument, NULL, 'l' },
        { "teardown", required_argument, NULL, 'T' },
        { "start-limit", required_argument, NULL, 'L' },
        { NULL, 0, NULL, 0 },
    };
    const char *mode, *provider = "pcmkrbench", *type = "noop", *action = "start";
    const char *runlog = NULL;
    int timeout_s = 600, count = 100, resources = 1, ops = 100, warmup = 5;
    int interval_ms = 1000, seconds = 20, c;
    gboolean tuned = FALSE, setup_tuned = FALSE;
    int teardown = TEARDOWN_CANCEL, start_limit_s = 60;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 's': g_server = optarg; break;
            case 'p': g_port = atoi(optarg); break;
            case 'P': g_pid = atoi(optarg); break;
            case 't': timeout_s = atoi(optarg); break;
            case 'c': count = atoi(optarg); break;
            case 'r': resources = atoi(optarg); break;
            case 'o': ops = atoi(optarg); break;
            case 'w': warmup = atoi(optarg); break;
            case 'v': provider = optarg; break;
            case 'y': type = optarg; break;
            case 'a': action = optarg; break;
            case 'n': tuned = TRUE; break;
            case 'N': setup_tuned = TRUE; break;
            case 'i': interval_ms = atoi(optarg); break;
            case 'S': seconds = atoi(optarg); break;
            case 'l': runlog = optarg; break;
            case 'T':
                if (strcmp(optarg, "cancel") == 0) {
                    teardown = TEARDOWN_CANCEL;
                } else if (strcmp(optarg, "disconnect") == 0) {
                    teardown = TEARDOWN_DISCONNECT;
                } else if (strcmp(optarg, "none") == 0) {
                    teardown = TEARDOWN_NONE;
                } else {
                    usage();
                }
                break;
            case 'L': start_limit_s = atoi(optarg); break;
            default: usage();
        }
    }
    if (g_server == NULL || optind != argc - 1 || timeout_s <= 0 || count <= 0
        || resources <= 0 || resources > MAX_RESOURCES || ops <= 0 || warmup < 0
        || interval_ms <= 0 || seconds <= 0 || start_limit_s <= 0) {
        usage();
    }
    mode = argv[optind];
    signal(SIGALRM, on_alarm);
    alarm((unsigned) timeout_s);
    signal(SIGPIPE, SIG_IGN);
    crm_log_init("lrmd-bench", LOG_WARNING, FALSE, TRUE, 0, NULL, TRUE);

    if (strcmp(mode, "connect") == 0) {
        return mode_connect(count);
    }
    if (strcmp(mode, "exec") == 0) {
        return mode_exec(resources, ops, warmup, provider, type, action, setup_tuned,
                         tuned, timeout_s);
    }
    if (strcmp(mode, "recurring") == 0) {
        if (runlog == NULL) {
            usage();
        }
        return mode_recurring(resources, interval_ms, seconds, runlog, provider, type,
                              setup_tuned, teardown, start_limit_s, timeout_s);
    }
    usage();
    return 2;
}
