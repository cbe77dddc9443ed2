#ifndef BFT_COPENSSL_SHIM_H
#define BFT_COPENSSL_SHIM_H

#include <openssl/crypto.h>
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

#endif
