/* The audit trail's reader for the admin tools: streams the JSON Lines log
 * (audit/README.md) one line at a time with bounded memory, parses each
 * record with json-c, filters records, exports them (CSV, JSON, JSON
 * Lines) and aggregates them into the periodic usage report of rule M9
 * (per agency, person, certificate, token, program, user, outcome, rule).
 *
 * Records are NOT verified here: the hash chain and the MACs are the
 * business of audit_verify_files (`kyso audit verify`). A line that is not
 * a record is counted as malformed and skipped, never fatal. */
#ifndef KYSO_AUDIT_REPORT_H
#define KYSO_AUDIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- time ---- */

/* Parses "YYYY-MM-DD" or ISO 8601 "YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM)"
 * (a missing zone is refused: times are UTC). lo and hi are the first and
 * the last millisecond (since 1970, UTC) the text designates at its own
 * precision: "2026-06-30" is 2026-06-30T00:00:00.000Z .. 23:59:59.999Z,
 * "2026-06-30T23:59:59Z" ends at 23:59:59.999Z. Returns 0, or -1. */
int audit_time_parse(const char *text, int64_t *lo, int64_t *hi);
/* ms since 1970 → "2026-06-30T23:59:59.999Z" (out: at least 32 bytes). */
void audit_time_format(int64_t ms, char *out, size_t outlen);

/* A reporting period, both ends inclusive. */
struct audit_period {
    int64_t from, to;
    char name[96];
};
/* "2026" (the year), "2026-H1" (Jan 1 .. Jun 30), "2026-H2" (Jul 1 ..
 * Dec 31), or "FROM..TO" with times as audit_time_parse takes them.
 * Returns 0, or -1 with one line in err. */
int audit_period_parse(const char *text, struct audit_period *p, char *err, size_t errlen);

/* The reporting period a regulation profile asks for (rule M9), counted
 * in Vietnam's local time (UTC+07:00, no daylight saving): months is 6
 * (halves: 1/1–30/6 "2026-H1", 1/7–31/12 "2026-H2") or 12 (calendar
 * years "2026"); due ("15/11", or NULL) makes a 12-month year end on that
 * day, so that year Y runs from the day after due in Y-1 to due in Y
 * ("2026 (16/11/2025–15/11/2026)"). which: the last complete period
 * before now (ms since 1970), or the one now is in. The name says the
 * dates. Returns 0, or -1 with one line in err (months not 6 or 12, due
 * not DD/MM). */
enum audit_period_which { AUDIT_PERIOD_PREVIOUS, AUDIT_PERIOD_CURRENT };
#define AUDIT_VN_OFFSET_MS (7 * 3600000LL)
int audit_period_for_profile(int months, const char *due, int64_t now, enum audit_period_which which,
                             struct audit_period *p, char *err, size_t errlen);
/* "dd/mm/yyyy" of the Vietnam-local day of ms (out: at least 16 bytes). */
void audit_vn_date(int64_t ms, char *out, size_t outlen);
/* True when the period covers a whole year or more (the yearly report,
 * which some profiles want with a plan for the next year). */
bool audit_period_is_year(const struct audit_period *p);

/* ---- lines ---- */

/* Longest line accepted (the writer's lines are at most AUDIT_MAX_LINE);
 * longer ones are skipped and counted as malformed. */
#define AUDIT_LINES_MAX (64 * 1024)

enum audit_line_status {
    AUDIT_LINE_OK,       /* a complete line (without its newline) */
    AUDIT_LINE_TOO_LONG, /* a line over AUDIT_LINES_MAX, skipped */
    AUDIT_LINE_PARTIAL,  /* end of data inside a line without newline: not consumed (follow mode retries) */
    AUDIT_LINE_EOF,
    AUDIT_LINE_ERROR,    /* read error: errno */
};

