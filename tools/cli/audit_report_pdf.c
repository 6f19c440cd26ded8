/* kyso audit report --format pdf: what the printed report needs besides
 * the aggregates — the verification of the logs (the one kyso audit
 * verify makes, when the auditor's key is given), the registry's records
 * of the period, the tokens due back — handed to
 * records_render_report_pdf (records/render_report.h). */
#include "config.h"

#include "tools/cli/audit_report_pdf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "records/registry.h"
#include "records/render_report.h"

/* Records of the period the document keeps in memory (it lists at most
 * RECORDS_REPORT_LINES of each kind, and counts the rest). */
#define MAX_PERIOD_RECORDS 20000

/* Lines of a file (each complete line of a log that verified is a record). */
static uint64_t count_lines(const char *path)
{
    char buf[65536];
    uint64_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            n += buf[i] == '\n';
    }
    close(fd);
    return n;
}

/* Runs audit_verify_files over the logs, as kyso audit verify does, and
 * says for each what it found. checkpoint (out, 32+65 bytes) is set when
 * all verified. Returns 0, or -1 with one line in err (the key unreadable). */
static int verify_logs(const struct audit_pdf_options *o, const char *const *logs, size_t nlogs,
                       struct records_report_log *out, char *checkpoint, size_t cplen, char *err, size_t errlen)
{
    checkpoint[0] = '\0';
    for (size_t i = 0; i < nlogs; i++) {
        out[i].name = audit_log_name(logs[i]);
        out[i].check = RECORDS_LOG_UNCHECKED;
        out[i].records = 0;
        snprintf(out[i].note, sizeof out[i].note, "%s",
                 "cần khóa của kiểm toán viên (--key FILE, như kyso audit verify)");
    }
    if (!o->key_file)
        return 0;
    for (size_t i = 0; i < nlogs; i++)
        if (strcmp(logs[i], "-") == 0) {
            for (size_t k = 0; k < nlogs; k++)
                snprintf(out[k].note, sizeof out[k].note, "%s",
                         "một nhật ký đọc từ đầu vào chuẩn không đọc lại được để kiểm tra");
            return 0;
        }
    uint8_t key[AUDIT_KEY_LEN];
    if (audit_read_key_file(o->key_file, key, err, errlen) != 0)
        return -1;
    struct audit_verify_result res;
    int rc = audit_verify_files(logs, nlogs, key, o->checkpoint, &res);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == 0) {
        char hash[2 * AUDIT_HASH_LEN + 1];
        audit_hex(res.last_hash, sizeof res.last_hash, hash);
        snprintf(checkpoint, cplen, "%" PRIu64 ":%s", res.last_seq, hash);
    }
    /* The verifier stops at the first record that does not hold: the logs
     * before its file verified whole, the ones after it were not reached. */
    bool whole = rc != 0 && (!res.bad_file || !res.bad_file[0]), reached = false;
    for (size_t i = 0; i < nlogs; i++) {
        struct records_report_log *l = &out[i];
        if (rc == 0 || (!whole && !reached && res.bad_file != logs[i])) {
            l->check = RECORDS_LOG_VERIFIED;
            l->records = count_lines(logs[i]);
            l->note[0] = '\0';
        } else if (whole || !reached) {
            reached = true;
            l->check = RECORDS_LOG_BROKEN;
            snprintf(l->note, sizeof l->note, "hỏng từ bản ghi số %" PRIu64 ", dòng %zu: %s", res.bad_seq,
                     res.bad_line, res.reason);
        } else {
            l->check = RECORDS_LOG_UNCHECKED;
            snprintf(l->note, sizeof l->note, "%s", "chuỗi bản ghi đã đứt ở nhật ký trước nó");
        }
    }
    return 0;
}

struct reg_ctx {
    const struct audit_period *period;
    json_object **recs;
    size_t n, total, damaged, dropped;
    char problem[400];
};

