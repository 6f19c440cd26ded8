/* kyso-vtoken: the token's state file; see state_file.h. */
#include "config.h"

#include "tools/vtoken/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t magic[8] = { 'K', 'Y', 'S', 'O', 'V', 'T', 'K', 0x01 };
#define DIGEST_LEN 32
#define MAX_STATE_FILE (1024 * 1024)
#define TAG_PERSONALITY 0x80
#define TAG_BODY 0xA0

static bool sha256(const uint8_t *data, size_t len, uint8_t out[DIGEST_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == DIGEST_LEN;
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* fsync the directory so that the rename itself is durable. */
static void sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int vt_state_save(const char *path, const struct vt_personality *pers, const void *state, char *err, size_t errlen)
{
    struct tlv_builder b;
    uint8_t digest[DIGEST_LEN];
    int rc = -1;

    tlv_builder_init(&b);
    tlv_add_raw(&b, magic, sizeof(magic));
    tlv_add(&b, TAG_PERSONALITY, pers->name, strlen(pers->name));
    size_t m = tlv_begin(&b, TAG_BODY);
    pers->save(state, &b);
    tlv_end(&b, m);
    if (tlv_builder_error(&b) || !sha256(b.data, b.len, digest)) {
        snprintf(err, errlen, "cannot encode the token state");
        goto out;
    }
    tlv_add_raw(&b, digest, sizeof(digest));

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp || tlv_builder_error(&b)) {
        free(tmp);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(tmp, plen + 8, "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        goto out;
    }
    bool ok = write_all(fd, b.data, b.len) && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        snprintf(err, errlen, "cannot save %s: %s", path, strerror(saved));
        unlink(tmp);
        free(tmp);
        goto out;
    }
    free(tmp);
    sync_dir_of(path);
    rc = 0;
out:
    tlv_builder_free(&b);
    return rc;
}

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    uint8_t *buf = NULL;

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_STATE_FILE) {
        snprintf(err, errlen, "%s is not a token state file (not a regular file, or too large)", path);
        goto out;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot read %s", path);
            OPENSSL_clear_free(buf, size);
            buf = NULL;
            goto out;
        }
        got += (size_t)n;
    }
    *len = size;
out:
    close(fd);
    return buf;
}

int vt_state_load(const char *path, const struct vt_personality **pers, void **state, char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t digest[DIGEST_LEN];
    int rc = -1;
    uint8_t *buf = read_file(path, &len, err, errlen);

    if (!buf)
        return -1;
    if (len < sizeof(magic) + DIGEST_LEN || memcmp(buf, magic, sizeof(magic)) != 0) {
        snprintf(err, errlen, "%s is damaged: not a kyso-vtoken state file", path);
        goto out;
    }
    size_t body_len = len - DIGEST_LEN;
    if (!sha256(buf, body_len, digest) || CRYPTO_memcmp(digest, buf + body_len, DIGEST_LEN) != 0) {
        snprintf(err, errlen, "%s is damaged: checksum mismatch", path);
        goto out;
    }
    const uint8_t *p = buf + sizeof(magic);
    size_t left = body_len - sizeof(magic);
    struct tlv name, body;
    if (tlv_next(&p, &left, &name) != TLV_OK || name.tag != TAG_PERSONALITY || tlv_next(&p, &left, &body) != TLV_OK ||
        body.tag != TAG_BODY || left != 0) {
        snprintf(err, errlen, "%s is damaged: malformed structure", path);
        goto out;
    }
    char pname[32];
    if (name.len == 0 || name.len >= sizeof(pname)) {
        snprintf(err, errlen, "%s is damaged: bad personality name", path);
        goto out;
    }
    memcpy(pname, name.value, name.len);
    pname[name.len] = '\0';
    *pers = vt_personality_find(pname);
    if (!*pers) {
        snprintf(err, errlen, "%s was made for an unknown personality '%s'", path, pname);
        goto out;
    }
    char why[200];
    if ((*pers)->load(body.value, body.len, state, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s is damaged: %s", path, why);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_clear_free(buf, len);
    return rc;
}
