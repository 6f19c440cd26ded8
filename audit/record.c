/* The audit trail: who called (identity) and the text of a record. */
#include "config.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/internal.h"

static void fill_user(uid_t uid, struct audit_identity *id)
{
    struct passwd pw, *res = NULL;
    char buf[1024];
    id->uid = (long)uid;
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
        snprintf(id->user, sizeof(id->user), "%s", res->pw_name);
    else
        snprintf(id->user, sizeof(id->user), "%ld", (long)uid);
}

void audit_identity_of(pid_t pid, uid_t uid, struct audit_identity *id)
{
    char link[64];
    memset(id, 0, sizeof(*id));
    gethostname(id->host, sizeof(id->host) - 1);
    fill_user(uid, id);
    id->pid = (long)pid;
    snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
    ssize_t n = readlink(link, id->exe, sizeof(id->exe) - 1);
    id->exe[n > 0 ? n : 0] = '\0';
    snprintf(link, sizeof(link), "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(link, "re");
    if (f) {
        if (fgets(id->program, sizeof(id->program), f))
            id->program[strcspn(id->program, "\n")] = '\0';
        fclose(f);
    }
}

void audit_identity_self(struct audit_identity *id)
{
    audit_identity_of(getpid(), getuid(), id);
}

void audit_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

bool audit_unhex_lower(const char *hex, uint8_t *out, size_t len)
{
    /* The writer's own form only: one text, one value (a verifier that
     * took "A" for "a" would let a changed byte pass). */
    for (size_t i = 0; i < 2 * len; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return false;
    return audit_unhex(hex, out, len);
}

bool audit_unhex(const char *hex, uint8_t *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return false;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

static void add_string(json_object *o, const char *name, const char *v)
{
    if (v && *v)
        json_object_object_add(o, name, json_object_new_string(v));
}

static char *name_text(X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (!b)
        return NULL;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

/* The certificate's identity: fingerprint, serial, subject (with the
 * holder's title), issuer, organisation, validity end. */
static json_object *certificate_parse(const uint8_t *der, size_t len, const uint8_t md[32])
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    json_object *o = json_object_new_object();
    char hex[2 * 64 + 1], text[256];

    if (md) {
        audit_hex(md, 32, hex);
        add_string(o, "sha256", hex);
    }
    if (!x)
        return o;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    if (serial && serial->length > 0 && serial->length <= 64) {
        audit_hex(serial->data, (size_t)serial->length, hex);
        add_string(o, "serial", hex);
    }
    char *s = name_text(X509_get_subject_name(x));
    add_string(o, "subject", s);
    free(s);
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_title, text, sizeof(text)) > 0)
        add_string(o, "title", text);
    s = name_text(X509_get_issuer_name(x));
    add_string(o, "issuer", s);
    free(s);
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, text, sizeof(text)) > 0)
        add_string(o, "organization", text);
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        add_string(o, "not_after", text);
    }
    X509_free(x);
    return o;
}

/* A signing process names the same few certificates in every record:
 * what certificate_parse makes of one is kept (as its JSON text, by the
 * certificate's SHA-256), so that it is parsed once, not per record. The
 * cache is skipped when its lock is busy (never waited for: a child forked
 * while another thread held it just parses). */
#define CERT_CACHE 4
static pthread_mutex_t cert_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint8_t md[32];
    char *json;
} cert_cache[CERT_CACHE];
static size_t cert_cache_next;

/* The module may be unloaded (dlclose) while its process goes on: the
 * cache goes with it. */
__attribute__((destructor)) static void cert_cache_free(void)
{
    for (size_t i = 0; i < CERT_CACHE; i++) {
        free(cert_cache[i].json);
        cert_cache[i].json = NULL;
    }
}

static json_object *certificate_object(const uint8_t *der, size_t len)
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
        return certificate_parse(der, len, NULL);
    json_object *o = NULL;
    if (pthread_mutex_trylock(&cert_cache_lock) == 0) {
        for (size_t i = 0; i < CERT_CACHE && !o; i++)
            if (cert_cache[i].json && memcmp(cert_cache[i].md, md, sizeof(md)) == 0)
                o = json_tokener_parse(cert_cache[i].json);
        pthread_mutex_unlock(&cert_cache_lock);
    }
    if (o)
        return o;
    o = certificate_parse(der, len, md);
    char *json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    if (json && pthread_mutex_trylock(&cert_cache_lock) == 0) {
        size_t i = cert_cache_next;
        cert_cache_next = (cert_cache_next + 1) % CERT_CACHE;
        free(cert_cache[i].json);
        memcpy(cert_cache[i].md, md, sizeof(md));
        cert_cache[i].json = json;
        json = NULL;
        pthread_mutex_unlock(&cert_cache_lock);
    }
    free(json);
    return o;
}

