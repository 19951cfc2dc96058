/* Report writers of ftpc stress. The text says rates in binary units, as the live view and
 * the transfer bars do; the JSON and CSV fields named MB mean 10^6 bytes, as network rates do. */
#include "stress_report.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "progress.h"

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static double per_s(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0.0;
}

/* A JSON string: the few characters a URL or file name may carry that JSON escapes. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The text report's lines fit an 80-column terminal: a line is a label padded to LABEL_W
 * columns, then pieces; a piece that would pass the last column starts a continuation line,
 * indented to where the text after the label starts. */
#define REPORT_W 80
#define LABEL_W 15

typedef struct rline {
    FILE *f;
    int col, indent;
} rline;

/* Starts a line with the label, padded to pad columns; continuation lines are indented to
 * indent columns. */
__attribute__((format(printf, 5, 6))) static void rl_start(rline *l, FILE *f, int pad, int indent,
                                                           const char *fmt, ...)
{
    char label[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(label, sizeof(label), fmt, ap);
    va_end(ap);
    l->f = f;
    l->indent = indent;
    l->col = fprintf(f, "%-*s", pad, label);
}

static void rl_put(rline *l, const char *sep, const char *piece, size_t n)
{
    size_t seplen = strlen(sep);
    if (l->col > l->indent && l->col + (int)(seplen + n) > REPORT_W) {
        while (seplen > 0 && sep[seplen - 1] == ' ')
            seplen--; /* no trailing blank before the break */
        fprintf(l->f, "%.*s\n%*s", (int)seplen, sep, l->indent, "");
        l->col = l->indent;
    } else {
        fputs(sep, l->f);
        l->col += (int)seplen;
    }
    fwrite(piece, 1, n, l->f);
    l->col += (int)n;
}

/* A piece the line breaks only before: "get 12 (0 failed)". */
__attribute__((format(printf, 3, 4))) static void rl_item(rline *l, const char *sep,
                                                          const char *fmt, ...)
{
    char piece[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(piece, sizeof(piece), fmt, ap);
    va_end(ap);
    rl_put(l, sep, piece, strlen(piece));
}

/* Prose the line breaks between words; a '\n' in it (a multi-line reply's text) starts a
 * continuation line. */
__attribute__((format(printf, 3, 4))) static void rl_text(rline *l, const char *sep,
                                                          const char *fmt, ...)
{
    char text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    const char *p = text;
    while (*p != '\0') {
        if (*p == '\n') {
            l->col = REPORT_W; /* the next word breaks the line */
            sep = "";
            p++;
            continue;
        }
        size_t n = strcspn(p, " \n");
        rl_put(l, sep, p, n);
        p += n;
        sep = "";
        while (*p == ' ') {
            sep = " ";
            p++;
        }
    }
}

static void rl_end(rline *l)
{
    fputc('\n', l->f);
}

static void report_own_cost(FILE *f, const stress_result *r)
{
    /* When no client ran, the CPU time is the set-up's: its share is over the set-up's time
     * (over the run's duration, 0 s, it read "0% of one core" after a busy set-up). */
    double over_s = r->no_run ? r->setup_s : r->duration_s;
    rline l;
    rl_start(&l, f, LABEL_W, LABEL_W, "ftpc itself");
    rl_item(&l, "", "CPU user %.2f s", r->cpu_user_s);
    rl_item(&l, ", ", "sys %.2f s (%.0f%% of one core)", r->cpu_sys_s,
            over_s > 0 ? 100.0 * (r->cpu_user_s + r->cpu_sys_s) / over_s : 0.0);
    rl_item(&l, "; ", "peak RSS %ld KiB", r->peak_rss_kib);
    rl_end(&l);
}

/* One row of the latency table. */
static void report_hist_row(FILE *f, const char *name, const stress_hist *h)
{
    if (h->count == 0) {
        /* Nothing measured: 0.000 would read as commands answered at once (a run of refused
         * STORs showed "stor 0 0.000 ..."). The JSON keeps its numbers. */
        fprintf(f, "  %-12s %9d %10s %10s %10s %10s\n", name, 0, "-", "-", "-", "-");
        return;
    }
    fprintf(f, "  %-12s %9" PRIu64 " %10.3f %10.3f %10.3f %10.3f\n", name, h->count,
            ms(stress_hist_pct(h, 50)), ms(stress_hist_pct(h, 90)), ms(stress_hist_pct(h, 99)),
            ms(h->max_us));
}

void stress_report_text(FILE *f, const stress_result *r)
{
    const stress_stats *st = r->st;
    uint64_t ops = stress_stats_ops_total(st);
    rline l;
    /* continuations under the URL */
    rl_start(&l, f, 0, (int)strlen("ftpc stress "), "ftpc stress %s:", r->target);
    rl_item(&l, " ", "%d client%s", r->clients, r->clients == 1 ? "" : "s");
    if (r->no_run)
        rl_item(&l, ", ", "%s after %.2f s of set-up", r->interrupted ? "interrupted" : "stopped",
                r->setup_s);
    else
        rl_item(&l, ", ", "%.2f s%s", r->duration_s, r->interrupted ? " (interrupted)" : "");
    rl_item(&l, ", ", "seed %" PRIu64, r->seed);
    if (r->tls)
        rl_item(&l, ", ", "TLS");
    if (r->compress)
        rl_item(&l, ", ", "MODE Z");
    rl_end(&l);
    rl_start(&l, f, 2, 4, "%s", "");
    rl_item(&l, "", "mix %s", r->mix);
    /* Files move only in gets and puts: "mix login=1, size 65536" named a size never used. */
    if (r->mix_weights == NULL || r->mix_weights[STRESS_OP_GET] > 0 ||
        r->mix_weights[STRESS_OP_PUT] > 0)
        rl_item(&l, ", ", "size %s", r->size);
    rl_end(&l);
    if (r->setup_error != NULL && r->setup_error[0] != '\0') {
        rl_start(&l, f, LABEL_W, LABEL_W, "set-up failed");
        rl_text(&l, "", "%s (exit status %d; no client ran)", r->setup_error, r->exit_status);
        rl_end(&l);
    } else if (r->no_run && r->interrupted) {
        rl_start(&l, f, LABEL_W, LABEL_W, "set-up");
        rl_text(&l, "", "interrupted during the set-up (exit status %d; no client ran)",
                r->exit_status);
        rl_end(&l);
    }
    if (r->no_run) {
        /* No client ran: a table of zero counts and latencies, "errors none" and "0
         * verification failures" would read as a clean run. */
        rl_start(&l, f, LABEL_W, LABEL_W, "throughput");
        rl_text(&l, "", "none: no client ran (the set-up moved %" PRIu64 " bytes)", r->setup_bytes);
        rl_end(&l);
        report_own_cost(f, r);
        return;
    }
    rl_start(&l, f, LABEL_W, LABEL_W, "operations");
    rl_item(&l, "", "%" PRIu64 " (%.1f/s)", ops, per_s(ops, r->duration_s));
    const char *sep = "; ";
    for (int i = 0; i < STRESS_OP_COUNT; i++) {
        /* "get 0 (0 failed), put 0 (0 failed)" after --mix login said nothing: an operation
         * out of the mix is shown only when it ran (the first login of --mix get does). */
        if (r->mix_weights != NULL && r->mix_weights[i] == 0 && st->op_count[i] == 0)
            continue;
        rl_item(&l, sep, "%s %" PRIu64 " (%" PRIu64 " failed)", stress_op_name((stress_op)i),
                st->op_count[i], st->op_errors[i]);
        sep = ", ";
    }
    rl_end(&l);
    if (r->unfinished) {
        rl_start(&l, f, LABEL_W, LABEL_W, "%s", "");
        rl_text(&l, "", "%" PRIu64 " cut off by the end of the run", r->unfinished);
        rl_end(&l);
    }
    if (r->never_in) {
        rl_start(&l, f, LABEL_W, LABEL_W, "clients");
        rl_text(&l, "", "%d of %d never logged in (refused, or not answered before the end)",
                r->never_in, r->clients);
        rl_end(&l);
    }
    if (r->never_started) {
        rl_start(&l, f, LABEL_W, LABEL_W, r->never_in ? "" : "clients");
        rl_text(&l, "", "%d of %d never started (the run ended during the ramp-up)",
                r->never_started, r->clients);
        rl_end(&l);
    }
    /* The live view's units (binary); the JSON keeps its MB/s (10^6) fields. */
    char down[32], up[32];
    progress_rate_str(per_s(st->bytes_down, r->duration_s), down, sizeof(down));
    progress_rate_str(per_s(st->bytes_up, r->duration_s), up, sizeof(up));
    rl_start(&l, f, LABEL_W, LABEL_W, "throughput");
    rl_item(&l, "", "down %s (%" PRIu64 " bytes)", down, st->bytes_down);
    rl_item(&l, ", ", "up %s (%" PRIu64 " bytes)", up, st->bytes_up);
    rl_end(&l);
    /* 68 columns; a latency of hours still fits its column. */
    fprintf(f, "latency (ms)    %9s %10s %10s %10s %10s\n", "count", "p50", "p90", "p99", "max");
    for (int i = 0; i < STRESS_CMD_COUNT; i++)
        report_hist_row(f, stress_cmd_name((stress_cmd)i), &st->cmd[i]);
    /* The live view's p50 and p99 are of whole operations: the report gives them too. */
    report_hist_row(f, "operation", &st->ops);
    rl_start(&l, f, LABEL_W, LABEL_W, "errors");
    if (st->nerrs == 0)
        rl_item(&l, "", "none");
    for (size_t i = 0; i < st->nerrs; i++)
        rl_item(&l, i ? ", " : "", "%s: %" PRIu64, st->errs[i].key, st->errs[i].n);
    if (r->max_errors >= 0 && stress_stats_errors_total(st) > (uint64_t)r->max_errors)
        rl_text(&l, " ", "(more than --max-errors %ld)", r->max_errors);
    rl_end(&l);
    for (size_t i = 0; i < st->nerrs; i++)
        if (st->errs[i].sample[0] != '\0') {
            /* continuations under the text, after "  KEY " */
            int w = 3 + (int)strlen(st->errs[i].key);
            rl_start(&l, f, w, w, "  %s", st->errs[i].key);
            rl_text(&l, "", "%s", st->errs[i].sample);
            rl_end(&l);
        }
    fprintf(f, "verification   %" PRIu64 " failure%s\n", st->verify_failures,
            st->verify_failures == 1 ? "" : "s");
    if (st->hash_busy) {
        rl_start(&l, f, LABEL_W, LABEL_W, "%s", "");
        rl_item(&l, "", "HASH busy %" PRIu64 " time%s (asked again later)", st->hash_busy,
                st->hash_busy == 1 ? "" : "s");
        rl_item(&l, "; ", "%" PRIu64 " upload%s read back instead", st->hash_readback,
                st->hash_readback == 1 ? "" : "s");
        rl_end(&l);
    }
    for (int i = 0; i < r->nvfail; i++) {
        const stress_vfail *v = &r->vfail[i];
        rl_start(&l, f, 2, 4, "%s", "");
        rl_item(&l, "", "client %s", v->who);
        if (v->offset == UINT64_MAX) {
            rl_item(&l, ", ", "file %s:", v->file);
            rl_item(&l, " ", "HASH differs");
        } else {
            rl_item(&l, ", ", "file %s", v->file);
            rl_item(&l, ", ", "offset %" PRIu64, v->offset);
        }
        if (v->times > 1)
            rl_item(&l, " ", "(%" PRIu64 " times)", v->times);
        rl_end(&l);
    }
    rl_start(&l, f, LABEL_W, LABEL_W, "faults");
    rl_item(&l, "", "%" PRIu64 " injected", st->faults_abort + st->faults_drop);
    rl_item(&l, " ", "(%" PRIu64 " ABOR, %" PRIu64 " dropped)", st->faults_abort, st->faults_drop);
    rl_end(&l);
    report_own_cost(f, r);
}

static void json_hist(FILE *f, const stress_hist *h)
{
    fprintf(f,
            "{\"count\": %" PRIu64 ", \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}",
            h->count, ms(stress_hist_pct(h, 50)), ms(stress_hist_pct(h, 90)),
            ms(stress_hist_pct(h, 99)), ms(h->max_us));
}

void stress_report_json(FILE *f, const stress_result *r)
{
    const stress_stats *st = r->st;
    uint64_t ops = stress_stats_ops_total(st);
    fprintf(f, "{\n  \"target\": ");
    json_str(f, r->target);
    fprintf(f, ",\n  \"clients\": %d,\n  \"clients_requested\": %d,\n", r->clients,
            r->clients_requested);
    fprintf(f, "  \"duration_s\": %.6f,\n", r->duration_s);
    if (r->iterations > 0)
        fprintf(f, "  \"iterations\": %ld,\n", r->iterations);
    else
        fprintf(f, "  \"iterations\": null,\n");
    fprintf(f, "  \"seed\": %" PRIu64 ",\n  \"mix\": ", r->seed);
    json_str(f, r->mix);
    fprintf(f, ",\n  \"size\": ");
    json_str(f, r->size);
    fprintf(f, ",\n  \"tls\": %s,\n  \"compress\": %s,\n", r->tls ? "true" : "false",
            r->compress ? "true" : "false");
    fprintf(f, "  \"setup_error\": ");
    if (r->setup_error != NULL && r->setup_error[0] != '\0')
        json_str(f, r->setup_error);
    else
        fprintf(f, "null");
    fprintf(f, ",\n  \"interrupted\": ");
    if (r->interrupted != NULL)
        json_str(f, r->interrupted);
    else
        fprintf(f, "null");
    fprintf(f, ",\n  \"setup_s\": %.6f,\n  \"setup_bytes\": %" PRIu64 ",\n", r->setup_s,
            r->setup_bytes);
    fprintf(f, "  \"ops_total\": %" PRIu64 ",\n  \"ops_per_s\": %.2f,\n", ops,
            per_s(ops, r->duration_s));
    fprintf(f, "  \"bytes_down\": %" PRIu64 ",\n  \"bytes_up\": %" PRIu64 ",\n", st->bytes_down,
            st->bytes_up);
    fprintf(f, "  \"mb_per_s_down\": %.3f,\n  \"mb_per_s_up\": %.3f,\n",
            per_s(st->bytes_down, r->duration_s) / 1e6, per_s(st->bytes_up, r->duration_s) / 1e6);
    fprintf(f, "  \"latency_ms\": {");
    for (int i = 0; i < STRESS_CMD_COUNT; i++) {
        fprintf(f, "%s\n    \"%s\": ", i ? "," : "", stress_cmd_name((stress_cmd)i));
        json_hist(f, &st->cmd[i]);
    }
    fprintf(f, "\n  },\n  \"op_latency_ms\": ");
    json_hist(f, &st->ops);
    fprintf(f, ",\n  \"ops\": {");
    /* The order of the schema: get, put, list, login. */
    static const stress_op order[STRESS_OP_COUNT] = {STRESS_OP_GET, STRESS_OP_PUT, STRESS_OP_LIST,
                                                     STRESS_OP_LOGIN};
    for (int k = 0; k < STRESS_OP_COUNT; k++) {
        stress_op i = order[k];
        fprintf(f, "%s\n    \"%s\": {\"count\": %" PRIu64 ", \"errors\": %" PRIu64 "}",
                k ? "," : "", stress_op_name(i), st->op_count[i], st->op_errors[i]);
    }
    fprintf(f,
            "\n  },\n  \"ops_unfinished\": %" PRIu64
            ",\n  \"clients_never_logged_in\": %d,\n  \"clients_never_started\": %d,\n"
            "  \"errors_by_code\": {",
            r->unfinished, r->never_in, r->never_started);
    for (size_t i = 0; i < st->nerrs; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, st->errs[i].key);
        fprintf(f, ": %" PRIu64, st->errs[i].n);
    }
    fprintf(f, "},\n  \"error_replies\": {");
    bool first = true;
    for (size_t i = 0; i < st->nerrs; i++) {
        if (st->errs[i].sample[0] == '\0' || !isdigit((unsigned char)st->errs[i].key[0]))
            continue; /* a reply's text; the others' meanings are in the text report */
        fprintf(f, "%s", first ? "" : ", ");
        first = false;
        json_str(f, st->errs[i].key);
        fprintf(f, ": ");
        json_str(f, st->errs[i].sample);
    }
    fprintf(f, "},\n  \"verify_failures\": %" PRIu64 ",\n  \"verify_failures_detail\": [",
            st->verify_failures);
    for (int i = 0; i < r->nvfail; i++) {
        const stress_vfail *v = &r->vfail[i];
        fprintf(f, "%s\n    {\"client\": ", i ? "," : "");
        json_str(f, v->who);
        fprintf(f, ", \"file\": ");
        json_str(f, v->file);
        if (v->offset == UINT64_MAX)
            fprintf(f, ", \"offset\": null, \"what\": \"hash\"");
        else
            fprintf(f, ", \"offset\": %" PRIu64 ", \"expected\": %d, \"got\": %d", v->offset,
                    v->expected, v->got);
        fprintf(f, ", \"times\": %" PRIu64 "}", v->times);
    }
    fprintf(f, "%s],\n", r->nvfail ? "\n  " : "");
    fprintf(f, "  \"faults_injected\": %" PRIu64 ",\n", st->faults_abort + st->faults_drop);
    fprintf(f, "  \"hash_busy\": %" PRIu64 ",\n  \"hash_readback\": %" PRIu64 ",\n", st->hash_busy,
            st->hash_readback);
    fprintf(f, "  \"faults\": {\"abort\": %" PRIu64 ", \"drop\": %" PRIu64 "},\n", st->faults_abort,
            st->faults_drop);
    fprintf(f, "  \"cpu_user_s\": %.3f,\n  \"cpu_sys_s\": %.3f,\n  \"peak_rss_kib\": %ld,\n",
            r->cpu_user_s, r->cpu_sys_s, r->peak_rss_kib);
    fprintf(f, "  \"exit_status\": %d\n}\n", r->exit_status);
}

void stress_report_csv(FILE *f, const stress_result *r)
{
    fprintf(f, "command,count,p50_ms,p90_ms,p99_ms,max_ms\n");
    for (int i = 0; i < STRESS_CMD_COUNT; i++) {
        const stress_hist *h = &r->st->cmd[i];
        fprintf(f, "%s,%" PRIu64 ",%.3f,%.3f,%.3f,%.3f\n", stress_cmd_name((stress_cmd)i), h->count,
                ms(stress_hist_pct(h, 50)), ms(stress_hist_pct(h, 90)), ms(stress_hist_pct(h, 99)),
                ms(h->max_us));
    }
}
