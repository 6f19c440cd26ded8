/* The five regulation profiles of REGULATIONS.md, as data: one table per
 * profile in profiles.c. An agency names the one it operates under in
 * kyso.conf (`profile = …`); the default is the law in force, nd68-2024.
 * Everything that differs between profiles is a field here, so that no
 * code anywhere asks which profile is in force: it asks the profile for
 * the value (a deadline, a form number, a level). */
#ifndef KYSO_POLICY_PROFILE_H
#define KYSO_POLICY_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The state-secret level the token is handled at (rule M13). */
enum policy_level { POLICY_LEVEL_MAT, POLICY_LEVEL_TOI_MAT };

/* What the regulation says of a deadline or a number: a value, or that it
 * defers to another text (the national rule it names). */
#define POLICY_PER_LAW (-1)

struct policy_profile {
    const char *id;               /* "nd68-2024" */
    const char *seed;             /* the regulation's file in seeds/ */
    const char *regulation;       /* "QĐ 67/2016/QĐ-UBND (An Giang)" */
    const char *basis;            /* the national text it applies */
    enum policy_level level;
    /* M10 renewal */
    bool renewal_once;
    int renewal_min_days_left;    /* or POLICY_PER_LAW */
    int renewal_adds_max_years;   /* or POLICY_PER_LAW */
    int info_change_min_days_left;
    /* M11 return of a token whose certificate ended */
    int return_working_days;      /* or POLICY_PER_LAW */
    /* M6 recovery of a locked token */
    int recovery_working_days;    /* or POLICY_PER_LAW */
    /* M9 reports */
    int report_period_months;     /* 6 or 12 */
    const char *report_due;       /* "15/11", or NULL */
    bool report_yearly_plan;      /* a next-year plan goes with the yearly report */
    /* the forms the profile's regulation cites ("Mẫu 06 (NĐ 68/2024)") */
    const char *form_recovery;
    const char *form_handover;
    const char *form_return;
    const char *form_revocation;
    const char *form_loss;
    const char *form_renewal;
    /* who is responsible */
    const char *body_subscriber_manager;
    const char *body_recovery;    /* who recovers a locked token */
    const char *body_ca;
    /* M15: the profile forbids signing documents that hold state secrets */
    bool no_state_secret_documents;
};

#define POLICY_DEFAULT_PROFILE "nd68-2024"

/* The profile named id, or NULL. */
const struct policy_profile *policy_profile_find(const char *id);
/* The profiles, in the order REGULATIONS.md lists them; n set to their count. */
const struct policy_profile *const *policy_profiles(size_t *n);
const char *policy_level_name(enum policy_level level); /* "Mật", "Tối mật" */

#endif