void audit_now(char out[48])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 48 - n, ".%03dZ", (int)((ts.tv_nsec / 1000000) % 1000));
}

bool audit_event_releases(const char *event)
{
    /* ("record": a legal record registered, which the module then trusts) */
    return event && (strcmp(event, "sign") == 0 || strcmp(event, "decrypt") == 0 || strcmp(event, "derive") == 0 ||
                     strcmp(event, "record") == 0);
}

/* What a "withheld" record repeats of the record it takes back, so that a
 * report can take it off the same counts. */
static const char *const withheld_copies[] = { "reader", "token", "key", "cert", "mechanism", "input_len",
                                               "input_sha256", "signature_sha256" };

static void copy_field(json_object *to, json_object *from, const char *name)
{
    json_object *v;
    if (json_object_object_get_ex(from, name, &v))
        json_object_object_add(to, name, json_object_get(v));
}

/* The record's fields up to and including "prev", as a JSON object. */
json_object *audit_record_object(const struct audit_event *ev, const struct audit_identity *who, uint64_t seq,
                                 const char *log_id)
{
    json_object *o = json_object_new_object();
    char time[48];
    audit_now(time);
    json_object_object_add(o, "v", json_object_new_int(1));
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
    add_string(o, "time", time);
    add_string(o, "event", ev->event);
    if (who) {
        add_string(o, "host", who->host);
        add_string(o, "user", who->user);
        json_object_object_add(o, "uid", json_object_new_int64(who->uid));
        json_object_object_add(o, "pid", json_object_new_int64(who->pid));
        add_string(o, "exe", who->exe);
        add_string(o, "program", who->program);
    }
    add_string(o, "module", PACKAGE_VERSION);
    json_object *ref = (json_object *)ev->ref_record;
    if (ref) {
        json_object *of;
        if (json_object_object_get_ex(ref, "event", &of))
            json_object_object_add(o, "of", json_object_get(of));
        for (size_t i = 0; i < sizeof(withheld_copies) / sizeof(withheld_copies[0]); i++)
            copy_field(o, ref, withheld_copies[i]);
    } else {
        add_string(o, "reader", ev->reader);
        add_string(o, "token", ev->token);
        add_string(o, "key", ev->key);
        if (ev->cert_der && ev->cert_len)
            json_object_object_add(o, "cert", certificate_object(ev->cert_der, ev->cert_len));
        add_string(o, "mechanism", ev->mechanism);
        if (ev->has_input) {
            json_object_object_add(o, "input_len", json_object_new_int64((int64_t)ev->input_len));
            if (ev->input_sha256) {
                char hex[65];
                audit_hex(ev->input_sha256, 32, hex);
                add_string(o, "input_sha256", hex);
            }
        }
        if (ev->sig && ev->sig_len) {
            uint8_t md[32];
            unsigned int mdlen = 0;
            char hex[65];
            if (EVP_Digest(ev->sig, ev->sig_len, md, &mdlen, EVP_sha256(), NULL) == 1) {
                audit_hex(md, mdlen, hex);
                add_string(o, "signature_sha256", hex);
            }
        }
    }
    add_string(o, "outcome", ev->outcome);
    add_string(o, "rule", ev->rule);
    add_string(o, "detail", ev->detail);
    add_string(o, "request", ev->request);
    add_string(o, "checked", ev->checked);
    if (ev->ref_seq)
        json_object_object_add(o, "ref_seq", json_object_new_int64((int64_t)ev->ref_seq));
    add_string(o, "log_id", log_id);
    return o;
}

/* The line: the object's fields, "prev", then ,"mac":"…"} sealing all
 * that comes before it. Returns the length, or 0 if it does not fit. */
size_t audit_seal_line(json_object *o, const uint8_t prev[AUDIT_HASH_LEN], const uint8_t key[AUDIT_KEY_LEN],
                       char *out, size_t cap)
{
    char hex[2 * AUDIT_HASH_LEN + 1];
    audit_hex(prev, AUDIT_HASH_LEN, hex);
    json_object_object_add(o, "prev", json_object_new_string(hex));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t n = strlen(text);
    /* Room for ,"mac":"<64>"} and the newline. */
    if (n < 2 || text[n - 1] != '}' || n - 1 + 8 + 64 + 3 > cap)
        return 0;
    memcpy(out, text, n - 1);
    size_t body = n - 1;
    uint8_t mac[AUDIT_HASH_LEN];
    audit_mac(key, (const uint8_t *)out, body, mac);
    audit_hex(mac, sizeof(mac), hex);
    int w = snprintf(out + body, cap - body, ",\"mac\":\"%s\"}\n", hex);
    return w > 0 ? body + (size_t)w : 0;
}
