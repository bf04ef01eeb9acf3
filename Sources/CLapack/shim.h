#ifndef LORAKIT_CLAPACK_SHIM_H
#define LORAKIT_CLAPACK_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
