#ifndef LORAKIT_CLAPACK_SHIM_H
#define LORAKIT_CLAPACK_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#include <dlfcn.h>

/* Stops the worker threads OpenBLAS's pthreads build starts when it is loaded, if this build
   has them: looked up, not linked, because the serial and OpenMP builds (Debian alternatives
   of libopenblas.so.0) need not export blas_thread_shutdown_. */
static inline void lorakit_stop_idle_blas_workers(void) {
    int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (shutdown) shutdown();
}
#endif
