// Shim over OpenBLAS's CBLAS interface and its threading controls.
#ifndef KVV_COPENBLAS_SHIM_H
#define KVV_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
