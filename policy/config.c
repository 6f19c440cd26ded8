/* Reading root's configuration (config.h; the format is kyso.conf(5)).
 *
 * The INI syntax is libinih's; what the keys mean, the checks and the
 * origins ("FILE:LINE") are here. inih does not tell a handler its line,
 * so the files are fed through a reader that counts lines (and refuses
 * one too long for inih's buffer rather than let it be split). Every
 * problem is collected, not only the first, so that `kyso policy check`
 * names them all; any problem makes the configuration broken. */
#include "config.h"

#include "policy/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES (64 * 1024)
#define MAX_OVERRIDES 128
/* inih's line buffer (INI_MAX_LINE of Debian's build); a longer line is
 * refused here, as inih would split it. */
#define LINE_MAX_BYTES 200

struct override {
    const struct policy_param *param;
    long value;
    size_t file;
    char origin[POLICY_ORIGIN_LEN];
};

struct parse {
    struct policy_config *c;
    const char *name;     /* the file, as shown */
    size_t file;          /* its index, for weaken = yes */
    unsigned line;
    bool long_line;
    const char *text;     /* the file's content */
    size_t len, pos;
    char profile[64];
    char profile_origin[POLICY_ORIGIN_LEN];
    size_t noverrides;
    struct override overrides[MAX_OVERRIDES];
    /* weaken = yes, by rule and file: "M13" in file 2 */
    size_t nweaken;
    struct {
        char rule[8];
        size_t file;
    } weaken[MAX_OVERRIDES];
};

static void problem(struct policy_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct policy_config *c, const char *fmt, ...)
{
    c->broken = true;
    if (c->nproblems == POLICY_MAX_PROBLEMS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->problems[c->nproblems++], POLICY_ORIGIN_LEN, fmt, ap);
    va_end(ap);
}

const char *policy_conf_dir(void)
{
    return KYSO_SYSCONFDIR "/kyso";
}

long policy_value(const struct policy_config *c, enum policy_param_id id)
{
    return id < POLICY_NPARAMS ? c->settings[id].value : 0;
}

static bool parse_bool(const char *v, long *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return true;
        }
    }
    return false;
}

static bool parse_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-' || *v == '+')
        return false;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

static bool parse_value(const struct policy_param *p, const char *v, long *out)
{
    switch (p->type) {
    case POLICY_BOOL:
        return parse_bool(v, out);
    case POLICY_SECONDS:
        return parse_long(v, 0, p->max, out);
    case POLICY_CHOICE:
        for (long i = 0; p->choices[i]; i++)
            if (strcmp(v, p->choices[i]) == 0) {
                *out = i;
                return true;
            }
        return false;
    }
    return false;
}

