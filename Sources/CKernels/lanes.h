// Private to CKernels: the last step of every range-tracking loop.
#ifndef KVV_LANES_H
#define KVV_LANES_H

/// Folds per-lane running minima and maxima (each started at 0, NaN never taken) into
/// [min(x, 0), max(x, 0)]: the value range int8 quantisation is computed from.
static inline void kvv_fold_range(const float *lo, const float *hi, int lanes, float *lower, float *upper) {
    float a = 0, b = 0;
    for (int l = 0; l < lanes; l++) {
        a = lo[l] < a ? lo[l] : a;
        b = hi[l] > b ? hi[l] : b;
    }
    *lower = a;
    *upper = b;
}

#endif
