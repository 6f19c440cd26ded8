/* libFuzzer target: root's kyso.conf as policy/config.c parses it. Any
 * text must give a configuration that is either sound or broken with
 * its problems listed, never a crash, a read past the text or a value
 * outside its parameter's range. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_config *c = policy_config_load_text((const char *)data, size, "kyso.conf");
    if (!c)
        return 0;
    if (!c->profile)
        abort();
    if (!c->broken && c->nproblems)
        abort();
    for (size_t i = 0; i < POLICY_NPARAMS; i++) {
        const struct policy_param *p = policy_param_get(i);
        long v = c->settings[i].value;
        if (v < 0 || (p->type == POLICY_BOOL && v > 1) || (p->type == POLICY_SECONDS && v > p->max))
            abort();
        /* weaker than the profile only where the text said weaken = yes */
        if (policy_param_weaker(p, v, p->dflt[c->profile->level]) != c->settings[i].weakened && !c->broken)
            abort();
    }
    if (strnlen(c->audit_sink, sizeof(c->audit_sink)) == sizeof(c->audit_sink))
        abort();
    policy_config_free(c);
    return 0;
}
