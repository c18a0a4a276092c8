/*
 * C tests for the issuer client (oathmesh_client_*), against a real `oathmesh serve` that
 * scripts/test-c-go.sh starts on loopback and describes in the environment:
 *   OATHMESH_TEST_ISSUER_URL     http://127.0.0.1:PORT (also the tokens' iss)
 *   OATHMESH_TEST_CLIENT_ID      a client allowed sub svc://checkout, aud AUDIENCE, act charge
 *   OATHMESH_TEST_CLIENT_SECRET  its secret
 *   OATHMESH_TEST_DOWN_URL       a loopback URL where nothing listens
 * Tokens are checked by a verifier that fetches the issuer's JWKS over HTTP (no static keys).
 * Run under valgrind, so a leak or an invalid read fails the suite.
 */
#define _GNU_SOURCE /* vasprintf, strndup */
#include "oathmesh.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, args) < 0) abort();
    va_end(args);
    return out;
}

static const char *env(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || *value == '\0') {
        fprintf(stderr, "%s is not set: run this test through scripts/test-c-go.sh\n", name);
        exit(2);
    }
    return value;
}

static const char *CHARGE = "{\"sub\":\"svc://checkout\",\"aud\":\"" AUDIENCE "\",\"act\":\"charge\"}";

static oathmesh_client *new_client(const char *url, const char *id, const char *secret) {
    char *config = format("{\"issuer_url\":\"%s\",\"client_id\":\"%s\",\"client_secret\":\"%s\",\"timeout_ms\":2000}",
                          url, id, secret);
    oathmesh_client *client = NULL;
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_client_new(u8(config), strlen(config), &client, &err);
    CHECK(status == OATHMESH_OK && client != NULL, "client_new: %u %s", status, err ? err->message : "");
    oathmesh_error_free(err);
    free(config);
    return client;
}

/* Mints and returns the token (malloc'd), or NULL with *status_out and *err_out set. */
static char *mint(const oathmesh_client *client, const char *request, const oathmesh_request *bind_to,
                  oathmesh_status *status_out, oathmesh_error **err_out) {
    oathmesh_bytes out = {0};
    *status_out = oathmesh_client_mint(client, u8(request), strlen(request), bind_to, &out, err_out);
    if (*status_out != OATHMESH_OK) {
        CHECK(out.data == NULL, "minted_out written on failure");
        return NULL;
    }
    char *json = strndup((const char *)out.data, out.len);
    oathmesh_bytes_free(&out);
    CHECK(strstr(json, "\"token_type\":\"OathMesh\"") != NULL, "token_type: %s", json);
    CHECK(strstr(json, "\"expires_in\":") != NULL, "expires_in: %s", json);
    const char *start = strstr(json, "\"token\":\"");
    char *token = NULL;
    if (start != NULL) {
        start += strlen("\"token\":\"");
        token = strndup(start, (size_t)(strchr(start, '"') - start));
    }
    free(json);
    return token;
}

static char *mint_ok(const oathmesh_client *client, const char *request, const oathmesh_request *bind_to) {
    oathmesh_status status;
    oathmesh_error *err = NULL;
    char *token = mint(client, request, bind_to, &status, &err);
    CHECK(status == OATHMESH_OK && token != NULL, "mint: %u %s: %s", status, err ? err->code : "",
          err ? err->message : "");
    oathmesh_error_free(err);
    return token;
}

/* Verifies a token and returns the status (the error, if any, is checked against `code`). */
static oathmesh_status verify(const oathmesh_verifier *verifier, const char *token, const oathmesh_request *request,
                              const char *code) {
    oathmesh_bytes caller = {0};
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_verifier_verify(verifier, u8(token), strlen(token), request, NULL, 0, NULL, 0,
                                                      &caller, &err);
    if (code == NULL) {
        CHECK(status == OATHMESH_OK, "verify: %u %s: %s", status, err ? err->code : "", err ? err->message : "");
        const char *subject = "\"subject\":\"svc://checkout\"";
        CHECK(caller.data != NULL && memmem(caller.data, caller.len, subject, strlen(subject)) != NULL,
              "caller: %.*s", (int)caller.len, (const char *)caller.data);
    } else {
        CHECK(err != NULL && strcmp(err->code, code) == 0, "expected %s, got %u %s", code, status,
              err ? err->code : "(no error)");
    }
    oathmesh_bytes_free(&caller);
    oathmesh_error_free(err);
    return status;
}

