/* libFuzzer target: bytes as a record's detached CMS signature
 * (records_verify_signature, against the test PKI's root over a fixed
 * content the seed signatures cover) and as the certificate a record's
 * facts are read from (records_certificate_facts). Any bytes must be
 * refused with a reason or accepted with a signer named, never a crash;
 * an accepted signature names its signer's certificate. */
#include "config.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/facts.h"
#include "records/sign.h"

static const char content[] = "kyso fuzz: the content every seed signature covers\n";

static X509_STORE *anchors(void)
{
    static X509_STORE *store;
    if (store)
        return store;
    FILE *f = fopen(KYSO_FUZZ_ANCHOR, "r");
    X509 *root = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    store = X509_STORE_new();
    if (!root || !store || X509_STORE_add_cert(store, root) != 1)
        abort();
    X509_free(root);
    return store;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct records_signer_info info;
    char why[256] = "";
    memset(&info, 0, sizeof(info));
    int rc = records_verify_signature((const unsigned char *)content, sizeof(content) - 1, data, size, anchors(), &info,
                                      why, sizeof(why));
    if (rc == 0 && strlen(info.sha256) != 64)
        abort();
    if (rc != 0 && !why[0])
        abort(); /* a refusal always says why */
    json_object *c = records_certificate_facts(data, size, why, sizeof(why));
    json_object_put(c);
    return 0;
}
