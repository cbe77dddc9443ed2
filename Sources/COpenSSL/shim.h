#ifndef BFT_COPENSSL_SHIM_H
#define BFT_COPENSSL_SHIM_H

/* The low-level SHA-256 calls below are deprecated in OpenSSL 3 but still part of its API. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

/* OSSL_PARAM arrays are awkward to build from Swift; these helpers keep the
   one place that builds them small and in C. */

/* Fetches SHA-256 once; callers keep the EVP_MD for the process lifetime
   (an implicit fetch per call through EVP_sha256() costs 2-3x more). */
static inline EVP_MD *bft_sha256_fetch(void) {
    return EVP_MD_fetch(NULL, "SHA256", NULL);
}

static inline EVP_MAC *bft_hmac_fetch(void) {
    return EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* Sets the key once; later messages re-initialise with a NULL key, which
   keeps the expensive key schedule (the padded inner and outer states). */
static inline int bft_hmac_sha256_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen) {
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(ctx, key, keylen, params);
}

/* HMAC-SHA256 (RFC 2104) from precomputed inner and outer SHA-256 states: keying
   hashes the padded key once; each message then costs two copies of a plain
   struct and the compression calls, with no allocation and no provider lookup
   (EVP_MAC re-initialises and copies EVP contexts per message, about twice as
   slow for the 50-500 byte messages MAC authenticators cover). */
typedef struct {
    SHA256_CTX inner;
    SHA256_CTX outer;
} bft_hmac_sha256_key;

static inline void bft_hmac_sha256_prepare(bft_hmac_sha256_key *k, const unsigned char *key, size_t keylen) {
    unsigned char block[64];
    unsigned char pad[64];
    memset(block, 0, sizeof block);
    if (keylen > sizeof block) {
        SHA256(key, keylen, block);
    } else if (keylen > 0) {
        memcpy(block, key, keylen);
    }
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, sizeof pad);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, sizeof pad);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
}

static inline void bft_hmac_sha256(const bft_hmac_sha256_key *k, const void *message, size_t length,
                                   unsigned char out[32]) {
    unsigned char inner[32];
    SHA256_CTX context = k->inner;
    SHA256_Update(&context, message, length);
    SHA256_Final(inner, &context);
    context = k->outer;
    SHA256_Update(&context, inner, sizeof inner);
    SHA256_Final(out, &context);
}

#endif