static void test_one_fresh_token_per_call(const oathmesh_client *client, const oathmesh_verifier *verifier) {
    char *first = mint_ok(client, CHARGE, NULL);
    char *second = mint_ok(client, CHARGE, NULL);
    if (first == NULL || second == NULL) goto done;
    CHECK(strcmp(first, second) != 0, "two mints returned the same token");
    CHECK(verify(verifier, first, NULL, NULL) == OATHMESH_OK, "first token");
    CHECK(verify(verifier, second, NULL, NULL) == OATHMESH_OK, "second token");
    CHECK(verify(verifier, first, NULL, "replay_detected") == OATHMESH_REPLAY_DETECTED, "replay");
done:
    free(first);
    free(second);
}

static void test_bound_token(const oathmesh_client *client, const oathmesh_verifier *verifier) {
    const char *body = "{\"amount\":1200}";
    oathmesh_request sent = {u8("POST"), 4, u8("/charges?currency=eur"), 21, u8(body), strlen(body)};
    char *token = mint_ok(client, CHARGE, &sent);
    char *other = mint_ok(client, CHARGE, &sent);
    if (token == NULL || other == NULL) goto done;
    CHECK(verify(verifier, token, &sent, NULL) == OATHMESH_OK, "bound token on its own request");
    const char *tampered_body = "{\"amount\":9999}";
    oathmesh_request tampered = sent;
    tampered.body = u8(tampered_body);
    tampered.body_len = strlen(tampered_body);
    CHECK(verify(verifier, other, &tampered, "binding_mismatch") == OATHMESH_BINDING_MISMATCH,
          "bound token on another body");
done:
    free(token);
    free(other);
}

static void expect_mint_error(const oathmesh_client *client, const char *request, oathmesh_status expected,
                              const char *code, unsigned http_status) {
    oathmesh_status status;
    oathmesh_error *err = NULL;
    char *token = mint(client, request, NULL, &status, &err);
    CHECK(token == NULL, "a token was minted");
    CHECK(status == expected, "status %u, expected %u", status, expected);
    CHECK(err != NULL && err->status == expected, "err->status");
    if (err != NULL) {
        CHECK(strcmp(err->code, code) == 0, "code %s, expected %s", err->code, code);
        CHECK(err->http_status == http_status, "http_status %u, expected %u", err->http_status, http_status);
        CHECK(*err->message != '\0', "empty message for %s", code);
        CHECK(*err->fix != '\0', "empty fix for %s", code);
        CHECK(strcmp(err->step, "") == 0, "step: %s", err->step);
    }
    oathmesh_error_free(err);
    free(token);
}

static void test_issuer_errors(const char *url, const char *id, const char *secret, const char *down_url) {
    oathmesh_client *client = new_client(url, id, secret);
    /* Outside the client's allow-list. */
    expect_mint_error(client, "{\"sub\":\"svc://admin\",\"aud\":\"" AUDIENCE "\",\"act\":\"charge\"}",
                      OATHMESH_ISSUER_REJECTED, "mint_denied", 403);
    /* Not a mint request at all: refused before any HTTP call. */
    expect_mint_error(client, "{\"sub\":", OATHMESH_MINT_CLAIM_INVALID, "claim_invalid:request", 0);
    oathmesh_client_free(client);

    oathmesh_client *wrong = new_client(url, id, "not-the-secret-not-the-secret-0000");
    expect_mint_error(wrong, CHARGE, OATHMESH_ISSUER_REJECTED, "invalid_client", 401);
    oathmesh_client_free(wrong);

    oathmesh_client *down = new_client(down_url, id, secret);
    expect_mint_error(down, CHARGE, OATHMESH_ISSUER_UNAVAILABLE, "issuer_unavailable", 503);
    oathmesh_client_free(down);
}

