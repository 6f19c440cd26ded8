/* kyso audit tail | export | report: reading the audit trail for people
 * and for the periodic report of rule M9. Streams the logs (bounded
 * memory, whatever their size); verifies nothing (kyso audit verify does).
 *
 *   kyso audit tail [--log FILE] [-n N] [--follow]
 *   kyso audit export [--log FILE]... --format csv|json|jsonl [filters] [--bom] [-o FILE]
 *   kyso audit report [--log FILE]... [--period PERIOD|previous|current] [--at TIME]
 *                     [--format text|csv|json|pdf] [-o FILE] [PDF options]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/report.h"
#include "policy/config.h"
#include "tools/cli/audit_cmds.h"
#include "tools/cli/audit_report_pdf.h"

#define MAX_LOGS 64

static const char tail_help[] =
    "usage: kyso audit tail [--log FILE] [-n N] [--follow]\n"
    "  The last N records (default 10), one per line: time, event, user/program, the\n"
    "  certificate holder (title), token, key, mechanism, outcome, rule, detail.\n"
    "  --follow keeps printing new records (and follows a rotation) until Ctrl-C.\n";

static const char export_help[] =
    "usage: kyso audit export [--log FILE]... --format csv|json|jsonl [-o FILE] [--bom]\n"
    "         [--from TIME] [--to TIME] [--person TEXT] [--cert SHA256-PREFIX|SERIAL]\n"
    "         [--token SERIAL] [--program NAME] [--outcome CKR_...|ok|failed] [--event EVENT]\n"
    "  The records that match every filter (a filter given twice matches either value).\n"
    "  TIME: YYYY-MM-DD or ISO 8601 UTC (2026-06-30T23:59:59Z); both ends inclusive, at the\n"
    "  precision written (--to 2026-06-30 includes the whole day). --person: part of the\n"
    "  holder's name, case and accents ignored. Logs are read in the order given\n"
    "  (archives first); \"-\" is standard input.\n"
    "  csv: RFC 4180, UTF-8, CRLF, a header row of stable column names; a cell starting\n"
    "  with = + - @ gets a leading ' (spreadsheet formulas); --bom adds a byte order mark\n"
    "  for Excel. json: an array of the records as logged; jsonl: one record per line.\n";

static const char report_help[] =
    "usage: kyso audit report [--log FILE]... [--period PERIOD] [--at TIME]\n"
    "         [--format text|csv|json|pdf] [-o FILE]\n"
    "         [--key FILE [--checkpoint SEQ:HASH]] [--registry DIR] [--number TEXT] [--place PLACE]\n"
    "  The usage report of rule M9: counts per agency, person, certificate, token,\n"
    "  program, OS user and outcome; refusals per rule; PIN failures and lock-outs.\n"
    "  PERIOD: 2026 (the year), 2026-H1 (Jan 1 .. Jun 30), 2026-H2 (Jul 1 .. Dec 31), or\n"
    "  FROM..TO (dates or ISO 8601 UTC times, both inclusive); all these in UTC.\n"
    "  previous (the default) is the last complete period of root's profile (kyso.conf\n"
    "  profile = ...), current the one running, in Vietnam's local days (UTC+07:00):\n"
    "  halves for an-giang-2016 and ha-tinh-2020, years for nd68-2024 and hoa-binh-2020,\n"
    "  and for tien-giang-2015 the year from 16/11 to 15/11. --at TIME: the time taken\n"
    "  as now (for previous/current and the printed report's date; default: now).\n"
    "  csv: one long table, columns section,key,label,metric,value.\n"
    "  pdf (needs -o FILE.pdf): the administrative report in Vietnamese, A4, for the\n"
    "  issuing body of kyso.conf [agency]: its sources, the usage tables, refusals by\n"
    "  rule, PIN lock-outs and recoveries, the registry's handovers, losses, revocation\n"
    "  requests and off-premises permissions of the period (--registry DIR, default\n"
    "  root's), tokens due back, the next period's plan where the profile asks for one.\n"
    "  With --key (the auditor's key, as kyso audit verify) the logs are verified first\n"
    "  and a log that does not verify is stated in bold on page 1; without it the\n"
    "  report says they could not be checked (exit status 3: written, but a log does\n"
    "  not verify). The text, csv and json reports verify nothing: run kyso audit verify.\n";

__attribute__((format(printf, 2, 3))) static int bad_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kyso: audit %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (kyso audit %s --help)\n", cmd);
    return 2;
}

static int fail_line(const char *cmd, const char *what)
{
    fprintf(stderr, "kyso: audit %s: %s\n", cmd, what);
    return 1;
}

/* The option's value, or NULL after a usage error. */
static const char *value_of(int argc, char **argv, int *i, const char *cmd)
{
    if (*i + 1 >= argc) {
        bad_usage(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* Every log must be readable before any output is made. */
static int check_logs(const char *cmd, const char *const *logs, size_t n)
{
    char err[600];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(logs[i], "-") == 0)
            continue;
        int fd = open(logs[i], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0) {
            snprintf(err, sizeof(err), "cannot open %s: %s", logs[i], strerror(errno));
            return fail_line(cmd, err);
        }
        bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        close(fd);
        if (dir) {
            snprintf(err, sizeof(err), "cannot read %s: it is a directory", logs[i]);
            return fail_line(cmd, err);
        }
    }
    return 0;
}

/* True (said on stderr) when path is one of the logs being read. */
static bool output_is_log(const char *cmd, const char *path, const char *const *logs, size_t n)
{
    struct stat so, sl;
    char err[600];
    if (stat(path, &so) == 0)
        for (size_t i = 0; i < n; i++)
            if (strcmp(logs[i], "-") != 0 && stat(logs[i], &sl) == 0 && sl.st_dev == so.st_dev &&
                sl.st_ino == so.st_ino) {
                snprintf(err, sizeof(err), "-o %s is one of the logs being read", path);
                fail_line(cmd, err);
                return true;
            }
    return false;
}

/* -o FILE (or standard output); never one of the logs being read. */
static FILE *open_output(const char *cmd, const char *path, const char *const *logs, size_t n)
{
    char err[600];
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    if (output_is_log(cmd, path, logs, n))
        return NULL;
    FILE *f = fopen(path, "we");
    if (!f) {
        snprintf(err, sizeof(err), "cannot write %s: %s", path, strerror(errno));
        fail_line(cmd, err);
    }
    return f;
}

static int close_output(const char *cmd, FILE *f, const char *path)
{
    char err[600];
    if (f == stdout) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            snprintf(err, sizeof(err), "cannot write to the standard output: %s", strerror(errno));
            return fail_line(cmd, err);
        }
        return 0;
    }
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0)
        bad = true;
    if (bad) {
        snprintf(err, sizeof(err), "cannot write %s: %s", path, strerror(errno));
        unlink(path); /* no partial report left behind */
        return fail_line(cmd, err);
    }
    return 0;
}

