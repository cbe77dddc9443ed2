#ifndef BFT_CSODIUM_SHIM_H
#define BFT_CSODIUM_SHIM_H
#include <sodium.h>
#endif