static void test_config_and_arguments(const char *url) {
    oathmesh_client *client = NULL;
    oathmesh_error *err = NULL;
    char *both = format("{\"issuer_url\":\"%s\",\"client_id\":\"a\",\"client_secret\":\"s\",\"client_key_pem\":\"k\"}", url);
    CHECK(oathmesh_client_new(u8(both), strlen(both), &client, &err) == OATHMESH_CONFIG_INVALID, "two credentials");
    CHECK(client == NULL, "client written on failure");
    CHECK(err != NULL && strcmp(err->code, "config_invalid") == 0, "code");
    oathmesh_error_free(err);
    err = NULL;
    free(both);

    const char *unknown = "{\"issuer_url\":\"http://127.0.0.1:1\",\"client_id\":\"a\",\"client_secret\":\"s\",\"retries\":3}";
    CHECK(oathmesh_client_new(u8(unknown), strlen(unknown), &client, &err) == OATHMESH_CONFIG_INVALID, "unknown key");
    CHECK(err != NULL && strstr(err->message, "retries") != NULL, "message names the key: %s", err ? err->message : "");
    oathmesh_error_free(err);
    err = NULL;

    const char *ftp = "{\"issuer_url\":\"ftp://issuer\",\"client_id\":\"a\",\"client_secret\":\"s\"}";
    CHECK(oathmesh_client_new(u8(ftp), strlen(ftp), &client, &err) == OATHMESH_CONFIG_INVALID, "not http(s)");
    oathmesh_error_free(err);
    err = NULL;

    CHECK(oathmesh_client_new(NULL, 0, &client, &err) == OATHMESH_NULL_ARGUMENT, "NULL config");
    oathmesh_error_free(err);
    err = NULL;

    client = new_client(url, "a", "s");
    oathmesh_bytes out = {0};
    CHECK(oathmesh_client_mint(NULL, u8(CHARGE), strlen(CHARGE), NULL, &out, NULL) == OATHMESH_NULL_ARGUMENT,
          "NULL client");
    CHECK(oathmesh_client_mint(client, u8(CHARGE), strlen(CHARGE), NULL, NULL, &err) == OATHMESH_NULL_ARGUMENT,
          "NULL minted_out");
    CHECK(err != NULL && strstr(err->message, "minted_out") != NULL, "names the argument");
    oathmesh_error_free(err);
    err = NULL;
    oathmesh_request bad = {u8("P\xffST"), 4, u8("/"), 1, NULL, 0};
    CHECK(oathmesh_client_mint(client, u8(CHARGE), strlen(CHARGE), &bad, &out, &err) == OATHMESH_INVALID_UTF8,
          "non-UTF-8 method");
    oathmesh_error_free(err);
    oathmesh_client_free(client);
    oathmesh_client_free(NULL);
}

int main(void) {
    const char *url = env("OATHMESH_TEST_ISSUER_URL");
    const char *id = env("OATHMESH_TEST_CLIENT_ID");
    const char *secret = env("OATHMESH_TEST_CLIENT_SECRET");
    const char *down_url = env("OATHMESH_TEST_DOWN_URL");

    /* The receiver fetches the issuer's keys from {iss}/.well-known/jwks.json. */
    char *config = format("{\"audience\":\"%s\",\"trusted_issuers\":[\"%s\"]}", AUDIENCE, url);
    oathmesh_verifier *verifier = NULL;
    oathmesh_error *err = NULL;
    oathmesh_status status = oathmesh_verifier_new(u8(config), strlen(config), &verifier, &err);
    CHECK(status == OATHMESH_OK, "verifier_new: %u %s", status, err ? err->message : "");
    oathmesh_error_free(err);
    free(config);
    oathmesh_client *client = new_client(url, id, secret);
    if (verifier == NULL || client == NULL) return 1;

    /* Load the issuer's keys before the first verification. */
    oathmesh_bytes prewarm = {0};
    status = oathmesh_verifier_prewarm(verifier, &prewarm, NULL);
    CHECK(status == OATHMESH_OK && prewarm.data != NULL && prewarm.data[0] == '[' &&
              memmem(prewarm.data, prewarm.len, "\"ok\":true", 9) != NULL,
          "prewarm: %u %.*s", status, (int)prewarm.len, (const char *)prewarm.data);
    oathmesh_bytes_free(&prewarm);
    CHECK(oathmesh_verifier_prewarm(NULL, &prewarm, NULL) == OATHMESH_NULL_ARGUMENT, "prewarm NULL");

    test_one_fresh_token_per_call(client, verifier);
    test_bound_token(client, verifier);
    test_issuer_errors(url, id, secret, down_url);
    test_config_and_arguments(url);

    oathmesh_client_free(client);
    oathmesh_verifier_free(verifier);
    printf("C client tests: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
