/* A small client built on Pacemaker 2.1.5's own IPC API (crm_ipc_*, mainloop), used by
 * the interop tests to check what the command-line tools do not exercise: large events,
 * large requests, a server-side close seen by a main-loop client, and refusals.
 *
 *   probe event <service> <size> <count>   request events of <size> bytes, check each
 *   probe bigreq <service> <size>          send a request of about <size> bytes
 *   probe mainloop-close <service>         ask the server to close us, time the notice
 *   probe sync-close <service>             a request the server drops us on, timed
 *   probe refused <service>                expect the connection to be refused
 *
 * Prints one result line and exits 0 on success, 1 on failure. Every wait is bounded.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crm/crm.h>
#include <crm/common/ipc.h>
#include <crm/common/mainloop.h>
#include <crm/common/xml.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static crm_ipc_t *connect_or_die(const char *service)
{
    crm_ipc_t *ipc = crm_ipc_new(service, 0);

    if (ipc == NULL || !crm_ipc_connect(ipc)) {
        printf("CONNECT-FAILED errno=%d (%s)\n", errno, strerror(errno));
        exit(1);
    }
    return ipc;
}

/* The body the test server sends: see event_body() in server.rs. */
static int check_event(const char *text, int seq, int size)
{
    char head[128];
    int hlen = snprintf(head, sizeof(head), "<probe-event seq=\"%d\" size=\"%d\">", seq, size);
    const char *tail = "</probe-event>";
    int tlen = (int) strlen(tail);
    int len = (int) strlen(text);

    if (len != size || strncmp(text, head, hlen) != 0 || strcmp(text + len - tlen, tail) != 0) {
        printf("BAD-EVENT seq=%d len=%d want=%d start=%.60s\n", seq, len, size, text);
        return 0;
    }
    for (int i = 0; i < size - hlen - tlen; i++) {
        if (text[hlen + i] != 'a' + (i % 26)) {
            printf("BAD-EVENT-BYTE seq=%d at=%d\n", seq, hlen + i);
            return 0;
        }
    }
    return 1;
}

static int do_event(const char *service, int size, int count)
{
    crm_ipc_t *ipc = connect_or_die(service);
    xmlNode *msg = create_xml_node(NULL, "probe");
    xmlNode *reply = NULL;
    int got = 0;
    unsigned int flags_seen = 0;

    crm_xml_add(msg, "op", "event");
    crm_xml_add_int(msg, "size", size);
    crm_xml_add_int(msg, "count", count);
    if (crm_ipc_send(ipc, msg, crm_ipc_client_response, 5000, &reply) <= 0 || reply == NULL) {
        printf("NO-REPLY\n");
        return 1;
    }
    long long end = now_ms() + 10000;
    while (got < count && now_ms() < end) {
        int rc = crm_ipc_ready(ipc);

        if (rc < 0) {
            printf("DISCONNECTED after %d events\n", got);
            return 1;
        }
        if (rc == 0) {
            struct pollfd p = { .fd = crm_ipc_get_fd(ipc), .events = POLLIN };
            poll(&p, 1, 100);
            continue;
        }
        long n = crm_ipc_read(ipc);
        if (n == -EAGAIN) {
            continue;
        }
        if (n < 0) {
            printf("READ-FAILED %ld\n", n);
            return 1;
        }
        flags_seen |= crm_ipc_buffer_flags(ipc);
        if (!check_event(crm_ipc_buffer(ipc), got, size)) {
            return 1;
        }
        got++;
    }
    crm_ipc_close(ipc);
    crm_ipc_destroy(ipc);
    printf("EVENTS count=%d size=%d flags=%#x\n", got, size, flags_seen);
    return got == count ? 0 : 1;
}