/* A line reader over a file descriptor with a fixed buffer. */
struct audit_lines {
    int fd;
    bool own_fd;
    char *buf;
    size_t start, end;  /* unread data: buf[start..end) */
    uint64_t pos;       /* file offset of buf[start] */
    uint64_t lineno;    /* lines consumed (complete or too long) */
    bool skipping;      /* inside a too long line */
};
/* path "-" is standard input. Returns 0, or -1 with one line in err. */
int audit_lines_open(struct audit_lines *lr, const char *path, char *err, size_t errlen);
/* Reads fd from offset (its current position must be offset). */
int audit_lines_fdopen(struct audit_lines *lr, int fd, uint64_t offset);
/* The line stays valid until the next call. */
enum audit_line_status audit_lines_next(struct audit_lines *lr, const char **line, size_t *len);
void audit_lines_close(struct audit_lines *lr);

/* The offsets of the last n complete lines of fd (a regular file): start
 * is where the first of them begins, end where the last one ends (after
 * its newline; a trailing incomplete line is not counted). Returns 0 or -1
 * (errno). */
int audit_tail_offsets(int fd, uint64_t n, uint64_t *start, uint64_t *end);

/* ---- records ---- */

/* One record, as read. Strings are NULL when the field is absent (or not a
 * string); they are valid until the parser reads the next line. */
struct audit_record {
    const char *line;
    size_t len;
    const char *file;
    uint64_t lineno;

    int64_t time_ms;
    int64_t seq, uid, pid, input_len;
    bool has_seq, has_uid, has_pid, has_input_len;
    const char *time, *event, *host, *user, *exe, *program, *module, *reader, *token, *key, *mechanism,
        *input_sha256, *outcome, *rule, *detail, *log_id, *of;
    bool has_cert;
    const char *cert_sha256, *cert_serial, *cert_subject, *cert_title, *cert_issuer, *cert_organization,
        *cert_not_after;
    const char *cert_cn;     /* the holder's name: CN of the subject */
    const char *program_name; /* program, else the base name of exe */
};

struct audit_parser;
struct audit_parser *audit_parser_new(void);
void audit_parser_free(struct audit_parser *p);
/* Parses one line (without newline). Returns 0, or -1 with a short reason
 * ("not JSON", "no valid time", ...). A record needs a JSON object with a
 * string "event" and a valid UTC "time"; strings must be valid UTF-8. */
int audit_parser_parse(struct audit_parser *p, const char *line, size_t len, struct audit_record *rec,
                       const char **reason);

/* The value of attribute type (e.g. "CN", "O", "title") in an RFC 2253
 * name (as the writer stores cert.subject), unescaped. Returns the length,
 * or -1 if absent or too long for out. */
int audit_dn_get(const char *dn, const char *type, char *out, size_t outlen);

/* Case- and accent-insensitive text for matching names: lower case, the
 * Vietnamese (and Latin-1) letters without their marks, đ → d. Returns
 * the length written (out is always terminated). */
size_t audit_fold(const char *in, char *out, size_t outlen);

/* The record on one line for people (kyso audit tail): time, event,
 * user/program, the holder's name (title), token, key, mechanism,
 * outcome, rule, detail; control and bidi characters become '?'. Returns
 * the length written. */
size_t audit_record_summary(const struct audit_record *r, char *out, size_t outlen);

/* ---- scanning files ---- */

#define AUDIT_SCAN_EXAMPLES 5
struct audit_scan_stats {
    uint64_t lines;      /* complete lines read */
    uint64_t records;    /* well-formed records */
    uint64_t malformed;  /* lines that are not records (skipped) */
    uint64_t incomplete; /* a last line without newline: being written or torn (skipped) */
    size_t nexamples;
    struct {
        const char *file;
        uint64_t line;
        char reason[64];
    } examples[AUDIT_SCAN_EXAMPLES]; /* the first malformed lines */
};

/* Called for every well-formed record; a non-zero return stops the scan
 * and is returned by audit_scan_files. */
typedef int (*audit_record_fn)(const struct audit_record *rec, void *arg);

/* Opens every file first (so that an unreadable one fails before any
 * output), then streams them in order. Returns 0, -1 with one line in err
 * (open or read error), or the callback's non-zero value. */
