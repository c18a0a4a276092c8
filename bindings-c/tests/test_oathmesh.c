/*
 * C tests for liboathmesh: mints and verifies real tokens, reaches every error family of
 * PROTOCOL §2 (1..18), the calling-convention errors (NULL pointers, non-UTF-8 text), the
 * configuration and mint errors, and frees everything it is given. Run under valgrind by
 * scripts/test-c-go.sh, so a leak or an invalid read fails the suite.
 */
#define _GNU_SOURCE /* memmem, vasprintf, strndup */
#include "oathmesh.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600L
#define ISSUER "https://issuer.internal"
#define AUDIENCE "https://billing.internal"

static int checks = 0;
static int failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

static const uint8_t *u8(const char *text) { return (const uint8_t *)text; }

/* Copies the raw (still JSON-escaped) value of the string member `key` of a flat JSON object,
 * so it can be pasted into another JSON document unchanged. Returns a malloc'd string. */
static char *json_raw_string(const uint8_t *json, size_t len, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    char *text = strndup((const char *)json, len);
    char *start = strstr(text, pattern);
    if (start == NULL) {
        free(text);
        return NULL;
    }
    start += strlen(pattern);
    char *end = start;
    while (*end != '\0' && !(*end == '"' && end[-1] != '\\')) end++;
    char *value = strndup(start, (size_t)(end - start));
    free(text);
    return value;
}

/* A JSON document built with printf formatting; the caller frees it. */
static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, args) < 0) abort();
    va_end(args);
    return out;
}

struct key {
    char *private_pem; /* JSON-escaped */
    char *jwks;        /* a JWKS document holding the public key */
};

static struct key new_key(void) {
    oathmesh_bytes out = {0};
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_generate_key(&out, &err);
    CHECK(status == OATHMESH_OK && err == NULL, "generate_key: %u", status);
    struct key key = {0};
    key.private_pem = json_raw_string(out.data, out.len, "private_pem");
    /* The "jwk" member is the last one and an object: {"kty":...}. */
    char *text = strndup((const char *)out.data, out.len);
    char *jwk = strstr(text, "\"jwk\":");
    CHECK(jwk != NULL && key.private_pem != NULL, "generate_key JSON: %s", "missing members");
    if (jwk != NULL) {
        jwk += strlen("\"jwk\":");
        char *end = strchr(jwk, '}');
        key.jwks = format("{\"keys\":[%.*s}]}", (int)(end - jwk), jwk);
    }
    free(text);
    oathmesh_bytes_free(&out);
    CHECK(out.data == NULL && out.len == 0, "bytes_free resets the value");
    return key;
}

static void free_key(struct key *key) {
    free(key->private_pem);
    free(key->jwks);
}

static oathmesh_issuer *new_issuer(const struct key *key) {
    char *config = format("{\"issuer\":\"%s\",\"private_key_pem\":\"%s\",\"testing\":{\"now\":%ld}}", ISSUER,
                          key->private_pem, NOW);
    oathmesh_issuer *issuer = NULL;
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_issuer_new(u8(config), strlen(config), &issuer, &err);
    CHECK(status == OATHMESH_OK && issuer != NULL, "issuer_new: %s", err ? err->message : "");
    oathmesh_error_free(err);
    free(config);
    return issuer;
}

/* A verifier for AUDIENCE trusting ISSUER with `jwks`, at clock `now`, plus extra top-level
 * members (`top`, each starting with a comma) and extra `testing` members (`testing`). */
static oathmesh_verifier *new_verifier_with(const char *audience, const char *issuer, const char *jwks, long now,
                                            const char *testing, const char *top) {
    char *config = format("{\"audience\":\"%s\",\"trusted_issuers\":[\"%s\"],\"jwks\":%s,"
                          "\"testing\":{\"now\":%ld%s}%s}",
                          audience, issuer, jwks, now, testing, top);
    oathmesh_verifier *verifier = NULL;
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_verifier_new(u8(config), strlen(config), &verifier, &err);
    CHECK(status == OATHMESH_OK && verifier != NULL, "verifier_new(%s): %s", config, err ? err->message : "");
    oathmesh_error_free(err);
    free(config);
    return verifier;
}

static oathmesh_verifier *new_verifier(const struct key *key, const char *testing, const char *top) {
    return new_verifier_with(AUDIENCE, ISSUER, key->jwks, NOW, testing, top);
}

