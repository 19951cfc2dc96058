/* Report writers of ftpc stress. The text says rates in binary units, as the live view and
 * the transfer bars do; the JSON and CSV fields named MB mean 10^6 bytes, as network rates do. */
#include "stress_report.h"

#include <ctype.h>
#include <inttypes.h>
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

static void report_own_cost(FILE *f, const stress_result *r)
{
    fprintf(f,
            "ftpc itself    CPU user %.2f s, sys %.2f s (%.0f%% of one core); peak RSS %ld KiB\n",
            r->cpu_user_s, r->cpu_sys_s,
            r->duration_s > 0 ? 100.0 * (r->cpu_user_s + r->cpu_sys_s) / r->duration_s : 0.0,
            r->peak_rss_kib);
}

void stress_report_text(FILE *f, const stress_result *r)
{
    const stress_stats *st = r->st;
    uint64_t ops = stress_stats_ops_total(st);
    char when[64];
    if (r->no_run)
        snprintf(when, sizeof(when), "%s after %.2f s of set-up",
                 r->interrupted ? "interrupted" : "stopped", r->setup_s);
    else
        snprintf(when, sizeof(when), "%.2f s%s", r->duration_s,
                 r->interrupted ? " (interrupted)" : "");
    fprintf(f, "ftpc stress %s: %d client%s, %s, seed %" PRIu64 "%s%s\n", r->target, r->clients,
            r->clients == 1 ? "" : "s", when, r->seed, r->tls ? ", TLS" : "",
            r->compress ? ", MODE Z" : "");
    fprintf(f, "  mix %s, size %s\n", r->mix, r->size);
    if (r->setup_error != NULL && r->setup_error[0] != '\0')
        fprintf(f, "set-up failed  %s (exit status %d; no client ran)\n", r->setup_error,
                r->exit_status);
    else if (r->no_run && r->interrupted)
        fprintf(f, "set-up         interrupted during the set-up (exit status %d; no client ran)\n",
                r->exit_status);
    if (r->no_run) {
        /* No client ran: a table of zero counts and latencies, "errors none" and "0
         * verification failures" would read as a clean run. */
        fprintf(f, "throughput     none: no client ran (the set-up moved %" PRIu64 " bytes)\n",
                r->setup_bytes);
        report_own_cost(f, r);
        return;
    }
    fprintf(f, "operations     %" PRIu64 " (%.1f/s)", ops, per_s(ops, r->duration_s));
    for (int i = 0; i < STRESS_OP_COUNT; i++)
        fprintf(f, "%s %s %" PRIu64 " (%" PRIu64 " failed)", i ? "," : ";",
                stress_op_name((stress_op)i), st->op_count[i], st->op_errors[i]);
    fputc('\n', f);
    if (r->unfinished)
        fprintf(f, "               %" PRIu64 " cut off by the end of the run\n", r->unfinished);
    if (r->never_in)
        fprintf(
            f,
            "clients        %d of %d never logged in (refused, or not answered before the end)\n",
            r->never_in, r->clients);
    /* The live view's units (binary); the JSON keeps its MB/s (10^6) fields. */
    char down[32], up[32];
    progress_rate_str(per_s(st->bytes_down, r->duration_s), down, sizeof(down));
    progress_rate_str(per_s(st->bytes_up, r->duration_s), up, sizeof(up));
    fprintf(f, "throughput     down %s (%" PRIu64 " bytes), up %s (%" PRIu64 " bytes)\n", down,
            st->bytes_down, up, st->bytes_up);
    fprintf(f, "latency (ms)   %8s %9s %9s %9s %9s\n", "count", "p50", "p90", "p99", "max");
    for (int i = 0; i < STRESS_CMD_COUNT; i++) {
        const stress_hist *h = &st->cmd[i];
        fprintf(f, "  %-12s %8" PRIu64 " %9.3f %9.3f %9.3f %9.3f\n", stress_cmd_name((stress_cmd)i),
                h->count, ms(stress_hist_pct(h, 50)), ms(stress_hist_pct(h, 90)),
                ms(stress_hist_pct(h, 99)), ms(h->max_us));
    }
    fprintf(f, "errors         ");
    if (st->nerrs == 0)
        fprintf(f, "none");
    for (size_t i = 0; i < st->nerrs; i++)
        fprintf(f, "%s%s: %" PRIu64, i ? ", " : "", st->errs[i].key, st->errs[i].n);
    fputc('\n', f);
    for (size_t i = 0; i < st->nerrs; i++)
        if (st->errs[i].sample[0] != '\0')
            fprintf(f, "  %s %s\n", st->errs[i].key, st->errs[i].sample);
    fprintf(f, "verification   %" PRIu64 " failure%s\n", st->verify_failures,
            st->verify_failures == 1 ? "" : "s");
    if (st->hash_busy)
        fprintf(f,
                "               HASH busy %" PRIu64 " time%s (asked again later); %" PRIu64
                " upload%s read back instead\n",
                st->hash_busy, st->hash_busy == 1 ? "" : "s", st->hash_readback,
                st->hash_readback == 1 ? "" : "s");
    for (int i = 0; i < r->nvfail; i++) {
        const stress_vfail *v = &r->vfail[i];
        if (v->offset == UINT64_MAX)
            fprintf(f, "  client %s, file %s: HASH differs\n", v->who, v->file);
        else
            fprintf(f, "  client %s, file %s, offset %" PRIu64 "\n", v->who, v->file, v->offset);
    }
    fprintf(f, "faults         %" PRIu64 " injected (%" PRIu64 " ABOR, %" PRIu64 " dropped)\n",
            st->faults_abort + st->faults_drop, st->faults_abort, st->faults_drop);
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
    fprintf(f, "\n  },\n  \"ops\": {");
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
            ",\n  \"clients_never_logged_in\": %d,\n  \"errors_by_code\": {",
            r->unfinished, r->never_in);
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
            fprintf(f, ", \"offset\": null, \"what\": \"hash\"}");
        else
            fprintf(f, ", \"offset\": %" PRIu64 ", \"expected\": %d, \"got\": %d}", v->offset,
                    v->expected, v->got);
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