int audit_scan_files(const char *const *files, size_t n, audit_record_fn fn, void *arg,
                     struct audit_scan_stats *st, char *err, size_t errlen);
/* How a log is named in outputs: "-" is "(standard input)". */
const char *audit_log_name(const char *path);
/* Counts one malformed line (for readers that do not use audit_scan_files). */
void audit_scan_note_malformed(struct audit_scan_stats *st, const char *file, uint64_t line, const char *reason);

/* ---- filters ---- */

enum audit_filter_field {
    AUDIT_FILTER_FROM,    /* time ≥ the first ms of the value */
    AUDIT_FILTER_TO,      /* time ≤ the last ms of the value */
    AUDIT_FILTER_PERSON,  /* the holder's name (CN) contains the text, case- and accent-insensitive */
    AUDIT_FILTER_CERT,    /* cert.sha256 starts with the hex, or cert.serial equals it */
    AUDIT_FILTER_TOKEN,   /* token serial, case-insensitive */
    AUDIT_FILTER_PROGRAM, /* program, or the base name of exe */
    AUDIT_FILTER_OUTCOME, /* CKR_…, "ok" (CKR_OK) or "failed" (any other outcome) */
    AUDIT_FILTER_EVENT,   /* one of the schema's events */
    AUDIT_FILTER_FIELDS
};

#define AUDIT_FILTER_VALUES 16
#define AUDIT_FILTER_VALUE_LEN 256
/* A record matches when it matches every field given; a field given more
 * than once matches any of its values. */
struct audit_filter {
    bool has_from, has_to;
    int64_t from, to;
    size_t n[AUDIT_FILTER_FIELDS];
    char v[AUDIT_FILTER_FIELDS][AUDIT_FILTER_VALUES][AUDIT_FILTER_VALUE_LEN];
};
void audit_filter_init(struct audit_filter *f);
/* Checks and adds one value. Returns 0, or -1 with one line in err. */
int audit_filter_add(struct audit_filter *f, enum audit_filter_field field, const char *value, char *err,
                     size_t errlen);
bool audit_filter_match(const struct audit_filter *f, const struct audit_record *r);
/* True when event is one of the schema's events. */
bool audit_event_known(const char *event);

/* ---- export ---- */

enum audit_export_format { AUDIT_EXPORT_CSV, AUDIT_EXPORT_JSON, AUDIT_EXPORT_JSONL };

/* The CSV columns, in order (the header row); stable: new columns are only
 * ever added at the end. */
extern const char *const audit_csv_columns[];
extern const size_t audit_csv_ncolumns;

/* Writes one CSV field (RFC 4180): quoted when it holds a comma, a quote,
 * CR or LF, quotes doubled. A text that starts with = + - @ TAB or CR gets
 * a leading ' so that spreadsheets do not run it as a formula. */
void audit_csv_field(FILE *out, const char *text);

struct audit_export {
    FILE *out;
    enum audit_export_format format;
    uint64_t written;
};
/* CSV: the header row (with a UTF-8 byte order mark first when bom, for
 * spreadsheets); JSON: "[". Lines end with CRLF in CSV, LF otherwise. */
void audit_export_begin(struct audit_export *x, FILE *out, enum audit_export_format format, bool bom);
/* CSV: one row; JSON and JSON Lines: the record's line exactly as logged. */
void audit_export_record(struct audit_export *x, const struct audit_record *r);
/* JSON: "]". Returns 0, or -1 if writing failed (ferror). */
int audit_export_end(struct audit_export *x);

/* ---- the periodic report (rule M9) ---- */

enum audit_report_table {
    AUDIT_T_EVENT,   /* key: event (every record, log_start/log_continue too) */
    AUDIT_T_AGENCY,  /* key: cert.organization */
    AUDIT_T_PERSON,  /* keys: holder's name, title, organization */
    AUDIT_T_CERT,    /* keys: cert.sha256, cert.serial */
    AUDIT_T_TOKEN,   /* key: token serial */
    AUDIT_T_PROGRAM, /* key: program */
    AUDIT_T_USER,    /* keys: user, host */
    AUDIT_T_OUTCOME, /* key: outcome */
    AUDIT_T_RULE,    /* key: rule of refusal records */
    AUDIT_T_COUNT
};