/* Mints a token for `request` (mint request JSON); returns the malloc'd token. */
static char *mint(const oathmesh_issuer *issuer, const char *request) {
    oathmesh_bytes minted = {0};
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_issuer_mint(issuer, u8(request), strlen(request), &minted, &err);
    CHECK(status == OATHMESH_OK, "mint: %s", err ? err->message : "");
    oathmesh_error_free(err);
    char *token = json_raw_string(minted.data, minted.len, "token");
    CHECK(token != NULL && strstr((const char *)minted.data, "\"token_type\":\"OathMesh\"") != NULL, "minted JSON");
    oathmesh_bytes_free(&minted);
    return token;
}

static const char *CHARGE = "{\"sub\":\"svc://checkout\",\"aud\":\"" AUDIENCE "\",\"act\":\"charge\"}";

/* Verifies `token` and expects failure with exactly this status, code, step and HTTP status. */
static void expect_deny(const oathmesh_verifier *verifier, const char *token, const oathmesh_request *request,
                        const char *required_action, oathmesh_status want, const char *code, const char *step,
                        uint16_t http) {
    oathmesh_bytes caller = {(uint8_t *)0x1, 7}; /* must stay untouched on failure */
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_verifier_verify(
        verifier, u8(token), strlen(token), request, u8("req-1"), 5, required_action ? u8(required_action) : NULL,
        required_action ? strlen(required_action) : 0, &caller, &err);
    CHECK(status == want, "%s: got status %u, want %u", code, status, want);
    CHECK(caller.data == (uint8_t *)0x1 && caller.len == 7, "%s: caller_out written on failure", code);
    CHECK(err != NULL, "%s: no error", code);
    if (err == NULL) return;
    CHECK(err->status == want, "%s: err->status %u", code, err->status);
    CHECK(strcmp(err->code, code) == 0, "code %s, want %s", err->code, code);
    CHECK(strcmp(err->step, step) == 0, "%s: step %s, want %s", code, err->step, step);
    CHECK(err->http_status == http, "%s: http %u, want %u", code, err->http_status, http);
    CHECK(strlen(err->message) > 0 && strlen(err->fix) > 0, "%s: message and fix", code);
    CHECK(strstr(err->message, token) == NULL, "%s: the message must not echo the token", code);
    oathmesh_error_free(err);
}

static void expect_allow(const oathmesh_verifier *verifier, const char *token, const oathmesh_request *request,
                         const char *want_fragment) {
    oathmesh_bytes caller = {0};
    oathmesh_error *err = NULL;
    oathmesh_status status =
        oathmesh_verifier_verify(verifier, u8(token), strlen(token), request, NULL, 0, NULL, 0, &caller, &err);
    CHECK(status == OATHMESH_OK && err == NULL, "allow: %s %s", err ? err->code : "", err ? err->message : "");
    oathmesh_error_free(err);
    if (status == OATHMESH_OK) {
        CHECK(caller.data != NULL && memmem(caller.data, caller.len, want_fragment, strlen(want_fragment)) != NULL,
              "caller JSON lacks %s: %.*s", want_fragment, (int)caller.len, caller.data);
    }
    oathmesh_bytes_free(&caller);
}

/* The token with its signature's first character changed. */
static char *tamper_signature(const char *token) {
    char *copy = strdup(token);
    char *sig = strrchr(copy, '.') + 1;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    return copy;
}

