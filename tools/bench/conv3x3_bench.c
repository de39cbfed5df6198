// The det head's five f32 3×3 convs (shapes of models/shapesworld-v1 at 320×240) through
// kvv_conv3x3_rows on one thread: median microseconds per conv, warm (each conv repeated) or
// cold (the five in turn with a 24 MB sweep before each, as after the encoder in `track`).
// Built and run by tools/bench/conv3x3.sh against a revision's Sources/CKernels/kernels.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ckernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define REPS 201

int main(int argc, char **argv) {
    const int cold = argc > 1 && strcmp(argv[1], "cold") == 0;
    struct { const char *name; long cin, h, w, s, cout; } L[] = {
        {"stem.0", 3, 240, 320, 2, 16}, {"stem.1", 16, 120, 160, 2, 32}, {"stem.2", 32, 60, 80, 2, 32},
        {"neck.0", 64, 30, 40, 1, 48}, {"neck.1", 48, 30, 40, 1, 48}};
    float *in[5], *wt[5], *bias[5], *out[5];
    long ho[5], wo[5];
    srand(1);
    for (int l = 0; l < 5; l++) {
        long cin = L[l].cin, h = L[l].h, w = L[l].w, s = L[l].s, cout = L[l].cout;
        ho[l] = (h + 2 - 3) / s + 1;
        wo[l] = (w + 2 - 3) / s + 1;
        in[l] = malloc(sizeof(float) * cin * h * w);
        wt[l] = malloc(sizeof(float) * cin * 9 * cout);
        bias[l] = malloc(sizeof(float) * cout);
        out[l] = malloc(sizeof(float) * cout * ho[l] * wo[l]);
        for (long i = 0; i < cin * h * w; i++) in[l][i] = rand() / (float)RAND_MAX - 0.3f;
        for (long i = 0; i < cin * 9 * cout; i++) wt[l][i] = rand() / (float)RAND_MAX - 0.5f;
        for (long i = 0; i < cout; i++) bias[l][i] = 0.01f * i;
    }
    const long sweepCount = 6L << 20;  // 24 MB: more than L2 and L3's share of this core
    float *sweep = malloc(sizeof(float) * sweepCount);
    for (long i = 0; i < sweepCount; i++) sweep[i] = (float)i;
    static double t[5][REPS];
    volatile float sink = 0;
    float range[2];
    for (int r = 0; r < REPS; r++) {
        for (int l = 0; l < 5; l++) {
            if (cold) {
                float acc = 0;
                for (long i = 0; i < sweepCount; i += 16) acc += sweep[i];
                sink += acc;
            }
            double t0 = now();
            kvv_conv3x3_rows(in[l], L[l].cin, L[l].h, L[l].w, L[l].s, wt[l], bias[l], L[l].cout, out[l], ho[l], wo[l],
                             0, ho[l], 1, range);
            t[l][r] = now() - t0;
        }
    }
    double total = 0, macs = 0;
    unsigned long check = 1469598103934665603UL;  // FNV-1a of every output bit: equal bits, equal value
    for (int l = 0; l < 5; l++) {
        qsort(t[l], REPS, sizeof(double), cmp);
        double m = (double)L[l].cout * L[l].cin * 9 * ho[l] * wo[l];
        printf("%-7s %7.1f us %6.1f GMAC/s\n", L[l].name, t[l][REPS / 2] * 1e6, m / t[l][REPS / 2] * 1e-9);
        total += t[l][REPS / 2];
        macs += m;
        const unsigned char *b = (const unsigned char *)out[l];
        for (long i = 0; i < (long)sizeof(float) * L[l].cout * ho[l] * wo[l]; i++) check = (check ^ b[i]) * 1099511628211UL;
    }
    printf("total   %7.1f us %6.1f GMAC/s (%s, median of %d) bits %016lx\n", total * 1e6, macs / total * 1e-9,
           cold ? "cold" : "warm", REPS, check);
    return 0;
}