static void scan_notes(const char *cmd, const struct audit_scan_stats *st)
{
    if (st->malformed)
        fprintf(stderr, "kyso: audit %s: %" PRIu64 " malformed line(s) skipped (first: %s:%" PRIu64 ": %s)\n", cmd,
                st->malformed, st->examples[0].file, st->examples[0].line, st->examples[0].reason);
    if (st->incomplete)
        fprintf(stderr, "kyso: audit %s: %" PRIu64 " incomplete last line(s) skipped (being written, or torn)\n",
                cmd, st->incomplete);
}

/* ---- export ---- */

struct export_ctx {
    const struct audit_filter *filter;
    struct audit_export x;
};

static int export_one(const struct audit_record *r, void *arg)
{
    struct export_ctx *c = arg;
    if (!audit_filter_match(c->filter, r))
        return 0;
    audit_export_record(&c->x, r);
    return ferror(c->x.out) ? 2 : 0; /* stop at once on a full disk */
}

int audit_cmd_export(int argc, char **argv, const char *default_log)
{
    static const struct {
        const char *opt;
        enum audit_filter_field field;
    } filters[] = {
        { "--from", AUDIT_FILTER_FROM },       { "--to", AUDIT_FILTER_TO },
        { "--person", AUDIT_FILTER_PERSON },   { "--cert", AUDIT_FILTER_CERT },
        { "--token", AUDIT_FILTER_TOKEN },     { "--program", AUDIT_FILTER_PROGRAM },
        { "--outcome", AUDIT_FILTER_OUTCOME }, { "--event", AUDIT_FILTER_EVENT },
    };
    const char *cmd = "export", *logs[MAX_LOGS], *out_path = NULL, *v;
    size_t nlogs = 0;
    bool bom = false, have_format = false;
    enum audit_export_format format = AUDIT_EXPORT_CSV;
    char err[600];
    struct audit_filter *filter = malloc(sizeof(*filter));
    int rc = 2;

    if (!filter)
        return fail_line(cmd, "out of memory");
    audit_filter_init(filter);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        size_t k;
        for (k = 0; k < sizeof(filters) / sizeof(filters[0]); k++)
            if (strcmp(a, filters[k].opt) == 0)
                break;
        if (k < sizeof(filters) / sizeof(filters[0])) {
            if (!(v = value_of(argc, argv, &i, cmd)))
                goto out;
            if (audit_filter_add(filter, filters[k].field, v, err, sizeof(err)) != 0) {
                bad_usage(cmd, "%s", err);
                goto out;
            }
        } else if (strcmp(a, "--log") == 0) {
            if (!(v = value_of(argc, argv, &i, cmd)))
                goto out;
            if (nlogs == MAX_LOGS) {
                bad_usage(cmd, "at most %d logs", MAX_LOGS);
                goto out;
            }
            logs[nlogs++] = v;
        } else if (strcmp(a, "--format") == 0) {
            if (!(v = value_of(argc, argv, &i, cmd)))
                goto out;
            if (strcmp(v, "csv") == 0)
                format = AUDIT_EXPORT_CSV;
            else if (strcmp(v, "json") == 0)
                format = AUDIT_EXPORT_JSON;
            else if (strcmp(v, "jsonl") == 0)
                format = AUDIT_EXPORT_JSONL;
            else {
                bad_usage(cmd, "unknown format \"%s\" (csv, json or jsonl)", v);
                goto out;
            }
            have_format = true;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!(out_path = value_of(argc, argv, &i, cmd)))
                goto out;
        } else if (strcmp(a, "--bom") == 0) {
            bom = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(export_help, stdout);
            rc = 0;
            goto out;
        } else {
            bad_usage(cmd, "unknown argument \"%s\"", a);
            goto out;
        }
    }
    if (!have_format) {
        bad_usage(cmd, "give --format csv, json or jsonl");
        goto out;
    }
    if (bom && format != AUDIT_EXPORT_CSV) {
        bad_usage(cmd, "--bom is for --format csv");
        goto out;
    }
    if (nlogs == 0)
        logs[nlogs++] = default_log;
    if ((rc = check_logs(cmd, logs, nlogs)) != 0)
        goto out;
    FILE *out = open_output(cmd, out_path, logs, nlogs);
    if (!out) {
        rc = 1;
        goto out;
    }
    struct export_ctx ctx = { .filter = filter };
    struct audit_scan_stats st;
    audit_export_begin(&ctx.x, out, format, bom);
    int scan = audit_scan_files(logs, nlogs, export_one, &ctx, &st, err, sizeof(err));
    audit_export_end(&ctx.x);
    if (scan == 2)
        snprintf(err, sizeof(err), "cannot write %s: %s", out_path ? out_path : "the standard output",
                 strerror(errno));
    if (scan != 0) {
        if (out != stdout) {
            fclose(out);
            unlink(out_path);
        }
        rc = fail_line(cmd, err);
        goto out;
    }
    rc = close_output(cmd, out, out_path);
    if (rc == 0) {
        scan_notes(cmd, &st);
        if (out != stdout)
            fprintf(stderr, "kyso: audit export: %" PRIu64 " of %" PRIu64 " records written to %s\n",
                    ctx.x.written, st.records, out_path);
    }