static bool is_rule_section(const char *s)
{
    if (s[0] != 'M' || !s[1] || strlen(s) > 3)
        return false;
    for (const char *p = s + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* The audit trail's sink: daemon[:/socket], file:/path or off. */
static bool valid_sink(const char *v)
{
    if (strcmp(v, "off") == 0 || strcmp(v, "daemon") == 0)
        return true;
    if (strncmp(v, "daemon:", 7) == 0)
        return v[7] == '/' && strlen(v + 7) < 108;
    if (strncmp(v, "file:", 5) == 0)
        return v[5] == '/';
    return false;
}

static bool copy_value(char *dst, size_t len, const char *v)
{
    if (strlen(v) >= len)
        return false;
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

/* [M8] hosts = ID, ID ...: machine ids (32 hex digits, as /etc/machine-id
 * holds them), separated by commas or blanks; repeatable. Naming hosts
 * only restricts, so no weaken is asked for. */
static void add_hosts(struct policy_config *c, const char *value, const char *at)
{
    const char *p = value;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (p[n] && p[n] != ',' && p[n] != ' ' && p[n] != '\t')
            n++;
        bool ok = n == 32;
        for (size_t i = 0; ok && i < n; i++)
            ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f');
        if (!ok) {
            problem(c, "%s: [M8] hosts: \"%.*s\" is not a machine id (32 lowercase hex digits, see "
                       "/etc/machine-id)", at, (int)(n > 40 ? 40 : n), p);
            return;
        }
        if (c->nhosts == POLICY_MAX_HOSTS) {
            problem(c, "%s: [M8] hosts: more than %d hosts", at, POLICY_MAX_HOSTS);
            return;
        }
        memcpy(c->hosts[c->nhosts], p, 32);
        c->hosts[c->nhosts++][32] = '\0';
        snprintf(c->hosts_origin, sizeof(c->hosts_origin), "%s", at);
        p += n;
    }
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *ps = user;
    struct policy_config *c = ps->c;
    char at[POLICY_ORIGIN_LEN];
    snprintf(at, sizeof(at), "%s:%u", ps->name, ps->line);
    if (!name) /* a section header on its own (inih's INI_CALL_HANDLER_ON_NEW_SECTION) */
        return 1;

    if (!*section) {
        if (strcmp(name, "profile") == 0) {
            if (!policy_profile_find(value))
                problem(c, "%s: unknown profile \"%s\" (nd68-2024, an-giang-2016, tien-giang-2015, hoa-binh-2020, "
                           "ha-tinh-2020)", at, value);
            else {
                snprintf(ps->profile, sizeof(ps->profile), "%s", value);
                snprintf(ps->profile_origin, sizeof(ps->profile_origin), "%s", at);
            }
        } else if (strcmp(name, "environment") == 0) {
            if (strcmp(value, "trusted") == 0)
                c->environment_trusted = true;
            else if (strcmp(value, "system") == 0)
                c->environment_trusted = false;
            else
                problem(c, "%s: environment must be \"system\" or \"trusted\", not \"%s\"", at, value);
        } else
            problem(c, "%s: unknown key \"%s\"", at, name);
        return 1;
    }
    if (strcmp(section, "agency") == 0) {
        char *dst = strcmp(name, "name") == 0       ? c->agency_name
                    : strcmp(name, "parent") == 0   ? c->agency_parent
                    : strcmp(name, "province") == 0 ? c->agency_province
                                                    : NULL;
        size_t len = dst == c->agency_province ? sizeof(c->agency_province) : sizeof(c->agency_name);
        if (!dst)
            problem(c, "%s: unknown key \"%s\" in [agency] (name, parent, province)", at, name);
        else if (!copy_value(dst, len, value))
            problem(c, "%s: [agency] %s is too long", at, name);
        return 1;
    }
    if (strcmp(section, "audit") == 0) {
        long ms;
        if (strcmp(name, "sink") == 0) {
            if (!valid_sink(value) || !copy_value(c->audit_sink, sizeof(c->audit_sink), value))
                problem(c, "%s: [audit] sink must be daemon, daemon:/SOCKET, file:/PATH or off, not \"%s\"", at,
                        value);
            else
                snprintf(c->audit_sink_origin, sizeof(c->audit_sink_origin), "%s", at);
        } else if (strcmp(name, "timeout_ms") == 0) {
            if (!parse_long(value, 100, 10000, &ms))
                problem(c, "%s: [audit] timeout_ms must be 100 to 10000", at);
            else
                c->audit_timeout_ms = (int)ms;
        } else
            problem(c, "%s: unknown key \"%s\" in [audit] (sink, timeout_ms)", at, name);
        return 1;
    }
    if (strcmp(section, "pinentry") == 0) {
        long s;
        if (strcmp(name, "program") == 0) {
            if (value[0] != '/' || !copy_value(c->pinentry_program, sizeof(c->pinentry_program), value))
                problem(c, "%s: [pinentry] program must be an absolute path", at);
        } else if (strcmp(name, "timeout") == 0) {
            if (!parse_long(value, 1, 600, &s))
                problem(c, "%s: [pinentry] timeout must be 1 to 600 seconds", at);
            else
                c->pinentry_timeout_s = (int)s;
        } else if (strcmp(name, "protected_path") == 0) {
            if (!parse_bool(value, &s))
                problem(c, "%s: [pinentry] protected_path must be yes or no", at);
            else
                c->pinentry_protected_path = s;
        } else
            problem(c, "%s: unknown key \"%s\" in [pinentry] (program, timeout, protected_path)", at, name);
        return 1;
    }
    if (strcmp(section, "crl") == 0) {
        if (strcmp(name, "url") != 0)
            problem(c, "%s: unknown key \"%s\" in [crl] (url)", at, name);
        else if (strncmp(value, "http://", 7) != 0 && strncmp(value, "file:///", 8) != 0)
            problem(c, "%s: [crl] url must be http:// or file:///", at);
        else if (c->ncrl_urls == POLICY_MAX_CRL_URLS ||
                 !copy_value(c->crl_urls[c->ncrl_urls], sizeof(c->crl_urls[0]), value))
            problem(c, "%s: [crl] url too long, or more than %d of them", at, POLICY_MAX_CRL_URLS);
        else
            c->ncrl_urls++;
        return 1;
    }
    if (strcmp(section, "M8") == 0 && strcmp(name, "hosts") == 0) {
        add_hosts(c, value, at);
        return 1;
    }
    if (is_rule_section(section)) {
        if (strcmp(name, "weaken") == 0) {
            long yes;
            if (!parse_bool(value, &yes))
                problem(c, "%s: weaken must be yes or no", at);
            else if (yes && ps->nweaken < MAX_OVERRIDES) {
                snprintf(ps->weaken[ps->nweaken].rule, sizeof(ps->weaken[0].rule), "%s", section);
                ps->weaken[ps->nweaken++].file = ps->file;
            }
            return 1;
        }
        const struct policy_param *p = policy_param_find(section, name);
        long v;
        if (!p)
            problem(c, "%s: rule %s has no parameter \"%s\"", at, section, name);
        else if (!parse_value(p, value, &v))
            problem(c, "%s: [%s] %s: \"%s\" is not a valid value", at, section, name, value);
        else if (ps->noverrides == MAX_OVERRIDES)
            problem(c, "%s: too many overrides", at);
        else {
            struct override *o = &ps->overrides[ps->noverrides++];
            o->param = p;
            o->value = v;
            o->file = ps->file;
            snprintf(o->origin, sizeof(o->origin), "%s", at);
        }
        return 1;
    }
    problem(c, "%s: unknown section [%s]", at, section);
    return 1;
}

/* inih's reader: one line at a time, counted. */
static char *next_line(char *buf, int size, void *stream)
{
    struct parse *ps = stream;
    if (ps->pos >= ps->len)
        return NULL;
    const char *start = ps->text + ps->pos;
    const char *nl = memchr(start, '\n', ps->len - ps->pos);
    size_t n = nl ? (size_t)(nl - start) + 1 : ps->len - ps->pos;
    ps->pos += n;
    ps->line++;
    if (n >= (size_t)size || n > LINE_MAX_BYTES) {
        ps->long_line = true;
        n = 0; /* given to inih as an empty line; reported below */
        problem(ps->c, "%s:%u: line longer than %d bytes", ps->name, ps->line, LINE_MAX_BYTES);
    }
    if (memchr(start, '\0', n)) {
        problem(ps->c, "%s:%u: a NUL byte", ps->name, ps->line);
        n = 0;
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    return buf;
}

static void parse_text(struct parse *ps, const char *text, size_t len, const char *name, size_t file)
{
    ps->name = name;
    ps->file = file;
    ps->line = 0;
    ps->text = text;
    ps->len = len;
    ps->pos = 0;
    int rc = ini_parse_stream(next_line, ps, on_key, ps);
    if (rc > 0 && !ps->long_line)
        problem(ps->c, "%s:%d: not INI syntax (expected [section] or key = value)", name, rc);
    else if (rc < 0)
        problem(ps->c, "%s: cannot be parsed (out of memory)", name);
}

/* Whether st is safe to take rules from: root's, and writable by nobody
 * else (group write only for group root). */
static bool root_only(struct policy_config *c, const char *path, const struct stat *st, bool check_owner)
{
    if (!check_owner)
        return true;
    if (st->st_uid != 0) {
        problem(c, "%s: owned by uid %u, not root", path, (unsigned)st->st_uid);
        return false;
    }
    if ((st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0)) {
        problem(c, "%s: writable by users other than root (mode %04o)", path, (unsigned)(st->st_mode & 07777));
        return false;
    }
    return true;
}

static void stamp(struct policy_config *c, const char *path, const struct stat *st)
{
    if (c->nfiles == POLICY_MAX_FILES)
        return;
    struct policy_file_stamp *f = &c->files[c->nfiles++];
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->exists = st != NULL;
    if (st) {
        f->dev = st->st_dev;
        f->ino = st->st_ino;
        f->size = st->st_size;
        f->mtime = st->st_mtim;
    }
}

/* Reads one file into memory (checked, stamped) and parses it. A missing
 * file is fine when optional. */
static void parse_file(struct parse *ps, const char *path, bool optional, bool check_owner)
{
    struct policy_config *c = ps->c;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT && optional) {
            stamp(c, path, NULL);
            return;
        }
        problem(c, "%s: cannot be read: %s", path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        problem(c, "%s: not a regular file", path);
        close(fd);
        return;
    }
    stamp(c, path, &st);
    if (!root_only(c, path, &st, check_owner) || st.st_size > MAX_FILE_BYTES) {
        if (st.st_size > MAX_FILE_BYTES)
            problem(c, "%s: larger than %d bytes", path, MAX_FILE_BYTES);
        close(fd);
        return;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (text && got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!text || got != (size_t)st.st_size) {
        problem(c, "%s: cannot be read (%s)", path, text ? "short read" : "out of memory");
        free(text);
        return;
    }
    text[got] = '\0';
    parse_text(ps, text, got, path, c->nfiles);
    free(text);
}

static int conf_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

static bool weaken_allowed(const struct parse *ps, const struct override *o)
{
    for (size_t i = 0; i < ps->nweaken; i++)
        if (ps->weaken[i].file == o->file && strcmp(ps->weaken[i].rule, o->param->rule) == 0)
            return true;
    return false;
}

static void apply_defaults(struct policy_config *c)
{
    c->profile = policy_profile_find(POLICY_DEFAULT_PROFILE);
    snprintf(c->profile_origin, sizeof(c->profile_origin), "default");
    snprintf(c->audit_sink, sizeof(c->audit_sink), "daemon");
    snprintf(c->audit_sink_origin, sizeof(c->audit_sink_origin), "default");
    c->audit_timeout_ms = 1500;
    c->pinentry_timeout_s = 60;
}

/* After every file: the profile's values, then the overrides in order,
 * each weaker one only with weaken = yes in its own section and file. */
static void resolve(struct parse *ps)
{
    struct policy_config *c = ps->c;
    if (ps->profile[0]) {
        c->profile = policy_profile_find(ps->profile);
        snprintf(c->profile_origin, sizeof(c->profile_origin), "%s", ps->profile_origin);
    }
    for (size_t i = 0; i < POLICY_NPARAMS; i++) {
        c->settings[i].value = policy_param_get(i)->dflt[c->profile->level];
        snprintf(c->settings[i].origin, POLICY_ORIGIN_LEN, "profile %s", c->profile->id);
        c->settings[i].weakened = false;
    }
    for (size_t i = 0; i < ps->noverrides; i++) {
        const struct override *o = &ps->overrides[i];
        long profile_value = o->param->dflt[c->profile->level];
        bool weaker = policy_param_weaker(o->param, o->value, profile_value);
        if (weaker && !weaken_allowed(ps, o)) {
            char v[32], d[32];
            problem(c, "%s: [%s] %s = %s is weaker than profile %s (%s); allowed only with \"weaken = yes\" in "
                       "that section",
                    o->origin, o->param->rule, o->param->key, policy_param_format(o->param, o->value, v, sizeof(v)),
                    c->profile->id, policy_param_format(o->param, profile_value, d, sizeof(d)));
            continue;
        }
        struct policy_setting *s = &c->settings[o->param->id];
        s->value = o->value;
        s->weakened = weaker;
        snprintf(s->origin, POLICY_ORIGIN_LEN, "%s", o->origin);
    }
}

static struct parse *parse_new(struct policy_config **out)
{
    struct policy_config *c = calloc(1, sizeof(*c));
    struct parse *ps = calloc(1, sizeof(*ps));
    if (!c || !ps) {
        free(c);
        free(ps);
        return NULL;
    }
    apply_defaults(c);
    ps->c = c;
    *out = c;
    return ps;
}

struct policy_config *policy_config_load_dir(const char *dir, bool check_owner)
{
    struct policy_config *c;
    struct parse *ps = parse_new(&c);
    if (!ps)
        return NULL;
    char path[sizeof(c->files[0].path) - 64];
    struct stat st;
    if (strlen(dir) >= sizeof(path) - 16) {
        problem(c, "%s: the name is too long", dir);
        free(ps);
        return c;
    }
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            root_only(c, dir, &st, check_owner);
        else
            problem(c, "%s: not a directory", dir);
    } else if (errno != ENOENT)
        problem(c, "%s: %s", dir, strerror(errno));

    snprintf(path, sizeof(path), "%s/kyso.conf", dir);
    parse_file(ps, path, true, check_owner);

    snprintf(path, sizeof(path), "%s/conf.d", dir);
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            problem(c, "%s: %s", path, strerror(errno));
        stamp(c, path, NULL);
    } else if (!S_ISDIR(st.st_mode)) {
        problem(c, "%s: not a directory", path);
    } else if (root_only(c, path, &st, check_owner)) {
        stamp(c, path, &st); /* its mtime changes when a file comes or goes */
        struct dirent **names;
        int n = scandir(path, &names, conf_name, alphasort);
        if (n < 0)
            problem(c, "%s: cannot be listed: %s", path, strerror(errno));
        for (int i = 0; i < n; i++) {
            char file[sizeof(c->files[0].path)];
            if (snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name) >= (int)sizeof(file))
                problem(c, "%s/%s: the name is too long", path, names[i]->d_name);
            else if (c->nfiles < POLICY_MAX_FILES)
                parse_file(ps, file, false, check_owner);
            else
                problem(c, "%s: more than %d configuration files", path, POLICY_MAX_FILES - 2);
            free(names[i]);
        }
        free(names);
    }
    resolve(ps);
    free(ps);
    return c;
}

