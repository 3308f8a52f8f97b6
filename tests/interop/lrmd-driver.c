/*
 * lrmd-driver: drives a remote executor (pacemaker-remoted or ours) through
 * Pacemaker's own client library, liblrmd, and prints what happens as JSON lines.
 *
 * Usage: lrmd-driver --server ADDR [--port P] [--node NAME]
 *                    [--timeout SECONDS] [--verbose] CMD...
 *
 * The key file is read by liblrmd itself, from PCMK_authkey_location (if that file
 * cannot be read, liblrmd falls back to /etc/pacemaker/authkey). --node defaults to
 * the server; the sign-on client name is "lrmd-driver". --timeout (default 600 s)
 * bounds the whole run.
 *
 * Each CMD is one argument; fields are separated by ':'.
 *   connect                          TLS + sign-on (rc 0 expected)
 *   poke                             poke_connection (rc 0; the poke event comes later)
 *   register:RSC:CLASS:PROVIDER:TYPE register_rsc with "drop recurring" (as the
 *                                    controller does); PROVIDER may be empty
 *   info:RSC                         get_rsc_info; rc 0 when found, -19 when not
 *                                    (the library only returns NULL; -19 is ours)
 *   recurring[:RSC]                  get_recurring_ops (all resources without RSC)
 *   exec:RSC:ACTION:INTERVAL_MS:TIMEOUT_MS:START_DELAY_MS[:K=V,K=V...]
 *                                    exec with "notify changes only" (as the
 *                                    controller does); success = a call id > 0.
 *                                    K and V may use %XX escapes (for ',' ':' '%').
 *                                    user_data is "drv:<command index>".
 *   cancel:RSC:ACTION:INTERVAL_MS    cancel (rc 0)
 *   unregister:RSC                   unregister_rsc (rc 0)
 *   events:N:TIMEOUT_MS              dispatch until N (>= 1) more events arrived (rc = count);
 *                                    "!events:1:T" asserts that nothing arrives for T ms
 *   wait:RSC:ACTION:TIMEOUT_MS       dispatch until an exec_complete event for
 *                                    RSC/ACTION arrives (rc 0, or -62 on timeout)
 *   drain:MS                         dispatch for MS ms, whatever arrives (rc = count)
 *   sleep:MS                         sleep without dispatching (rc 0)
 *   unlink:PATH                      delete a file, e.g. a Dummy state file (rc 0 / -errno)
 *   disconnect                       disconnect (rc 0)
 * A leading '!' means the command is expected to fail (rc not what success needs);
 * a leading '?' means its result is recorded but not checked.
 *
 * Output, one JSON object per line on stdout, keys always in this order:
 *   {"kind":"call","index":I,"cmd":"...","rc":N,"rc_text":"...","ok":true,
 *    "elapsed_ms":N,"t_ms":N,"detail":{...}}
 *   {"kind":"event","t_ms":N,"type":"exec_complete","rsc_id":..,"op_type":..,
 *    "interval_ms":..,"rc":..,"rc_text":..,"op_status":..,"op_status_text":..,
 *    "call_id":..,"exit_reason":..,"output":..,"t_run":..,"t_rcchange":..,
 *    "exec_time":..,"queue_time":..,"timeout":..,"start_delay":..,
 *    "rsc_deleted":..,"connection_rc":..,"user_data":..,"params":{sorted}}
 * A "disconnect" event is synthesised when the library reports the connection
 * closed (without a main loop liblrmd does not call the callback for that).
 * Time fields: elapsed_ms, t_ms, t_run, t_rcchange, exec_time, queue_time.
 *
 * Exit status: 0 all commands as expected, 1 a command failed (stops there),
 * 2 usage error, 3 overall timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <crm/crm.h>
#include <crm/lrmd.h>
#include <crm/services.h>
#include <crm/common/results.h>

#define SLICE_MS 50 /* dispatch at least this often, see dispatch_until() */