/* A token whose header or payload segment is replaced. */
static char *replace_segment(const char *token, int index, const char *segment) {
    const char *dot1 = strchr(token, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    if (index == 0) return format("%s%s", segment, dot1);
    return format("%.*s.%s%s", (int)(dot1 - token), token, segment, dot2);
}

static void test_allow_replay_and_authorization(const struct key *key, const oathmesh_issuer *issuer) {
    oathmesh_verifier *verifier = new_verifier(key, "", "");
    char *token = mint(issuer, CHARGE);
    expect_allow(verifier, token, NULL, "\"subject\":\"svc://checkout\"");
    expect_deny(verifier, token, NULL, NULL, OATHMESH_REPLAY_DETECTED, "replay_detected", "13", 401);
    free(token);

    /* The Authorization header form, and no header at all. */
    token = mint(issuer, CHARGE);
    char *header = format("oathmesh %s", token);
    oathmesh_bytes caller = {0};
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_verifier_verify_authorization(verifier, u8(header), strlen(header), NULL, NULL,
                                                                    0, NULL, 0, &caller, &err);
    CHECK(status == OATHMESH_OK, "authorization allow: %s", err ? err->code : "");
    CHECK(memmem(caller.data, caller.len, "\"action\":\"charge\"", 17) != NULL, "caller action");
    oathmesh_bytes_free(&caller);
    oathmesh_bytes_free(&caller); /* idempotent */
    status = oathmesh_verifier_verify_authorization(verifier, NULL, 0, NULL, NULL, 0, NULL, 0, &caller, &err);
    CHECK(status == OATHMESH_CLAIM_MISSING, "no header: %u", status);
    CHECK(err && strcmp(err->code, "claim_missing:token") == 0 && strcmp(err->step, "00") == 0, "no header code");
    CHECK(caller.data == NULL, "no output on failure");
    oathmesh_error_free(err);
    /* A NULL err_out is allowed: the status alone comes back, nothing leaks. */
    status = oathmesh_verifier_verify_authorization(verifier, u8("Bearer x"), 8, NULL, NULL, 0, NULL, 0, &caller, NULL);
    CHECK(status == OATHMESH_CLAIM_MISSING, "Bearer refused: %u", status);
    free(header);
    free(token);
    oathmesh_verifier_free(verifier);
}

static void test_token_shape_failures(const struct key *key, const oathmesh_issuer *issuer) {
    oathmesh_verifier *verifier = new_verifier(key, "", "");
    char *token = mint(issuer, CHARGE);

    expect_deny(verifier, "not-a-token", NULL, NULL, OATHMESH_TOKEN_MALFORMED, "token_malformed", "01", 401);

    /* {"typ":"om+jwt","alg":"none","kid":"k1"} */
    char *alg_none = replace_segment(token, 0, "eyJ0eXAiOiJvbStqd3QiLCJhbGciOiJub25lIiwia2lkIjoiazEifQ");
    expect_deny(verifier, alg_none, NULL, NULL, OATHMESH_ALGORITHM_NOT_ALLOWED, "algorithm_not_allowed", "02", 401);

    /* Valid claims except "exp": "soon" (a string where an integer is required). */
    char *bad_exp = replace_segment(
        token, 1,
        "eyJpc3MiOiJodHRwczovL2lzc3Vlci5pbnRlcm5hbCIsInN1YiI6InN2YzovL2NoZWNrb3V0IiwiYXVkIjoiaHR0cHM6Ly9iaWxsaW5nLmlu"
        "dGVybmFsIiwiYWN0IjoiY2hhcmdlIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOiJzb29uIiwianRpIjoiajEifQ");
    expect_deny(verifier, bad_exp, NULL, NULL, OATHMESH_CLAIM_INVALID, "claim_invalid:exp", "03", 401);

    char *tampered = tamper_signature(token);
    expect_deny(verifier, tampered, NULL, NULL, OATHMESH_SIGNATURE_INVALID, "signature_invalid", "06", 401);

    /* The untouched token still verifies: failures before step 13 do not burn it. */
    expect_allow(verifier, token, NULL, "\"issuer\":\"" ISSUER "\"");

    free(alg_none);
    free(bad_exp);
    free(tampered);
    free(token);
    oathmesh_verifier_free(verifier);
}

static void test_configuration_failures(const struct key *key, const oathmesh_issuer *issuer) {
    struct key other = new_key();
    char *token = mint(issuer, CHARGE);
    oathmesh_verifier *v;

    v = new_verifier_with(AUDIENCE, "https://other-issuer.internal", key->jwks, NOW, "", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_ISSUER_UNTRUSTED, "issuer_untrusted", "04", 401);
    oathmesh_verifier_free(v);

    v = new_verifier(&other, "", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_KEY_NOT_FOUND, "key_not_found", "05", 401);
    oathmesh_verifier_free(v);

    v = new_verifier(key, ",\"unavailable\":[\"jwks\"]", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_JWKS_UNAVAILABLE, "jwks_unavailable", "05", 503);
    oathmesh_verifier_free(v);

    v = new_verifier_with(AUDIENCE, ISSUER, key->jwks, NOW + 1000, "", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_TOKEN_EXPIRED, "token_expired", "08", 401);
    oathmesh_verifier_free(v);

    v = new_verifier_with(AUDIENCE, ISSUER, key->jwks, NOW - 1000, "", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_TOKEN_NOT_YET_VALID, "token_not_yet_valid", "09", 401);
    oathmesh_verifier_free(v);

    v = new_verifier_with("https://ledger.internal", ISSUER, key->jwks, NOW, "", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_AUDIENCE_MISMATCH, "audience_mismatch", "10", 401);
    oathmesh_verifier_free(v);

    v = new_verifier(key, "", ",\"require_binding\":true");
    expect_deny(v, token, NULL, NULL, OATHMESH_BINDING_REQUIRED, "binding_required", "12", 401);
    oathmesh_verifier_free(v);

    v = new_verifier(key, "", ",\"revoked_subjects\":[\"svc://checkout\"]");
    expect_deny(v, token, NULL, NULL, OATHMESH_SUBJECT_REVOKED, "subject_revoked", "13.5", 401);
    oathmesh_verifier_free(v);

    v = new_verifier(key, ",\"unavailable\":[\"revocation\"]", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_REVOCATION_UNAVAILABLE, "revocation_unavailable", "13.5", 503);
    oathmesh_verifier_free(v);

    v = new_verifier(key, ",\"unavailable\":[\"replay_cache\"]", "");
    expect_deny(v, token, NULL, NULL, OATHMESH_REPLAY_CACHE_UNAVAILABLE, "replay_cache_unavailable", "13", 503);
    oathmesh_verifier_free(v);

    /* A policy that allows only `refund`: `charge` falls through to the default deny. */
    v = new_verifier(key, "",
                     ",\"policy\":{\"version\":1,\"rules\":[{\"name\":\"refunds\",\"allow\":true,"
                     "\"match\":{\"sub\":\"svc://checkout\",\"act\":\"refund\"}}]}");
    expect_deny(v, token, NULL, NULL, OATHMESH_POLICY_DENIED, "policy_denied", "14", 403);
    /* ...and a policy that allows it names the rule in the caller. */
    oathmesh_verifier_free(v);
    v = new_verifier(key, "",
                     ",\"policy\":{\"version\":1,\"rules\":[{\"name\":\"charges\",\"allow\":true,"
                     "\"match\":{\"act\":\"charge\"}}]}");
    expect_allow(v, token, NULL, "\"policy_rule\":\"charges\"");
    /* A route that serves another action than the token's. */
    oathmesh_error *err = NULL;
    oathmesh_bytes caller = {0};
    oathmesh_verifier_free(v);
    v = new_verifier(key, "", "");
    oathmesh_status status = oathmesh_verifier_verify(v, u8(token), strlen(token), NULL, NULL, 0, u8("refund"), 6,
                                                      &caller, &err);
    CHECK(status == OATHMESH_POLICY_DENIED && err && err->http_status == 403, "required_action: %u", status);
    CHECK(err && err->policy_rule && strcmp(err->policy_rule, "required_action") == 0, "policy_rule %s",
          err && err->policy_rule ? err->policy_rule : "(null)");
    oathmesh_error_free(err);
    oathmesh_verifier_free(v);

    free(token);
    free_key(&other);
}

static void test_request_binding(const struct key *key, const oathmesh_issuer *issuer) {
    const char *body = "{\"amount\":1}";
    oathmesh_bytes hash = {0};
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_canonical_request_hash(u8("POST"), 4, u8("/pay?x=1"), 8, u8(body), strlen(body),
                                                             &hash, &err);
    CHECK(status == OATHMESH_OK, "canonical_request_hash: %u", status);
    /* Computed independently: sha256("POST\n/pay\nx=1\n" + hex(sha256(body))). */
    const char *known = "sha256:684788413eaf905977d74669d3aff6e38e641790fcd3e4c3604c736cad4e2a74";
    CHECK(hash.len == strlen(known) && memcmp(hash.data, known, hash.len) == 0, "hash %.*s", (int)hash.len, hash.data);

    char *request = format("{\"sub\":\"svc://checkout\",\"aud\":\"%s\",\"act\":\"charge\",\"rqh\":\"%.*s\"}", AUDIENCE,
                           (int)hash.len, hash.data);
    oathmesh_bytes_free(&hash);
    oathmesh_verifier *v = new_verifier(key, "", ",\"require_binding\":true");

    char *token = mint(issuer, request);
    oathmesh_request same = {u8("POST"), 4, u8("/pay?x=1"), 8, u8(body), strlen(body)};
    expect_allow(v, token, &same, "\"subject\":\"svc://checkout\"");
    free(token);

    token = mint(issuer, request);
    oathmesh_request changed = {u8("POST"), 4, u8("/pay?x=1"), 8, u8("{\"amount\":100}"), 14};
    expect_deny(v, token, &changed, NULL, OATHMESH_BINDING_MISMATCH, "binding_mismatch", "12", 401);
    /* A bound token with no request at all is never accepted unchecked. */
    expect_deny(v, token, NULL, NULL, OATHMESH_BINDING_MISMATCH, "binding_mismatch", "12", 401);
    /* A NULL body with a length is a calling-convention error, not an empty body. */
    oathmesh_request broken = {u8("POST"), 4, u8("/pay"), 4, NULL, 3};
    expect_deny(v, token, &broken, NULL, OATHMESH_NULL_ARGUMENT, "invalid_argument", "", 0);
    oathmesh_request no_method = {NULL, 0, u8("/pay"), 4, NULL, 0};
    expect_deny(v, token, &no_method, NULL, OATHMESH_NULL_ARGUMENT, "invalid_argument", "", 0);
    free(token);
    free(request);
    oathmesh_verifier_free(v);
}

static void test_config_and_mint_errors(const struct key *key, const oathmesh_issuer *issuer) {
    oathmesh_verifier *sentinel = (oathmesh_verifier *)0x1;
    oathmesh_error *err = NULL;
    const char *unknown_key = "{\"audience\":\"a\",\"trusted_issuers\":[\"i\"],\"jwks\":{\"keys\":[]},\"audiense\":1}";
    oathmesh_status status = oathmesh_verifier_new(u8(unknown_key), strlen(unknown_key), &sentinel, &err);
    CHECK(status == OATHMESH_CONFIG_INVALID, "config unknown key: %u", status);
    CHECK(sentinel == (oathmesh_verifier *)0x1, "verifier_out written on failure");
    CHECK(err && strcmp(err->code, "config_invalid") == 0 && strstr(err->message, "audiense") != NULL,
          "config message names the key: %s", err ? err->message : "");
    CHECK(err && err->http_status == 0 && strcmp(err->step, "") == 0 && err->policy_rule == NULL, "config error shape");
    oathmesh_error_free(err);
    err = NULL;

    status = oathmesh_verifier_new(u8("{not json"), 9, &sentinel, &err);
    CHECK(status == OATHMESH_CONFIG_INVALID, "config not JSON: %u", status);
    oathmesh_error_free(err);
    err = NULL;

    oathmesh_issuer *no_issuer = NULL;
    const char *bad_pem = "{\"issuer\":\"" ISSUER "\",\"private_key_pem\":\"nope\"}";
    status = oathmesh_issuer_new(u8(bad_pem), strlen(bad_pem), &no_issuer, &err);
    CHECK(status == OATHMESH_CONFIG_INVALID && no_issuer == NULL, "issuer bad pem: %u", status);
    oathmesh_error_free(err);
    err = NULL;

    oathmesh_bytes minted = {0};
    const char *bad_sub = "{\"sub\":\"checkout\",\"aud\":\"" AUDIENCE "\",\"act\":\"charge\"}";
    status = oathmesh_issuer_mint(issuer, u8(bad_sub), strlen(bad_sub), &minted, &err);
    CHECK(status == OATHMESH_MINT_CLAIM_INVALID && minted.data == NULL, "mint bad sub: %u", status);
    CHECK(err && strcmp(err->code, "claim_invalid:sub") == 0, "mint code %s", err ? err->code : "");
    oathmesh_error_free(err);
    err = NULL;

    const char *unknown_claim = "{\"sub\":\"svc://a\",\"aud\":\"b\",\"act\":\"c\",\"exp\":1}";
    status = oathmesh_issuer_mint(issuer, u8(unknown_claim), strlen(unknown_claim), &minted, &err);
    CHECK(status == OATHMESH_MINT_CLAIM_INVALID, "mint refuses caller-chosen exp: %u", status);
    oathmesh_error_free(err);
    err = NULL;

    oathmesh_bytes jwks = {0};
    status = oathmesh_issuer_jwks(issuer, &jwks, &err);
    CHECK(status == OATHMESH_OK && memmem(jwks.data, jwks.len, "\"crv\": \"Ed25519\"", 16) != NULL, "jwks: %.*s",
          (int)jwks.len, jwks.data);
    oathmesh_bytes_free(&jwks);
    (void)key;
}

static void test_null_and_utf8_arguments(const struct key *key, const oathmesh_issuer *issuer) {
    oathmesh_verifier *verifier = new_verifier(key, "", "");
    oathmesh_verifier *vout = NULL;
    oathmesh_issuer *iout = NULL;
    oathmesh_bytes out = {0};
    oathmesh_error *err = NULL;
    const char *config = "{}";

#define EXPECT_NULL_ARG(call, what)                                                                       \
    do {                                                                                                  \
        err = NULL;                                                                                       \
        oathmesh_status s = (call);                                                                       \
        CHECK(s == OATHMESH_NULL_ARGUMENT, "%s: status %u", what, s);                                     \
        CHECK(err && strcmp(err->code, "invalid_argument") == 0 && strstr(err->message, what) != NULL, \
              "%s: message %s", what, err ? err->message : "(no error)");                                 \
        oathmesh_error_free(err);                                                                         \
    } while (0)

    EXPECT_NULL_ARG(oathmesh_verifier_new(NULL, 0, &vout, &err), "config");
    EXPECT_NULL_ARG(oathmesh_verifier_new(u8(config), 2, NULL, &err), "verifier_out");
    EXPECT_NULL_ARG(oathmesh_verifier_verify(NULL, u8("t"), 1, NULL, NULL, 0, NULL, 0, &out, &err), "verifier");
    EXPECT_NULL_ARG(oathmesh_verifier_verify(verifier, NULL, 0, NULL, NULL, 0, NULL, 0, &out, &err), "token");
    EXPECT_NULL_ARG(oathmesh_verifier_verify(verifier, u8("t"), 1, NULL, NULL, 0, NULL, 0, NULL, &err), "caller_out");
    EXPECT_NULL_ARG(oathmesh_verifier_verify_authorization(NULL, NULL, 0, NULL, NULL, 0, NULL, 0, &out, &err),
                    "verifier");
    EXPECT_NULL_ARG(oathmesh_verifier_verify_authorization(verifier, NULL, 0, NULL, NULL, 0, NULL, 0, NULL, &err),
                    "caller_out");
    EXPECT_NULL_ARG(oathmesh_issuer_new(NULL, 0, &iout, &err), "config");
    EXPECT_NULL_ARG(oathmesh_issuer_new(u8(config), 2, NULL, &err), "issuer_out");
    EXPECT_NULL_ARG(oathmesh_issuer_mint(NULL, u8(CHARGE), strlen(CHARGE), &out, &err), "issuer");
    EXPECT_NULL_ARG(oathmesh_issuer_mint(issuer, NULL, 0, &out, &err), "request");
    EXPECT_NULL_ARG(oathmesh_issuer_mint(issuer, u8(CHARGE), strlen(CHARGE), NULL, &err), "minted_out");
    EXPECT_NULL_ARG(oathmesh_issuer_jwks(NULL, &out, &err), "issuer");
    EXPECT_NULL_ARG(oathmesh_issuer_jwks(issuer, NULL, &err), "jwks_out");
    EXPECT_NULL_ARG(oathmesh_canonical_request_hash(NULL, 0, u8("/"), 1, NULL, 0, &out, &err), "method");
    EXPECT_NULL_ARG(oathmesh_canonical_request_hash(u8("GET"), 3, NULL, 0, NULL, 0, &out, &err), "path_and_query");
    EXPECT_NULL_ARG(oathmesh_canonical_request_hash(u8("GET"), 3, u8("/"), 1, NULL, 2, &out, &err), "body");
    EXPECT_NULL_ARG(oathmesh_canonical_request_hash(u8("GET"), 3, u8("/"), 1, NULL, 0, NULL, &err), "hash_out");
    EXPECT_NULL_ARG(oathmesh_generate_key(NULL, &err), "key_out");
    CHECK(out.data == NULL && vout == NULL && iout == NULL, "no output written by a failed call");

    /* Non-UTF-8 text. */
    err = NULL;
    oathmesh_status status =
        oathmesh_verifier_verify(verifier, u8("\xff\xfe"), 2, NULL, NULL, 0, NULL, 0, &out, &err);
    CHECK(status == OATHMESH_INVALID_UTF8 && err && strcmp(err->code, "invalid_utf8") == 0, "utf8 token: %u", status);
    oathmesh_error_free(err);
    err = NULL;
    status = oathmesh_verifier_verify(verifier, u8("t"), 1, NULL, u8("\xc3"), 1, NULL, 0, &out, &err);
    CHECK(status == OATHMESH_INVALID_UTF8, "utf8 request_id: %u", status);
    oathmesh_error_free(err);
    err = NULL;
    status = oathmesh_canonical_request_hash(u8("GET"), 3, u8("/\xff"), 2, NULL, 0, &out, &err);
    CHECK(status == OATHMESH_INVALID_UTF8, "utf8 path: %u", status);
    oathmesh_error_free(err);

    /* The hash of the empty GET / (known answer from the core's tests): body NULL, length 0. */
    err = NULL;
    status = oathmesh_canonical_request_hash(u8("GET"), 3, u8("/"), 1, NULL, 0, &out, &err);
    const char *known = "sha256:7ab4e29f815aa5cca74727c3b5bbea3e2fa3d33ea85848c546d53ea2c67e0e77";
    CHECK(status == OATHMESH_OK && out.len == strlen(known) && memcmp(out.data, known, out.len) == 0, "empty hash");
    oathmesh_bytes_free(&out);

    /* Freeing NULL is a no-op everywhere. */
    oathmesh_verifier_free(NULL);
    oathmesh_issuer_free(NULL);
    oathmesh_error_free(NULL);
    oathmesh_bytes_free(NULL);
    oathmesh_verifier_free(verifier);
}

struct audit_log {
    int events;
    int allows;
    int denies;
    int leaked_token; /* set when an event contains the token */
    const char *token;
};

static void record_audit(void *user_data, const uint8_t *event, size_t len) {
    struct audit_log *log = user_data;
    log->events++;
    const char *allow = "\"outcome\":\"allow\"", *replay = "\"code\":\"replay_detected\"";
    if (memmem(event, len, allow, strlen(allow)) != NULL) log->allows++;
    if (memmem(event, len, replay, strlen(replay)) != NULL) log->denies++;
    if (log->token != NULL && memmem(event, len, log->token, strlen(log->token)) != NULL) log->leaked_token = 1;
}

static void test_audit_callback(const struct key *key, const oathmesh_issuer *issuer) {
    struct audit_log log = {0};
    char *config = format("{\"audience\":\"%s\",\"trusted_issuers\":[\"%s\"],\"jwks\":%s,\"testing\":{\"now\":%ld}}",
                          AUDIENCE, ISSUER, key->jwks, NOW);
    oathmesh_verifier *v = NULL;
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_verifier_new_with_audit(u8(config), strlen(config), NULL, &log, &v, &err);
    CHECK(status == OATHMESH_NULL_ARGUMENT && v == NULL && err && strstr(err->message, "callback"), "NULL callback");
    oathmesh_error_free(err);
    err = NULL;
    status = oathmesh_verifier_new_with_audit(u8(config), strlen(config), record_audit, &log, &v, &err);
    CHECK(status == OATHMESH_OK && v != NULL, "verifier_new_with_audit: %u", status);
    char *token = mint(issuer, CHARGE);
    log.token = token;
    expect_allow(v, token, NULL, "\"subject\":\"svc://checkout\"");
    expect_deny(v, token, NULL, NULL, OATHMESH_REPLAY_DETECTED, "replay_detected", "13", 401);
    CHECK(log.events == 2 && log.allows == 1 && log.denies == 1, "audit events %d allow %d deny %d", log.events,
          log.allows, log.denies);
    CHECK(!log.leaked_token, "an audit event contains the token");
    oathmesh_verifier_free(v);
    free(token);
    free(config);
}

int main(void) {
    const char *version = oathmesh_version();
    CHECK(version != NULL && strcmp(version, "0.2.0") == 0, "version %s", version ? version : "(null)");

    struct key key = new_key();
    oathmesh_issuer *issuer = new_issuer(&key);
    if (issuer == NULL) {
        fprintf(stderr, "cannot build the issuer; stopping\n");
        return 1;
    }
    test_allow_replay_and_authorization(&key, issuer);
    test_token_shape_failures(&key, issuer);
    test_configuration_failures(&key, issuer);
    test_request_binding(&key, issuer);
    test_config_and_mint_errors(&key, issuer);
    test_null_and_utf8_arguments(&key, issuer);
    test_audit_callback(&key, issuer);
    oathmesh_issuer_free(issuer);
    free_key(&key);

    printf("C tests: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