out:
    free(filter);
    return rc;
}

/* ---- report ---- */

/* The period: explicit, or the profile's (root's kyso.conf) last complete
 * one ("previous", the default) or current one, at now. */
static int report_period(const char *cmd, const char *text, int64_t now, const struct policy_profile *prof,
                         struct audit_period *period)
{
    char err[600];
    if (text && strcmp(text, "previous") != 0 && strcmp(text, "current") != 0) {
        if (audit_period_parse(text, period, err, sizeof(err)) != 0)
            return bad_usage(cmd, "%s", err);
        return 0;
    }
    enum audit_period_which which = text && strcmp(text, "current") == 0 ? AUDIT_PERIOD_CURRENT : AUDIT_PERIOD_PREVIOUS;
    if (audit_period_for_profile(prof->report_period_months, prof->report_due, now, which, period, err,
                                 sizeof(err)) != 0)
        return fail_line(cmd, err);
    return 0;
}

struct report_args {
    const char *logs[MAX_LOGS], *out_path, *period_text, *at;
    size_t nlogs;
    int format; /* an audit_report_format, or FORMAT_PDF */
    struct audit_pdf_options pdf;
    bool pdf_only; /* an option only the PDF takes was given */
};
#define FORMAT_PDF 100

static int report_parse(int argc, char **argv, struct report_args *a)
{
    const char *cmd = "report", *v;
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        const char **pdf_value = strcmp(opt, "--key") == 0          ? &a->pdf.key_file
                                 : strcmp(opt, "--checkpoint") == 0 ? &a->pdf.checkpoint
                                 : strcmp(opt, "--registry") == 0   ? &a->pdf.registry
                                 : strcmp(opt, "--number") == 0     ? &a->pdf.number
                                 : strcmp(opt, "--place") == 0      ? &a->pdf.place
                                                                    : NULL;
        if (pdf_value) {
            if (!(*pdf_value = value_of(argc, argv, &i, cmd)))
                return 2;
            a->pdf_only = true;
        } else if (strcmp(opt, "--log") == 0) {
            if (!(v = value_of(argc, argv, &i, cmd)))
                return 2;
            if (a->nlogs == MAX_LOGS)
                return bad_usage(cmd, "at most %d logs", MAX_LOGS);
            a->logs[a->nlogs++] = v;
        } else if (strcmp(opt, "--period") == 0) {
            if (!(a->period_text = value_of(argc, argv, &i, cmd)))
                return 2;
        } else if (strcmp(opt, "--at") == 0) {
            if (!(a->at = value_of(argc, argv, &i, cmd)))
                return 2;
        } else if (strcmp(opt, "--format") == 0) {
            if (!(v = value_of(argc, argv, &i, cmd)))
                return 2;
            if (strcmp(v, "text") == 0)
                a->format = AUDIT_REPORT_TEXT;
            else if (strcmp(v, "csv") == 0)
                a->format = AUDIT_REPORT_CSV;
            else if (strcmp(v, "json") == 0)
                a->format = AUDIT_REPORT_JSON;
            else if (strcmp(v, "pdf") == 0)
                a->format = FORMAT_PDF;
            else
                return bad_usage(cmd, "unknown format \"%s\" (text, csv, json or pdf)", v);
        } else if (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0) {
            if (!(a->out_path = value_of(argc, argv, &i, cmd)))
                return 2;
        } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(report_help, stdout);
            return -1;
        } else {
            return bad_usage(cmd, "unknown argument \"%s\"", opt);
        }
    }
    if (a->pdf_only && a->format != FORMAT_PDF)
        return bad_usage(cmd, "--key, --checkpoint, --registry, --number and --place are for --format pdf");
    if (a->format == FORMAT_PDF && (!a->out_path || strcmp(a->out_path, "-") == 0))
        return bad_usage(cmd, "--format pdf needs -o FILE.pdf");
    if (a->pdf.checkpoint && !a->pdf.key_file)
        return bad_usage(cmd, "--checkpoint needs --key (the auditor's key)");
    return 0;
}