static lrmd_t *g_lrmd;
static int g_fd = -1;
static gboolean g_connected;
static long long g_t0;
static long g_events;           /* events printed so far */
static const char *g_wait_rsc;  /* wait: target, or NULL */
static const char *g_wait_action;
static gboolean g_wait_hit;

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends s as a JSON string (or null); invalid UTF-8 bytes become \u00XX. */
static void
json_str(GString *out, const char *s)
{
    if (s == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    while (*s != '\0') {
        unsigned char c = (unsigned char) *s;
        gunichar u;

        if (c == '"' || c == '\\') {
            g_string_append_printf(out, "\\%c", c);
        } else if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '\t') {
            g_string_append(out, "\\t");
        } else if (c == '\r') {
            g_string_append(out, "\\r");
        } else if (c < 0x20) {
            g_string_append_printf(out, "\\u%04x", c);
        } else if (c < 0x80) {
            g_string_append_c(out, (char) c);
        } else if ((u = g_utf8_get_char_validated(s, -1)) < 0x110000) {
            const char *next = g_utf8_next_char(s);

            g_string_append_len(out, s, next - s);
            s = next;
            continue;
        } else {
            g_string_append_printf(out, "\\u%04x", c);
        }
        s++;
    }
    g_string_append_c(out, '"');
}

static void
json_key(GString *out, const char *key)
{
    if (out->len > 1) {
        g_string_append_c(out, ',');
    }
    json_str(out, key);
    g_string_append_c(out, ':');
}

static void
kv_str(GString *out, const char *key, const char *value)
{
    json_key(out, key);
    json_str(out, value);
}

static void
kv_int(GString *out, const char *key, long long value)
{
    json_key(out, key);
    g_string_append_printf(out, "%lld", value);
}

static void
emit(GString *line)
{
    g_string_append(line, "}\n");
    fputs(line->str, stdout);
    fflush(stdout);
    g_string_free(line, TRUE);
}

static int
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Appends the parameter table as an object with sorted keys. */
static void
json_params(GString *out, GHashTable *params)
{
    GString *obj = g_string_new("{");
    GPtrArray *keys = g_ptr_array_new();

    if (params != NULL) {
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init(&iter, params);
        while (g_hash_table_iter_next(&iter, &key, NULL)) {
            g_ptr_array_add(keys, key);
        }
        g_ptr_array_sort(keys, cmp_str);
    }
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);

        kv_str(obj, key, g_hash_table_lookup(params, key));
    }
    g_string_append_c(obj, '}');
    g_string_append(out, obj->str);
    g_string_free(obj, TRUE);
    g_ptr_array_free(keys, TRUE);
}

static void
print_event(const lrmd_event_data_t *e)
{
    GString *l = g_string_new("{");

    kv_str(l, "kind", "event");
    kv_int(l, "t_ms", now_ms() - g_t0);
    kv_str(l, "type", lrmd_event_type2str(e->type));
    kv_str(l, "rsc_id", e->rsc_id);
    kv_str(l, "op_type", e->op_type);
    kv_int(l, "interval_ms", e->interval_ms);
    kv_int(l, "rc", e->rc);
    kv_str(l, "rc_text", services_ocf_exitcode_str(e->rc));
    kv_int(l, "op_status", e->op_status);
    kv_str(l, "op_status_text", pcmk_exec_status_str(e->op_status));
    kv_int(l, "call_id", e->call_id);
    kv_str(l, "exit_reason", e->exit_reason);
    kv_str(l, "output", e->output);
    kv_int(l, "t_run", e->t_run);
    kv_int(l, "t_rcchange", e->t_rcchange);
    kv_int(l, "exec_time", e->exec_time);
    kv_int(l, "queue_time", e->queue_time);
    kv_int(l, "timeout", e->timeout);
    kv_int(l, "start_delay", e->start_delay);
    kv_int(l, "rsc_deleted", e->rsc_deleted);
    kv_int(l, "connection_rc", e->connection_rc);
    kv_str(l, "user_data", e->user_data);
    json_key(l, "params");
    json_params(l, e->params);
    emit(l);
}

static void
on_event(lrmd_event_data_t *e)
{
    print_event(e);
    g_events++;
    if (g_wait_rsc != NULL && e->type == lrmd_event_exec_complete
        && g_strcmp0(e->rsc_id, g_wait_rsc) == 0
        && g_strcmp0(e->op_type, g_wait_action) == 0) {
        g_wait_hit = TRUE;
    }
}

