/*
 * lifecycle: startup to listening, idle memory, and shutdown on SIGTERM with no cluster,
 * of a daemon started fresh each cycle. Run it inside the daemon's network namespace.
 *
 * Usage: lifecycle --port P [--cycles N] [--settle-ms S] [--log FILE] -- CMD ARG...
 *   Per cycle: the clock starts before fork(); CMD is exec'd (stdin /dev/null, output
 *   appended to FILE); "listening" is the first TCP connect to 127.0.0.1:P that succeeds
 *   (tried every 250 us, for at most 20 s; the probe connection is closed at once); after
 *   S ms (default 1000) of idling VmRSS and Pss are read; then SIGTERM, and the clock
 *   stops when waitpid() returns (at most 15 s, then SIGKILL and the cycle fails).
 * Output: one JSON object per cycle:
 *   {"mode":"lifecycle","cycle":I,"startup_us":N,"shutdown_us":N,"rss_idle_kib":N,
 *    "pss_idle_kib":N,"exit":N}
 * Exit status: 0 every cycle fine, 1 a cycle failed, 2 usage. SIGTERM or SIGINT to this
 * program kills the daemon it started (and only it) and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static volatile pid_t g_child;

static void
sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void
on_signal(int sig)
{
    (void) sig;
    if (g_child > 0) {
        kill(g_child, SIGKILL);
    }
    _exit(1);
}

static int
probe(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = (s >= 0 && connect(s, (struct sockaddr *) &a, sizeof(a)) == 0);
    if (s >= 0) {
        close(s);
    }
    return ok;
}

/* Waits for the child for at most limit_us; returns its wait status, or -1. */
static int
reap(pid_t pid, long long limit_us)
{
    long long until = now_us() + limit_us;
    int status;

    while (now_us() < until) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        sleep_us(100);
    }
    return -1;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },
        { "cycles", required_argument, NULL, 'c' },
        { "settle-ms", required_argument, NULL, 's' },
        { "log", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *log = "/dev/null";
    int port = 3121, cycles = 3, settle_ms = 1000, c, failed = 0;

    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
            case 'p': port = atoi(optarg); break;
            case 'c': cycles = atoi(optarg); break;
            case 's': settle_ms = atoi(optarg); break;
            case 'l': log = optarg; break;
            default: goto usage;
        }
    }
    if (optind >= argc || port <= 0 || cycles <= 0 || settle_ms < 0) {
        goto usage;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 1; i <= cycles; i++) {
        long long t0, t_listen = -1, t_term, t_gone = -1, rss, pss;
        int status;

        if (probe(port)) {
            fprintf(stderr, "lifecycle: something already listens on port %d\n", port);
            return 1;
        }
        t0 = now_us();
        g_child = fork();
        if (g_child == 0) {
            int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND,
                                                             0644);

            if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
                _exit(127);
            }
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGPIPE, SIG_DFL);
            execvp(argv[optind], argv + optind);
            _exit(127);
        }
        if (g_child < 0) {
            perror("lifecycle: fork");
            return 1;
        }
        while (now_us() - t0 < 20000000) {
            if (probe(port)) {
                t_listen = now_us();
                break;
            }
            if (waitpid(g_child, &status, WNOHANG) == g_child) {
                fprintf(stderr, "lifecycle: the daemon exited (status 0x%x) before listening\n",
                        status);
                g_child = 0;
                return 1;
            }
            sleep_us(250);
        }
        if (t_listen < 0) {
            fprintf(stderr, "lifecycle: not listening on %d after 20 s\n", port);
            kill(g_child, SIGKILL);
            (void) reap(g_child, 5000000);
            return 1;
        }
        sleep_us((long) settle_ms * 1000);
        rss = proc_kib(g_child, "status", "VmRSS");
        pss = proc_kib(g_child, "smaps_rollup", "Pss");
        t_term = now_us();
        kill(g_child, SIGTERM);
        status = reap(g_child, 15000000);
        if (status == -1) {
            fprintf(stderr, "lifecycle: still running 15 s after SIGTERM, SIGKILL\n");
            kill(g_child, SIGKILL);
            (void) reap(g_child, 5000000);
            failed = 1;
        } else {
            t_gone = now_us();
        }
        g_child = 0;
        printf("{\"mode\":\"lifecycle\",\"cycle\":%d,\"startup_us\":%lld,\"shutdown_us\":%lld,"
               "\"rss_idle_kib\":%lld,\"pss_idle_kib\":%lld,\"exit\":%d}\n",
               i, t_listen - t0, t_gone >= 0 ? t_gone - t_term : -1, rss, pss,
               status == -1 ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status)
                                    : 128 + WTERMSIG(status)));
        fflush(stdout);
        if (failed) {
            return 1;
        }
        sleep_us(100000); /* the port is free again (no TIME_WAIT on a listener) */
    }
    return 0;

usage:
    fprintf(stderr, "usage: lifecycle --port P [--cycles N] [--settle-ms S] [--log FILE] "
            "-- CMD ARG...\n");
    return 2;
}
