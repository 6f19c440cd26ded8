/* records_render RECORD.json OUT.pdf: prints a record's JSON as its PDF
 * (records_render_pdf), for tests/unit/records-render.sh. Exit 0 on
 * success, 1 with the renderer's reason on stderr. */
#include <config.h>

#include "records/render.h"

#include <json-c/json.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: records_render RECORD.json OUT.pdf\n");
        return 2;
    }
    json_object *rec = json_object_from_file(argv[1]);
    if (!rec) {
        fprintf(stderr, "records_render: %s: %s\n", argv[1], json_util_get_last_err());
        return 1;
    }
    char why[512];
    int rc = records_render_pdf(rec, argv[2], why, sizeof why);
    json_object_put(rec);
    if (rc != 0) {
        fprintf(stderr, "records_render: %s\n", why);
        return 1;
    }
    return 0;
}
