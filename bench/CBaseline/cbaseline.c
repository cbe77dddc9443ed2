#include "cbaseline.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Keeps the compiler from discarding results. */
static volatile unsigned char sink;

double bft_c_ed25519_sign_ns(size_t message_bytes, uint64_t iterations) {
    if (sodium_init() < 0) return -1;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    unsigned char *message = calloc(message_bytes + 1, 1);
    if (!message) return -1;
    crypto_sign_keypair(pk, sk);
    double start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        message[0] = (unsigned char)i;
        crypto_sign_detached(sig, NULL, message, message_bytes, sk);
        sink ^= sig[0];
    }
    double elapsed = now_ns() - start;
    free(message);
    return elapsed / (double)iterations;
}

/* A zeroed message of `message_bytes` (caller frees it) signed under a new key pair: what the verify timings check. */
static unsigned char *signed_message(size_t message_bytes, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                                     unsigned char sig[crypto_sign_BYTES]) {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    if (sodium_init() < 0) return NULL;
    unsigned char *message = calloc(message_bytes + 1, 1);
    if (!message) return NULL;
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, message, message_bytes, sk);
    return message;
}

double bft_c_ed25519_verify_ns(size_t message_bytes, uint64_t iterations) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    unsigned char *message = signed_message(message_bytes, pk, sig);
    if (!message) return -1;
    int failures = 0;
    double start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        failures += crypto_sign_verify_detached(sig, message, message_bytes, pk) != 0;
    }
    double elapsed = now_ns() - start;
    free(message);
    return failures ? -1 : elapsed / (double)iterations;
}

double bft_c_openssl_ed25519_verify_ns(size_t message_bytes, uint64_t iterations) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    unsigned char *message = signed_message(message_bytes, pk, sig);
    if (!message) return -1;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, sizeof pk);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int failures = key == NULL || ctx == NULL;
    double start = now_ns();
    for (uint64_t i = 0; i < iterations && !failures; i++) {
        failures += EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1;
        failures += EVP_DigestVerify(ctx, sig, sizeof sig, message, message_bytes) != 1;
        EVP_MD_CTX_reset(ctx);
    }
    double elapsed = now_ns() - start;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    free(message);
    return failures ? -1 : elapsed / (double)iterations;
}

double bft_c_sha256_ns(size_t message_bytes, uint64_t iterations) {
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *message = calloc(message_bytes + 1, 1);
    unsigned char out[32];
    unsigned int length = 0;
    double result = -1;
    if (md && ctx && message) {
        double start = now_ns();
        for (uint64_t i = 0; i < iterations; i++) {
            message[0] = (unsigned char)i;
            EVP_DigestInit_ex2(ctx, md, NULL);
            EVP_DigestUpdate(ctx, message, message_bytes);
            EVP_DigestFinal_ex(ctx, out, &length);
            sink ^= out[0];
        }
        result = (now_ns() - start) / (double)iterations;
    }
    free(message);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return result;
}

double bft_c_hmac_sha256_ns(size_t message_bytes, uint64_t iterations) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    unsigned char *message = calloc(message_bytes + 1, 1);
    unsigned char key[32] = {1, 2, 3};
    unsigned char out[32];
    size_t length = 0;
    double result = -1;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx && message && EVP_MAC_init(ctx, key, sizeof key, params) == 1) {
        double start = now_ns();
        for (uint64_t i = 0; i < iterations; i++) {
            message[0] = (unsigned char)i;
            EVP_MAC_init(ctx, NULL, 0, NULL);
            EVP_MAC_update(ctx, message, message_bytes);
            EVP_MAC_final(ctx, out, &length, sizeof out);
            sink ^= out[0];
        }
        result = (now_ns() - start) / (double)iterations;
    }
    free(message);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return result;
}
