/* The rules' decision; see decide.h. The rules of REGULATIONS.md are
 * decided here, from the agency's profile and root's configuration; until
 * they are configured every operation is allowed. */
#include "config.h"

#include "policy/decide.h"

#include <string.h>

void policy_decide(const struct policy_request *request, struct policy_decision *decision)
{
    memset(decision, 0, sizeof(*decision));
    decision->allowed = request != NULL;
    if (!request)
        strcpy(decision->detail, "no request to decide");
}