/* Root's configuration: the profile (for the default period) and the agency (for the PDF). */
struct report_conf {
    const struct policy_profile *profile;
    char agency_name[256], agency_parent[256], province[128];
};

static int report_conf(const char *cmd, bool pdf, struct report_conf *rc)
{
    struct policy_config *pc = policy_config_acquire();
    char err[700];
    int status = 0;
    if (!pc)
        return fail_line(cmd, "out of memory");
    if (pc->broken) {
        snprintf(err, sizeof(err), "root's configuration is refused: %s", pc->problems[0]);
        status = fail_line(cmd, err);
    } else if (pdf && !pc->agency_name[0]) {
        status = fail_line(cmd, "kyso.conf names no agency ([agency] name): the printed report needs its issuing body");
    } else {
        rc->profile = pc->profile;
        snprintf(rc->agency_name, sizeof(rc->agency_name), "%s", pc->agency_name);
        snprintf(rc->agency_parent, sizeof(rc->agency_parent), "%s", pc->agency_parent);
        snprintf(rc->province, sizeof(rc->province), "%s", pc->agency_province);
    }
    policy_config_release(pc);
    return status;
}

int audit_cmd_report(int argc, char **argv, const char *default_log)
{
    const char *cmd = "report";
    struct report_args *a = calloc(1, sizeof(*a));
    struct report_conf conf;
    struct audit_period period;
    char err[600];
    int rc;

    if (!a)
        return fail_line(cmd, "out of memory");
    a->format = AUDIT_REPORT_TEXT;
    if ((rc = report_parse(argc, argv, a)) != 0) {
        free(a);
        return rc < 0 ? 0 : rc;
    }
    int64_t now = (int64_t)time(NULL) * 1000, hi;
    if (a->at && audit_time_parse(a->at, &now, &hi) != 0) {
        rc = bad_usage(cmd, "bad --at \"%.64s\" (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", a->at);
        goto out;
    }
    a->pdf.now = now;
    bool pdf = a->format == FORMAT_PDF;
    bool need_conf = pdf || !a->period_text || strcmp(a->period_text, "previous") == 0 ||
                     strcmp(a->period_text, "current") == 0;
    if (need_conf && (rc = report_conf(cmd, pdf, &conf)) != 0)
        goto out;
    if ((rc = report_period(cmd, a->period_text, now, need_conf ? conf.profile : NULL, &period)) != 0)
        goto out;
    if (a->nlogs == 0)
        a->logs[a->nlogs++] = default_log;
    if ((rc = check_logs(cmd, a->logs, a->nlogs)) != 0)
        goto out;
    if (pdf && output_is_log(cmd, a->out_path, a->logs, a->nlogs)) {
        rc = 1;
        goto out;
    }
    struct audit_report *rep = audit_report_new(&period);
    if (!rep) {
        rc = fail_line(cmd, "out of memory");
        goto out;
    }
    struct audit_scan_stats st;
    if (audit_scan_files(a->logs, a->nlogs, audit_report_add_fn, rep, &st, err, sizeof(err)) != 0) {
        audit_report_free(rep);
        rc = fail_line(cmd, err);
        goto out;
    }
    if (pdf) {
        struct audit_pdf_input in = { .rep = rep, .period = &period, .scan = &st, .logs = a->logs,
                                      .nlogs = a->nlogs, .profile = conf.profile, .agency_name = conf.agency_name,
                                      .agency_parent = conf.agency_parent, .province = conf.province,
                                      .out_path = a->out_path };
        int written = audit_report_pdf(&in, &a->pdf, err, sizeof(err));
        audit_report_free(rep);
        if (written < 0) {
            rc = fail_line(cmd, err);
            goto out;
        }
        scan_notes(cmd, &st);
        fprintf(stderr, "kyso: audit report: %s written (period %s)\n", a->out_path, period.name);
        /* Written, but it reports on a log that does not verify: status 3. */
        rc = written ? 3 : 0;
        if (written)
            fail_line(cmd, err);
        goto out;
    }
    /* The output is opened only now: a failed read leaves no half report. */
    FILE *out = open_output(cmd, a->out_path, a->logs, a->nlogs);
    if (!out) {
        audit_report_free(rep);
        rc = 1;
        goto out;
    }
    audit_report_write(rep, out, (enum audit_report_format)a->format, a->logs, a->nlogs, &st);
    audit_report_free(rep);
    rc = close_output(cmd, out, a->out_path);
    if (rc == 0 && out != stdout)
        scan_notes(cmd, &st);
out:
    free(a);
    return rc;
}