struct policy_config *policy_config_load_text(const char *text, size_t len, const char *name)
{
    struct policy_config *c;
    struct parse *ps = parse_new(&c);
    if (!ps)
        return NULL;
    if (len > MAX_FILE_BYTES)
        problem(c, "%s: larger than %d bytes", name, MAX_FILE_BYTES);
    else
        parse_text(ps, text, len, name, 0);
    resolve(ps);
    free(ps);
    return c;
}

void policy_config_free(struct policy_config *c)
{
    free(c);
}

/* ---------------------------------------------------- the shared snapshot */

static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy_config *snapshot;
static policy_notice_fn notice;

void policy_config_set_notice(policy_notice_fn fn)
{
    pthread_mutex_lock(&snapshot_lock);
    notice = fn;
    pthread_mutex_unlock(&snapshot_lock);
}

static bool unchanged(const struct policy_config *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        const struct policy_file_stamp *f = &c->files[i];
        struct stat st;
        bool exists = stat(f->path, &st) == 0;
        if (exists != f->exists)
            return false;
        if (exists && (st.st_dev != f->dev || st.st_ino != f->ino || st.st_size != f->size ||
                       st.st_mtim.tv_sec != f->mtime.tv_sec || st.st_mtim.tv_nsec != f->mtime.tv_nsec))
            return false;
    }
    return true;
}