/* Per key. A record counts in records and in at most one of the others. */
struct audit_report_counts {
    uint64_t records;
    uint64_t signed_ok;    /* sign, CKR_OK */
    uint64_t refused;      /* refusal (by a rule) */
    uint64_t failed;       /* any other record whose outcome is not CKR_OK */
    uint64_t pin_failures; /* pin_failure */
    uint64_t pin_locked;   /* pin_locked */
    uint64_t withheld;     /* withheld records of signatures (taken off signed_ok) */
};

struct audit_report_totals {
    uint64_t records;        /* in the period, every event */
    uint64_t usage;          /* in the period, without log_start/log_continue */
    uint64_t outside;        /* well-formed records outside the period */
    uint64_t signed_ok, sign_failed, refused, decrypt, derive, pin_failures, pin_locked, pin_changes,
        pin_unblocks, admin_writes, other_failed;
    uint64_t withheld;       /* signatures recorded, then not released (taken off signed_ok) */
    int64_t first, last;     /* ms; first > last when there is no record */
};

/* Distinct keys kept per table, and the bytes they may take (a line may be
 * 64 KiB); records of further keys are summed in one "(other)" row. The
 * report's memory is bounded by these, whatever the log's size. */
#define AUDIT_REPORT_MAX_KEYS 10000
#define AUDIT_REPORT_MAX_BYTES (8 * 1024 * 1024)

enum audit_report_format { AUDIT_REPORT_TEXT, AUDIT_REPORT_CSV, AUDIT_REPORT_JSON };

struct audit_report;
struct audit_report *audit_report_new(const struct audit_period *period);
void audit_report_free(struct audit_report *rep);
/* For tests: fewer distinct keys per table. */
void audit_report_set_max_keys(struct audit_report *rep, size_t max);
/* Counts one record (ignored, but counted as outside, when not in the period). */
void audit_report_add(struct audit_report *rep, const struct audit_record *r);
/* An audit_record_fn for audit_scan_files (arg: the report). */
int audit_report_add_fn(const struct audit_record *r, void *arg);
const struct audit_report_totals *audit_report_totals(const struct audit_report *rep);
/* The counts of one key (NULL: the field was absent; trailing keys of a
 * one-key table are ignored). Returns false when the key was not seen. */
bool audit_report_get(const struct audit_report *rep, enum audit_report_table t, const char *k1, const char *k2,
                      const char *k3, struct audit_report_counts *out);
/* Distinct keys in a table (without the "(other)" row), and the records
 * summed in "(other)" because the table was full. */
size_t audit_report_keys(const struct audit_report *rep, enum audit_report_table t, uint64_t *other_records);
/* The totals, in the order every format writes them: row i's value, its
 * Vietnamese label and its name in CSV and JSON ("signatures_made"). */
size_t audit_report_total_rows(void);
uint64_t audit_report_total(const struct audit_report *rep, size_t i, const char **label, const char **name);
/* One row of a table, for writers outside this library (the printed
 * report): keys and descriptive fields as the JSON names them (NULL:
 * absent), its counts; other: the "(other)" row of keys beyond the limit. */
struct audit_report_row {
    const char *k[3];
    const char *extra[2];
    struct audit_report_counts c;
    bool other;
};
/* The rows of table t in the report's order (by records, most first; the
 * rules by number), "(other)" last. *rows (the caller frees it; its
 * strings live as long as rep) is set. Returns their number, or -1 (out of
 * memory). */
long audit_report_rows(const struct audit_report *rep, enum audit_report_table t, struct audit_report_row **rows);
/* Writes the report. files: the logs read; st: what the scan saw.
 * Returns 0, or -1 if writing failed. */
int audit_report_write(const struct audit_report *rep, FILE *out, enum audit_report_format format,
                       const char *const *files, size_t nfiles, const struct audit_scan_stats *st);

#endif
