#ifndef BFT_CBASELINE_H
#define BFT_CBASELINE_H
#include <stddef.h>
#include <stdint.h>

/* The C libraries called directly, timed in C, as the baseline for the Swift wrappers in BFTCrypto.
   Each returns nanoseconds per operation over `iterations` calls, or a negative value on failure. */
double bft_c_ed25519_sign_ns(size_t message_bytes, uint64_t iterations);
double bft_c_ed25519_verify_ns(size_t message_bytes, uint64_t iterations);
/* Ed25519 verification through OpenSSL's EVP_DigestVerify (one EVP_PKEY, one reused EVP_MD_CTX): the other library
   that could verify, for comparison with libsodium's. */
double bft_c_openssl_ed25519_verify_ns(size_t message_bytes, uint64_t iterations);
/* SHA-256 with the EVP_MD fetched once and one EVP_MD_CTX reused, as BFTCrypto does. */
double bft_c_sha256_ns(size_t message_bytes, uint64_t iterations);
/* HMAC-SHA256 with a keyed EVP_MAC_CTX re-initialised without the key per message, as BFTCrypto does. */
double bft_c_hmac_sha256_ns(size_t message_bytes, uint64_t iterations);

#endif