static void drop(struct policy_config *c)
{
    if (c && --c->refs == 0)
        policy_config_free(c);
}

/* Said once per load: what is weaker than the profile, or broken. */
static void announce(const struct policy_config *c)
{
    char line[600];
    if (!notice)
        return;
    for (size_t i = 0; i < POLICY_NPARAMS; i++) {
        const struct policy_setting *s = &c->settings[i];
        if (!s->weakened)
            continue;
        const struct policy_param *p = policy_param_get(i);
        char v[32];
        snprintf(line, sizeof(line), "rule %s weakened: %s = %s (%s), below profile %s", p->rule, p->key,
                 policy_param_format(p, s->value, v, sizeof(v)), s->origin, c->profile->id);
        notice(line);
    }
    for (size_t i = 0; i < c->nproblems; i++) {
        snprintf(line, sizeof(line), "configuration refused, every private-key operation fails: %s", c->problems[i]);
        notice(line);
    }
}

struct policy_config *policy_config_acquire(void)
{
    pthread_mutex_lock(&snapshot_lock);
    if (!snapshot || !unchanged(snapshot)) {
        struct policy_config *fresh = policy_config_load_dir(policy_conf_dir(), true);
        if (fresh) {
            drop(snapshot);
            snapshot = fresh;
            snapshot->refs = 1;
            announce(snapshot);
        }
    }
    struct policy_config *c = snapshot;
    if (c)
        c->refs++;
    pthread_mutex_unlock(&snapshot_lock);
    return c;
}

void policy_config_release(struct policy_config *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&snapshot_lock);
    drop(c);
    pthread_mutex_unlock(&snapshot_lock);
}

void policy_config_reset(void)
{
    pthread_mutex_lock(&snapshot_lock);
    drop(snapshot);
    snapshot = NULL;
    pthread_mutex_unlock(&snapshot_lock);
}

void policy_config_fork_prepare(void)
{
    pthread_mutex_lock(&snapshot_lock);
}

void policy_config_fork_parent(void)
{
    pthread_mutex_unlock(&snapshot_lock);
}

void policy_config_fork_child(void)
{
    pthread_mutex_unlock(&snapshot_lock);
}
