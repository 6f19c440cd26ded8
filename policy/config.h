/* Root's configuration: $(sysconfdir)/kyso/kyso.conf, then conf.d/NAME.conf
 * in name order (kyso.conf(5)). The profile sets every rule parameter;
 * the files may override them, and an override that is weaker than the
 * profile's level needs `weaken = yes` in the same rule section.
 *
 * A configuration that cannot be trusted (unreadable, unparsable, an
 * unknown profile, rule or key, files or directories writable by anyone
 * but root) is not used at all: it loads as "broken", with its problems
 * listed, and every private-key operation is refused (never "no rules").
 * A missing kyso.conf is the default: profile nd68-2024, audit through
 * kyso-auditd.
 *
 * The loaded configuration is one snapshot shared by every thread
 * (policy_config_acquire/release); policy_config_acquire stats the files
 * it was read from and reloads only when one changed. */
#ifndef KYSO_POLICY_CONFIG_H
#define KYSO_POLICY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "policy/profile.h"

/* The rule parameters. Their ids, keys, types and per-level defaults are
 * the table in rules.c; REGULATIONS.md gives the rules. */
enum policy_param_id {
    POLICY_M1_CHECK_VALIDITY,   /* [M1] check_validity: refuse expired / not yet valid */
    POLICY_M1_CHECK_CHAIN,      /* [M1] check_chain: refuse what does not chain to an anchor */
    POLICY_M1_CRL_REQUIRED,     /* [M1] crl_required: refuse when no CRL of the issuer is cached */
    POLICY_M1_CRL_STALE,        /* [M1] crl_stale = refuse | warn */
    POLICY_M2_ADMIN,            /* [M2] admin: token writes allowed (and audited) */
    POLICY_M12_KEY_USAGE,       /* [M12] key_usage: the certificate's (extended) key usage must allow it */
    POLICY_M13_PIN_EVERY,       /* [M13] pin_every_signature */
    POLICY_M13_IDLE_LOGOUT,     /* [M13] idle_logout: seconds without a call before logout; 0 never */
    POLICY_M13_AUDIT_DAEMON,    /* [M13] audit_daemon_only */
    POLICY_M13_CUSTODIAN,       /* [M13] custodian_binding: every organisation token bound to its custodian */
    POLICY_NPARAMS
};

enum policy_param_type { POLICY_BOOL, POLICY_SECONDS, POLICY_CHOICE };

struct policy_param {
    enum policy_param_id id;
    const char *rule;            /* "M13" */
    const char *key;             /* "pin_every_signature" */
    enum policy_param_type type;
    const char *const *choices;  /* POLICY_CHOICE: names, strictest first */
    long max;                    /* POLICY_SECONDS: the largest value */
    long dflt[2];                /* by level: [POLICY_LEVEL_MAT], [POLICY_LEVEL_TOI_MAT] */
    const char *what;            /* one line for `kyso policy show` */
};

const struct policy_param *policy_param_get(enum policy_param_id id);
const struct policy_param *policy_param_find(const char *rule, const char *key);
/* Whether value is weaker than reference for this parameter. */
bool policy_param_weaker(const struct policy_param *p, long value, long reference);
/* The value as written in kyso.conf ("yes", "900", "warn"). */
const char *policy_param_format(const struct policy_param *p, long value, char *buf, size_t len);

#define POLICY_MAX_PROBLEMS 16
#define POLICY_MAX_FILES 32
#define POLICY_MAX_CRL_URLS 16
#define POLICY_ORIGIN_LEN 300
#define POLICY_MAX_HOSTS 64

struct policy_setting {
    long value;
    char origin[POLICY_ORIGIN_LEN]; /* "profile nd68-2024", or "FILE:LINE" */
    bool weakened;                  /* below the profile's level, with weaken = yes */
};

struct policy_file_stamp {
    char path[512];
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct policy_config {
    bool broken;                                  /* do not use: refuse everything */
    size_t nproblems;
    char problems[POLICY_MAX_PROBLEMS][POLICY_ORIGIN_LEN];
    const struct policy_profile *profile;
    char profile_origin[POLICY_ORIGIN_LEN];
    bool environment_trusted;                     /* `environment = trusted`: a development machine */
    char agency_name[256], agency_parent[256], agency_province[128];
    char audit_sink[300];                         /* "daemon:/run/kyso/auditd.sock", "file:/…" or "off" */
    char audit_sink_origin[POLICY_ORIGIN_LEN];
    int audit_timeout_ms;
    char pinentry_program[256];                   /* "" when none is configured */
    int pinentry_timeout_s;
    bool pinentry_protected_path;                 /* C_Login with no PIN asks through pinentry */
    size_t ncrl_urls;
    char crl_urls[POLICY_MAX_CRL_URLS][256];
    /* M8: the hosts a token may sign on without an off-premises
     * permission, by machine id (32 lowercase hex, /etc/machine-id); none
     * named: every host */
    size_t nhosts;
    char hosts[POLICY_MAX_HOSTS][33];
    char hosts_origin[POLICY_ORIGIN_LEN];
    struct policy_setting settings[POLICY_NPARAMS];
    /* what it was read from, to notice a change (stat only) */
    size_t nfiles;
    struct policy_file_stamp files[POLICY_MAX_FILES];
    unsigned refs;                                /* policy_config_acquire's */
};

/* The directory root's configuration is read from: $(sysconfdir)/kyso. */
const char *policy_conf_dir(void);

/* Reads the configuration in dir (kyso.conf and conf.d/); never NULL
 * except when out of memory. Root-ownership checks apply unless
 * check_owner is false (unit tests of the parser only). */
struct policy_config *policy_config_load_dir(const char *dir, bool check_owner);
/* Parses one configuration text as if it were dir/kyso.conf (the fuzz
 * target and the unit tests). */
struct policy_config *policy_config_load_text(const char *text, size_t len, const char *name);
void policy_config_free(struct policy_config *c);

/* The system configuration, loaded (or reloaded when a file changed). The
 * snapshot stays valid until released. NULL only when out of memory. */
struct policy_config *policy_config_acquire(void);
void policy_config_release(struct policy_config *c);
/* Forgets the snapshot (the module's C_Initialize reads it afresh). */
void policy_config_reset(void);
/* Around fork(): the child starts with the lock free. */
void policy_config_fork_prepare(void);
void policy_config_fork_parent(void);
void policy_config_fork_child(void);

/* The value of a parameter. */
long policy_value(const struct policy_config *c, enum policy_param_id id);

/* Each time a configuration is loaded, its weakened rules are reported
 * here once (syslog by the module, stderr by the tools). */
typedef void (*policy_notice_fn)(const char *line);
void policy_config_set_notice(policy_notice_fn fn);

#endif