/* ---- tail ---- */

static volatile sig_atomic_t tail_stop;

static void tail_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

/* Prints the complete lines from the reader up to file offset limit. */
static int print_lines(struct audit_lines *lr, struct audit_parser *p, uint64_t limit)
{
    char text[4096];
    for (;;) {
        const char *line, *why;
        size_t len;
        struct audit_record rec;
        if (lr->pos >= limit)
            return 0;
        enum audit_line_status ls = audit_lines_next(lr, &line, &len);
        switch (ls) {
        case AUDIT_LINE_OK:
            if (audit_parser_parse(p, line, len, &rec, &why) == 0) {
                audit_record_summary(&rec, text, sizeof(text));
                puts(text);
            } else {
                printf("(malformed line: %s)\n", why);
            }
            break;
        case AUDIT_LINE_TOO_LONG:
            puts("(malformed line: line too long)");
            break;
        case AUDIT_LINE_PARTIAL:
        case AUDIT_LINE_EOF:
            return 0;
        case AUDIT_LINE_ERROR:
            return -1;
        }
    }
}

static int reopen(struct audit_lines *lr, const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        close(fd);
        return -1;
    }
    audit_lines_close(lr);
    if (audit_lines_fdopen(lr, fd, 0) != 0) {
        close(fd);
        return -1;
    }
    lr->own_fd = true;
    return 0;
}