/*
 * Dispatches until the deadline, or until *stop is set. lrmd_poll() never
 * blocks (it ignores its timeout), so we poll the socket ourselves in short
 * slices and call lrmd_dispatch() every slice anyway: notifications queued
 * during a synchronous call, or already buffered, are not visible on the fd.
 */
static void
dispatch_until(long long deadline, const gboolean *stop, long target_events, long base)
{
    for (;;) {
        if (g_connected && !lrmd_dispatch(g_lrmd)) {
            lrmd_event_data_t e = { 0 };

            g_connected = FALSE;
            e.type = lrmd_event_disconnect;
            on_event(&e);
        }
        if ((stop != NULL && *stop) || (target_events > 0 && g_events - base >= target_events)) {
            return;
        }
        long long left = deadline - now_ms();

        if (left <= 0) {
            return;
        }
        if (left > SLICE_MS) {
            left = SLICE_MS;
        }
        if (g_connected && g_fd >= 0) {
            struct pollfd p = { .fd = g_fd, .events = POLLIN };

            (void) poll(&p, 1, (int) left);
        } else {
            g_usleep(left * 1000);
        }
    }
}

/* Decodes %XX escapes in place. */
static char *
unescape(char *s)
{
    char *r = s, *w = s;

    while (*r != '\0') {
        if (r[0] == '%' && g_ascii_isxdigit(r[1]) && g_ascii_isxdigit(r[2])) {
            *w++ = (char) (g_ascii_xdigit_value(r[1]) * 16 + g_ascii_xdigit_value(r[2]));
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return s;
}

static lrmd_key_value_t *
parse_params(char *spec)
{
    lrmd_key_value_t *kv = NULL;
    char **pairs = g_strsplit(spec, ",", -1);

    for (char **p = pairs; *p != NULL; p++) {
        char *eq = strchr(*p, '=');

        if (**p == '\0') {
            continue;
        }
        if (eq != NULL) {
            *eq = '\0';
        }
        kv = lrmd_key_value_add(kv, unescape(*p), eq ? unescape(eq + 1) : "");
    }
    g_strfreev(pairs);
    return kv;
}

static int
nfields(char **f)
{
    return (int) g_strv_length(f);
}

static gboolean
usage_error(const char *cmd, const char *why)
{
    fprintf(stderr, "lrmd-driver: bad command '%s': %s\n", cmd, why);
    exit(2);
}

/* Runs one command; fills rc, success-ness and an optional detail object. */
static gboolean
run_cmd(int index, const char *cmd, long long *rc_out, const char **rc_text, GString *detail)
{
    char **f = g_strsplit(cmd, ":", 7);
    const char *op = f[0];
    int n = nfields(f);
    long long rc = 0;
    gboolean ok = FALSE;

    if (strcmp(op, "connect") == 0) {
        rc = g_lrmd->cmds->connect(g_lrmd, "lrmd-driver", &g_fd);
        g_connected = (rc == pcmk_ok);
        ok = g_connected;
    } else if (strcmp(op, "poke") == 0) {
        rc = g_lrmd->cmds->poke_connection(g_lrmd);
        ok = (rc == pcmk_ok);
    } else if (strcmp(op, "register") == 0) {
        if (n != 5) {
            usage_error(cmd, "register:RSC:CLASS:PROVIDER:TYPE");
        }
        rc = g_lrmd->cmds->register_rsc(g_lrmd, f[1], f[2], (*f[3] ? f[3] : NULL), f[4],
                                        lrmd_opt_drop_recurring);
        ok = (rc == pcmk_ok);
    } else if (strcmp(op, "info") == 0) {
        lrmd_rsc_info_t *info;

        if (n != 2) {
            usage_error(cmd, "info:RSC");
        }
        info = g_lrmd->cmds->get_rsc_info(g_lrmd, f[1], lrmd_opt_none);
        rc = (info != NULL) ? pcmk_ok : -ENODEV;
        ok = (info != NULL);
        if (info != NULL) {
            kv_str(detail, "id", info->id);
            kv_str(detail, "class", info->standard);
            kv_str(detail, "provider", info->provider);
            kv_str(detail, "type", info->type);
            lrmd_free_rsc_info(info);
        }
    } else if (strcmp(op, "recurring") == 0) {
        GList *ops = NULL;
        GString *arr = g_string_new("[");

        rc = g_lrmd->cmds->get_recurring_ops(g_lrmd, (n > 1 ? f[1] : NULL), 0,
                                             lrmd_opt_none, &ops);
        ok = (rc == pcmk_ok);
        ops = g_list_reverse(ops); /* the library prepends; restore server order */
        for (GList *it = ops; it != NULL; it = it->next) {
            lrmd_op_info_t *o = it->data;
            GString *obj = g_string_new("{");

            kv_str(obj, "rsc_id", o->rsc_id);
            kv_str(obj, "action", o->action);
            kv_str(obj, "interval_ms", o->interval_ms_s);
            kv_str(obj, "timeout_ms", o->timeout_ms_s);
            g_string_append_printf(arr, "%s%s}", (it == ops ? "" : ","), obj->str);
            g_string_free(obj, TRUE);
        }
        g_list_free_full(ops, (GDestroyNotify) lrmd_free_op_info);
        json_key(detail, "ops");
        g_string_append_printf(detail, "%s]", arr->str);
        g_string_free(arr, TRUE);
    } else if (strcmp(op, "exec") == 0) {
        char *userdata = g_strdup_printf("drv:%d", index);

        if (n < 6) {
            usage_error(cmd, "exec:RSC:ACTION:INTERVAL_MS:TIMEOUT_MS:START_DELAY_MS[:K=V,...]");
        }
        rc = g_lrmd->cmds->exec(g_lrmd, f[1], f[2], userdata,
                                (guint) strtoul(f[3], NULL, 10), atoi(f[4]), atoi(f[5]),
                                lrmd_opt_notify_changes_only,
                                (n > 6 ? parse_params(f[6]) : NULL));
        ok = (rc > 0);
        *rc_text = "call id";
        g_free(userdata);
    } else if (strcmp(op, "cancel") == 0) {
        if (n != 4) {
            usage_error(cmd, "cancel:RSC:ACTION:INTERVAL_MS");
        }
        rc = g_lrmd->cmds->cancel(g_lrmd, f[1], f[2], (guint) strtoul(f[3], NULL, 10));
        ok = (rc == pcmk_ok);
    } else if (strcmp(op, "unregister") == 0) {
        if (n != 2) {
            usage_error(cmd, "unregister:RSC");
        }
        rc = g_lrmd->cmds->unregister_rsc(g_lrmd, f[1], lrmd_opt_none);
        ok = (rc == pcmk_ok);
    } else if (strcmp(op, "events") == 0) {
        long base = g_events, want;

        if (n != 3) {
            usage_error(cmd, "events:N:TIMEOUT_MS");
        }
        want = atol(f[1]);
        dispatch_until(now_ms() + atoll(f[2]), NULL, want > 0 ? want : 1, base);
        rc = g_events - base;
        ok = (rc >= want);
        *rc_text = "event count";
    } else if (strcmp(op, "wait") == 0) {
        if (n != 4) {
            usage_error(cmd, "wait:RSC:ACTION:TIMEOUT_MS");
        }
        g_wait_rsc = f[1];
        g_wait_action = f[2];
        g_wait_hit = FALSE;
        dispatch_until(now_ms() + atoll(f[3]), &g_wait_hit, 0, 0);
        ok = g_wait_hit;
        rc = ok ? 0 : -ETIME;
        g_wait_rsc = NULL;
    } else if (strcmp(op, "drain") == 0 || strcmp(op, "sleep") == 0) {
        long base = g_events;

        if (n != 2) {
            usage_error(cmd, "drain:MS / sleep:MS");
        }
        if (op[0] == 'd') {
            dispatch_until(now_ms() + atoll(f[1]), NULL, 0, base);
            rc = g_events - base;
            *rc_text = "event count";
        } else {
            g_usleep((gulong) atol(f[1]) * 1000);
        }
        ok = TRUE;
    } else if (strcmp(op, "unlink") == 0) {
        if (n < 2) {
            usage_error(cmd, "unlink:PATH");
        }
        rc = (unlink(cmd + strlen("unlink:")) == 0) ? 0 : -errno;
        ok = (rc == 0);
    } else if (strcmp(op, "disconnect") == 0) {
        rc = g_lrmd->cmds->disconnect(g_lrmd);
        g_connected = FALSE;
        g_fd = -1;
        ok = (rc == pcmk_ok);
    } else {
        usage_error(cmd, "unknown command");
    }
    g_strfreev(f);
    *rc_out = rc;
    return ok;
}

static void
on_alarm(int sig)
{
    static const char msg[] = "lrmd-driver: overall timeout reached, giving up\n";

    (void) sig;
    (void) write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(3);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "port", required_argument, NULL, 'p' },
        { "node", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    const char *server = NULL, *node = NULL;
    int port = 3121, timeout_s = 600, verbose = 0, c, status = 0;

    while ((c = getopt_long(argc, argv, "s:p:n:t:v", opts, NULL)) != -1) {
        switch (c) {
            case 's': server = optarg; break;
            case 'p': port = atoi(optarg); break;
            case 'n': node = optarg; break;
            case 't': timeout_s = atoi(optarg); break;
            case 'v': verbose++; break;
            default:
                fprintf(stderr, "usage: lrmd-driver --server ADDR [--port P] [--node NAME] "
                        "[--timeout S] [--verbose] CMD...\n");
                return 2;
        }
    }
    if (server == NULL || optind >= argc || timeout_s <= 0) {
        fprintf(stderr, "lrmd-driver: --server and at least one command are required\n");
        return 2;
    }
    signal(SIGALRM, on_alarm);
    alarm((unsigned) timeout_s);
    /* Library messages go to stderr only (no log file for a non-daemon). */
    crm_log_init("lrmd-driver", verbose ? LOG_DEBUG : LOG_WARNING, FALSE, TRUE, 0, NULL, TRUE);

    g_t0 = now_ms();
    g_lrmd = lrmd_remote_api_new(node ? node : server, server, port);
    if (g_lrmd == NULL) {
        fprintf(stderr, "lrmd-driver: lrmd_remote_api_new failed\n");
        return 1;
    }
    g_lrmd->cmds->set_callback(g_lrmd, on_event);

    for (int i = optind; i < argc; i++) {
        const char *cmd = argv[i];
        char mode = (cmd[0] == '!' || cmd[0] == '?') ? cmd[0] : 0;
        long long rc = 0, start = now_ms();
        const char *rc_text = NULL;
        GString *detail = g_string_new("{");
        GString *l;
        gboolean ok;

        ok = run_cmd(i - optind + 1, mode ? cmd + 1 : cmd, &rc, &rc_text, detail);
        if (mode == '!') {
            ok = !ok;
        } else if (mode == '?') {
            ok = TRUE;
        }
        l = g_string_new("{");
        kv_str(l, "kind", "call");
        kv_int(l, "index", i - optind + 1);
        kv_str(l, "cmd", cmd);
        kv_int(l, "rc", rc);
        kv_str(l, "rc_text", rc_text ? rc_text : pcmk_strerror((int) rc));
        json_key(l, "ok");
        g_string_append(l, ok ? "true" : "false");
        kv_int(l, "elapsed_ms", now_ms() - start);
        kv_int(l, "t_ms", now_ms() - g_t0);
        json_key(l, "detail");
        g_string_append(l, detail->str);
        g_string_append_c(l, '}');
        g_string_free(detail, TRUE);
        emit(l);
        if (!ok) {
            fprintf(stderr, "lrmd-driver: command %d '%s' failed: rc=%lld (%s)\n",
                    i - optind + 1, cmd, rc, rc_text ? rc_text : pcmk_strerror((int) rc));
            status = 1;
            break;
        }
    }
    if (g_connected) {
        g_lrmd->cmds->disconnect(g_lrmd);
    }
    lrmd_api_delete(g_lrmd);
    return status;
}
