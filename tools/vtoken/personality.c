/* kyso-vtoken: the personalities a token can have. Each lives in its own
 * files and is reached only through struct vt_personality. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tools/vtoken/card.h"
#include "tools/vtoken/piv.h"
#include "tools/vtoken/vgca.h"

static const struct vt_personality *const personalities[] = {
    &vt_personality_piv,
    &vt_personality_vgca_chipdoc,
    &vt_personality_vgca_jcop,
};

const struct vt_personality *vt_personality_find(const char *name)
{
    for (size_t i = 0; i < sizeof(personalities) / sizeof(personalities[0]); i++)
        if (strcmp(personalities[i]->name, name) == 0)
            return personalities[i];
    return NULL;
}

void vt_personality_list(char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(personalities) / sizeof(personalities[0]) && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? ", " : "", personalities[i]->name);
}