static int reg_one(const char *id, json_object *obj, const char *problem, void *arg)
{
    struct reg_ctx *c = arg;
    if (!obj) {
        if (c->damaged++ == 0)
            snprintf(c->problem, sizeof c->problem, "%s: %s", id, problem ? problem : "?");
        return 0;
    }
    c->total++;
    json_object *cr = NULL, *t = NULL;
    int64_t lo, hi;
    if (!json_object_object_get_ex(obj, "created", &cr) || !json_object_object_get_ex(cr, "time", &t) ||
        audit_time_parse(json_object_get_string(t), &lo, &hi) != 0)
        return 0;
    if (lo < c->period->from || lo > c->period->to)
        return 0;
    if (c->n == MAX_PERIOD_RECORDS) {
        c->dropped++;
        return 0;
    }
    c->recs[c->n++] = json_object_get(obj);
    return 0;
}

int audit_report_pdf(const struct audit_pdf_input *in, const struct audit_pdf_options *o, char *err, size_t errlen)
{
    int rc = -1;
    struct records_report_log *logs = calloc(in->nlogs ? in->nlogs : 1, sizeof(*logs));
    struct reg_ctx reg = { .period = in->period };
    char checkpoint[32 + 2 * AUDIT_HASH_LEN + 1];

    if (!logs || !(reg.recs = calloc(MAX_PERIOD_RECORDS, sizeof(*reg.recs)))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (verify_logs(o, in->logs, in->nlogs, logs, checkpoint, sizeof checkpoint, err, errlen) != 0)
        goto out;

    /* The registry: an explicit --registry must be readable; root's may not exist yet (no record made). */
    const char *dir = o->registry ? o->registry : records_dir();
    struct stat sb;
    bool none = !o->registry && stat(dir, &sb) != 0 && errno == ENOENT;
    if (!none) {
        char why[512];
        if (records_list(dir, reg_one, &reg, why, sizeof why) < 0) {
            snprintf(err, errlen, "the registry %s cannot be read: %s", dir, why);
            goto out;
        }
    }
    if (reg.dropped) {
        snprintf(err, errlen, "the registry holds more than %d records of the period: report a shorter period",
                 MAX_PERIOD_RECORDS);
        goto out;
    }

    struct records_report_in r = {
        .profile = in->profile,
        .agency_name = in->agency_name,
        .agency_parent = in->agency_parent,
        .place = o->place && *o->place ? o->place : in->province,
        .number = o->number ? o->number : "……/BC",
        .date = o->now,
        .period = in->period,
        .rep = in->rep,
        .scan = in->scan,
        .logs = logs,
        .nlogs = in->nlogs,
        .checkpoint = checkpoint[0] ? checkpoint : NULL,
        .registry_dir = dir,
        .registry_total = reg.total,
        .registry_damaged = reg.damaged,
        .registry_problem = reg.damaged ? reg.problem : NULL,
        .records = reg.recs,
        .nrecords = reg.n,
    };
    audit_report_due(&r, none ? NULL : dir, in->logs, in->nlogs, o->now);
    if (!r.place || !*r.place) {
        snprintf(err, errlen, "where the report is made is unknown: --place PLACE, or [agency] province in kyso.conf");
        goto out;
    }
    char why[600];
    if (records_render_report_pdf(&r, in->out_path, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", in->out_path, why);
        audit_report_due_free(&r);
        goto out;
    }
    audit_report_due_free(&r);
    rc = 0;
    for (size_t i = 0; i < in->nlogs; i++)
        if (logs[i].check == RECORDS_LOG_BROKEN) {
            snprintf(err, errlen, "%s does not verify (%s): the report says so on its first page", logs[i].name,
                     logs[i].note);
            rc = 1;
            break;
        }
out:
    if (reg.recs)
        for (size_t i = 0; i < reg.n; i++)
            json_object_put(reg.recs[i]);
    free(reg.recs);
    free(logs);
    return rc;
}
