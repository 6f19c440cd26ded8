/* libFuzzer target: a record's JSON text through records_parse (bounded),
 * records_validate, the canonical form and the hash. Any text must give a
 * record that is valid or has its problems listed, never a crash; a valid
 * one has a canonical form that parses back to the same bytes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records/canon.h"
#include "records/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[160], h[65], *c = NULL, *c2 = NULL;
    size_t len = 0, len2 = 0;
    struct records_problems p = {0};
    json_object *o = records_parse((const char *)data, size, why, sizeof(why));

    if (!o)
        return 0;
    size_t n = records_validate(o, &p);
    if (n != p.n + p.dropped)
        abort();
    if (records_canonical(o, &c, &len, why, sizeof(why)) == 0) {
        json_object *back = records_parse(c, len, why, sizeof(why));
        if (!back || records_canonical(back, &c2, &len2, why, sizeof(why)) < 0 || len != len2 || memcmp(c, c2, len))
            abort();
        json_object_put(back);
        if (json_object_is_type(o, json_type_object) && records_hash(o, h) < 0)
            abort();
    } else if (n == 0) {
        abort(); /* a valid record always has a canonical form */
    }
    free(c);
    free(c2);
    json_object_put(o);
    return 0;
}