int audit_cmd_tail(int argc, char **argv, const char *default_log)
{
    const char *cmd = "tail", *path = default_log, *v;
    uint64_t n = 10;
    bool follow = false;
    char err[600];

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--log") == 0) {
            if (!(path = value_of(argc, argv, &i, cmd)))
                return 2;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0) {
            char *end;
            if (!(v = value_of(argc, argv, &i, cmd)))
                return 2;
            errno = 0;
            unsigned long long x = strtoull(v, &end, 10);
            if (*v < '0' || *v > '9' || *end || errno)
                return bad_usage(cmd, "-n needs a number of records, not \"%s\"", v);
            n = x;
        } else if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0) {
            follow = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(tail_help, stdout);
            return 0;
        } else {
            return bad_usage(cmd, "unknown argument \"%s\"", a);
        }
    }
    if (strcmp(path, "-") == 0)
        return bad_usage(cmd, "needs a file, not the standard input");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat cur;
    if (fd < 0) {
        snprintf(err, sizeof(err), "cannot open %s: %s", path, strerror(errno));
        return fail_line(cmd, err);
    }
    if (fstat(fd, &cur) != 0 || !S_ISREG(cur.st_mode)) {
        close(fd);
        snprintf(err, sizeof(err), "%s is not a regular file", path);
        return fail_line(cmd, err);
    }
    uint64_t start, end;
    if (audit_tail_offsets(fd, n, &start, &end) != 0 || lseek(fd, (off_t)start, SEEK_SET) < 0) {
        snprintf(err, sizeof(err), "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return fail_line(cmd, err);
    }
    struct audit_lines lr;
    struct audit_parser *parser = audit_parser_new();
    if (!parser || audit_lines_fdopen(&lr, fd, start) != 0) {
        close(fd);
        audit_parser_free(parser);
        return fail_line(cmd, "out of memory");
    }
    lr.own_fd = true;
    int rc = print_lines(&lr, parser, follow ? UINT64_MAX : end);
    if (follow && rc == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = tail_signal; /* no SA_RESTART: the sleep ends at once */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        while (!tail_stop && rc == 0) {
            fflush(stdout);
            struct timespec nap = { 0, 200 * 1000 * 1000 };
            nanosleep(&nap, NULL);
            if (tail_stop)
                break;
            struct stat now;
            if (stat(path, &now) != 0)
                continue; /* between a rotation's rename and the new file */
            if (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev) {
                /* Rotated: finish the old file, then follow the new one from its start. */
                rc = print_lines(&lr, parser, UINT64_MAX);
                if (rc == 0 && reopen(&lr, path, &cur) == 0)
                    fprintf(stderr, "kyso: audit tail: %s was rotated; following the new file\n", path);
                continue;
            }
            if ((uint64_t)now.st_size < lr.pos + (lr.end - lr.start)) {
                if (reopen(&lr, path, &cur) == 0)
                    fprintf(stderr, "kyso: audit tail: %s was truncated; reading it again\n", path);
                continue;
            }
            if ((uint64_t)now.st_size > lr.pos + (lr.end - lr.start))
                rc = print_lines(&lr, parser, UINT64_MAX);
        }
    }
    if (rc != 0) {
        snprintf(err, sizeof(err), "cannot read %s: %s", path, strerror(errno));
        fail_line(cmd, err);
    }
    audit_lines_close(&lr);
    audit_parser_free(parser);
    if (rc != 0)
        return 1;
    return close_output(cmd, stdout, NULL);
}