static int do_bigreq(const char *service, int size)
{
    crm_ipc_t *ipc = connect_or_die(service);
    xmlNode *msg = create_xml_node(NULL, "probe");
    xmlNode *reply = NULL;
    char *data = malloc(size + 1);

    for (int i = 0; i < size; i++) {
        data[i] = 'A' + (i * 7 % 26);
    }
    data[size] = 0;
    crm_xml_add(msg, "op", "bigreq");
    crm_xml_add(msg, "data", data);
    char *text = dump_xml_unformatted(msg);
    unsigned int sum = 0;
    for (const char *c = text; *c; c++) {
        sum = sum * 31 + (unsigned char) *c;
    }
    if (crm_ipc_send(ipc, msg, crm_ipc_client_response, 5000, &reply) <= 0 || reply == NULL) {
        printf("NO-REPLY\n");
        return 1;
    }
    const char *len = crm_element_value(reply, "len");
    const char *got_sum = crm_element_value(reply, "sum");
    char want_sum[32];
    snprintf(want_sum, sizeof(want_sum), "%u", sum);
    printf("BIGREQ sent=%zu seen=%s sum=%s want=%s\n", strlen(text), len ? len : "-",
           got_sum ? got_sum : "-", want_sum);
    return (len && atol(len) == (long) strlen(text) && got_sum && !strcmp(got_sum, want_sum)) ? 0 : 1;
}

static GMainLoop *loop;
static long long asked_at;
static long long closed_at;

static int ml_dispatch(const char *buffer, ssize_t length, gpointer userdata)
{
    return 0;
}

static void ml_destroy(gpointer userdata)
{
    closed_at = now_ms();
    g_main_loop_quit(loop);
}

static gboolean ml_timeout(gpointer data)
{
    g_main_loop_quit(loop);
    return FALSE;
}

static int do_mainloop_close(const char *service)
{
    struct ipc_client_callbacks cb = { .dispatch = ml_dispatch, .destroy = ml_destroy };
    mainloop_io_t *src;
    xmlNode *msg = create_xml_node(NULL, "probe");

    loop = g_main_loop_new(NULL, FALSE);
    src = mainloop_add_ipc_client(service, G_PRIORITY_DEFAULT, 0, NULL, &cb);
    if (src == NULL) {
        printf("CONNECT-FAILED errno=%d\n", errno);
        return 1;
    }
    crm_xml_add(msg, "op", "close-later");
    crm_xml_add_int(msg, "ms", 300);
    if (crm_ipc_send(mainloop_get_ipc_client(src), msg, crm_ipc_flags_none, 0, NULL) <= 0) {
        printf("SEND-FAILED\n");
        return 1;
    }
    asked_at = now_ms();
    g_timeout_add(5000, ml_timeout, NULL);
    g_main_loop_run(loop);
    if (closed_at == 0) {
        printf("NOT-NOTICED within 5000 ms\n");
        return 1;
    }
    printf("CLOSED after_ms=%lld\n", closed_at - asked_at);
    return 0;
}

/* A synchronous request the server never answers: it closes us 200 ms later instead. */
static int do_sync_close(const char *service)
{
    crm_ipc_t *ipc = connect_or_die(service);
    xmlNode *msg = create_xml_node(NULL, "probe");
    xmlNode *reply = NULL;

    crm_xml_add(msg, "op", "drop-me");
    crm_xml_add_int(msg, "ms", 200);
    long long start = now_ms();
    int rc = crm_ipc_send(ipc, msg, crm_ipc_client_response, 10000, &reply);
    long long took = now_ms() - start;

    printf("SYNC-CLOSE rc=%d after_ms=%lld connected=%d\n", rc, took, crm_ipc_connected(ipc));
    return (rc <= 0 && reply == NULL && !crm_ipc_connected(ipc)) ? 0 : 1;
}

static int do_refused(const char *service)
{
    crm_ipc_t *ipc = crm_ipc_new(service, 0);

    if (ipc != NULL && crm_ipc_connect(ipc)) {
        printf("CONNECTED (expected a refusal)\n");
        return 1;
    }
    printf("REFUSED errno=%d (%s)\n", errno, strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    crm_log_cli_init("pcmkr-probe");
    if (argc >= 5 && !strcmp(argv[1], "event")) {
        return do_event(argv[2], atoi(argv[3]), atoi(argv[4]));
    } else if (argc >= 4 && !strcmp(argv[1], "bigreq")) {
        return do_bigreq(argv[2], atoi(argv[3]));
    } else if (argc >= 3 && !strcmp(argv[1], "mainloop-close")) {
        return do_mainloop_close(argv[2]);
    } else if (argc >= 3 && !strcmp(argv[1], "sync-close")) {
        return do_sync_close(argv[2]);
    } else if (argc >= 3 && !strcmp(argv[1], "refused")) {
        return do_refused(argv[2]);
    }
    fprintf(stderr, "usage: probe event|bigreq|mainloop-close|refused <service> ...\n");
    return 2;
}
