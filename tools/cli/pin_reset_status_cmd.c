/* kyso pin-reset status [ID] [--dir DIR]: the registered requests to
 * recover a locked token, their age in working days against the
 * profile's deadline (1 working day under nd68-2024), the overdue ones,
 * and the completion of each that was done. Also what the pin-reset
 * subcommands share (tools/cli/pin_reset.h), and their dispatch. */
#include "config.h"

#include "tools/cli/pin_reset.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "policy/profile.h"
#include "records/calendar.h"
#include "records/record.h"
#include "records/registry.h"
#include "tools/cli/record_make.h"

const char *pin_reset_str(const json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

int pin_reset_created_day(const json_object *record, int64_t *day)
{
    json_object *created = NULL;
    json_object_object_get_ex(record, "created", &created);
    const char *t = pin_reset_str(created, "time");
    char date[11];
    if (strlen(t) < 10)
        return -1;
    memcpy(date, t, 10);
    date[10] = '\0';
    return records_date_parse(date, day) < 0 ? -1 : 0;
}

int64_t pin_reset_today(void)
{
    time_t now = time(NULL);
    struct tm tm;
    char date[16];
    int64_t day = 0;
    if (localtime_r(&now, &tm) && strftime(date, sizeof(date), "%Y-%m-%d", &tm) == 10)
        records_date_parse(date, &day);
    return day;
}

struct find_done {
    const char *request_id;
    json_object *found;
    int64_t found_day;
};

static int find_done_cb(const char *id, json_object *obj, const char *problem, void *ctx)
{
    struct find_done *f = ctx;
    (void)id;
    (void)problem; /* (a damaged record is reported by kyso record list) */
    json_object *details = NULL;
    if (!obj || strcmp(pin_reset_str(obj, "kind"), "pin-reset-done") != 0 ||
        !json_object_object_get_ex(obj, "details", &details) ||
        strcmp(pin_reset_str(details, "request_id"), f->request_id) != 0)
        return 0;
    if (!f->found)
        f->found = json_object_get(obj);
    return 0;
}

int pin_reset_find_done(const char *dir, const char *request_id, json_object **done, char *why, size_t whylen)
{
    struct find_done f = { .request_id = request_id };
    *done = NULL;
    if (records_list(dir, find_done_cb, &f, why, whylen) < 0)
        return -1;
    *done = f.found;
    return f.found ? 1 : 0;
}

struct status_ctx {
    const char *only;
    const char *dir;
    struct records_calendar *cal;
    int64_t today;
    int shown, overdue, damaged;
};

static int status_cb(const char *id, json_object *obj, const char *problem, void *ctx)
{
    struct status_ctx *s = ctx;
    if (!obj) {
        printf("%s  DAMAGED: %s\n", id, problem);
        s->damaged++;
        return 0;
    }
    if (strcmp(pin_reset_str(obj, "kind"), "pin-reset-request") != 0 || (s->only && strcmp(id, s->only) != 0))
        return 0;
    s->shown++;
    json_object *token = NULL;
    json_object_object_get_ex(obj, "token", &token);
    const struct policy_profile *p = policy_profile_find(pin_reset_str(obj, "profile"));
    int deadline = p ? p->recovery_working_days : POLICY_PER_LAW;
    int64_t made = 0;
    pin_reset_created_day(obj, &made);
    char why[256] = "", dl[48];
    if (deadline == POLICY_PER_LAW)
        snprintf(dl, sizeof(dl), "deadline per law");
    else
        snprintf(dl, sizeof(dl), "deadline %d working day%s", deadline, deadline == 1 ? "" : "s");
    json_object *done = NULL;
    int found = pin_reset_find_done(s->dir, id, &done, why, sizeof(why));
    printf("%s  token %s  made %.10s  ", id, pin_reset_str(token, "serial"),
           pin_reset_str(json_object_object_get(obj, "created"), "time"));
    if (found == 1) {
        json_object *d = json_object_object_get(done, "details");
        printf("DONE by %s (%s) in %d working day(s), %s\n", pin_reset_str(done, "id"), pin_reset_str(d, "outcome"),
               json_object_get_int(json_object_object_get(d, "working_days_taken")), dl);
    } else {
        int64_t age = records_working_days_between(s->cal, made, s->today);
        bool late = deadline != POLICY_PER_LAW && age > deadline;
        s->overdue += late;
        printf("%s, %lld working day(s) old, %s\n", late ? "OVERDUE" : "open", (long long)age, dl);
    }
    json_object_put(done);
    return 0;
}

int pin_reset_status_cmd(int argc, char **argv)
{
    struct status_ctx s = { .dir = records_dir(), .today = pin_reset_today() };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            s.dir = argv[++i];
        else if (argv[i][0] != '-' && !s.only)
            s.only = argv[i];
        else {
            fputs("usage: kyso pin-reset status [ID] [--dir DIR]\n", stderr);
            return 2;
        }
    }
    struct stat st;
    if (stat(s.dir, &st) != 0 && errno == ENOENT && !s.only) {
        printf("no request to recover a token is registered\n");
        return 0;
    }
    if (!(s.cal = cli_calendar()))
        return 1;
    char why[256] = "";
    long n = records_list(s.dir, status_cb, &s, why, sizeof(why));
    records_calendar_free(s.cal);
    if (n < 0) {
        fprintf(stderr, "kyso: %s: %s\n", s.dir, why);
        return 1;
    }
    if (s.only && !s.shown) {
        fprintf(stderr, "kyso: no registered request to recover a token has the id %s\n", s.only);
        return 1;
    }
    if (!s.shown)
        printf("no request to recover a token is registered\n");
    else if (!s.only)
        printf("%d request(s), %d overdue\n", s.shown, s.overdue);
    return s.damaged ? 1 : 0;
}

int pin_reset_cmd(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "request") == 0)
        return pin_reset_request_cmd(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "perform") == 0)
        return pin_reset_perform_cmd(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return pin_reset_status_cmd(argc - 1, argv + 1);
    fputs("usage: kyso pin-reset request | perform | status (kyso pin-reset SUBCOMMAND --help)\n", stderr);
    return 2;
}
