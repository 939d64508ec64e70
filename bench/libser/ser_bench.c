/* ser_bench.c: libser.so timings, one thread (see run.sh).
 *   ser_bench MODEL NAME REPS
 * prints "abi_classify NAME SECONDS MEDIAN_MS MIN_MS" for 1, 5, 20 s and
 *        "abi_stream NAME rtf X eos_latency_ms MEDIAN MAX" for 60 s of 2 s bursts / 1 s gaps pushed in 10 ms chunks. */
#define _POSIX_C_SOURCE 200809L
#include "ser.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return (x > y) - (x < y); }

static float* signal(size_t n, unsigned seed) {
    float* x = malloc(n * sizeof(float));
    double phase = 0;
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        phase += 2 * M_PI * 150 * (1 + 0.2 * sin(2 * M_PI * 0.7 * i / 16000)) / 16000;
        x[i] = (float)((0.6 + 0.4 * sin(2 * M_PI * 3.1 * i / 16000)) * (0.3 * sin(phase) + 0.15 * sin(2 * phase))
                       + 0.01 * (rand() / (double)RAND_MAX - 0.5));
    }
    return x;
}

int main(int argc, char** argv) {
    if (argc != 4) { fprintf(stderr, "usage: ser_bench MODEL NAME REPS\n"); return 2; }
    int reps = atoi(argv[3]);
    ser_model* m = NULL;
    if (ser_model_load(argv[1], &m) != SER_OK) { fprintf(stderr, "%s\n", ser_last_error()); return 1; }
    float probs[SER_MAX_CLASSES];
    int durations[] = { 1, 5, 20 };
    double* t = malloc(sizeof(double) * (size_t)reps);
    for (int d = 0; d < 3; d++) {
        size_t n = (size_t)durations[d] * 16000;
        float* x = signal(n, 1);
        ser_classify(m, x, n, 16000, probs, SER_MAX_CLASSES);   /* warm-up */
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms();
            if (ser_classify(m, x, n, 16000, probs, SER_MAX_CLASSES) != SER_OK) { fprintf(stderr, "%s\n", ser_last_error()); return 1; }
            t[r] = now_ms() - t0;
        }
        qsort(t, (size_t)reps, sizeof(double), cmp);
        printf("abi_classify %s %d %.2f %.2f\n", argv[2], durations[d], t[reps / 2], t[0]);
        free(x);
    }
    size_t n = 60 * 16000;
    float* x = signal(n, 2);
    for (size_t i = 0; i < n; i++) if (i / 16000 % 3 == 2) x[i] = 0;
    ser_stream* s = NULL;
    ser_stream_params p = ser_stream_default_params();
    ser_stream_create(m, &p, &s);
    ser_segment seg[16];
    size_t count;
    double lat[64];
    int nl = 0;
    double t0 = now_ms();
    for (size_t i = 0; i < n; i += 160) {
        ser_stream_push(s, x + i, 160);
        double p0 = now_ms();
        ser_stream_poll(s, seg, 16, &count);
        for (size_t j = 0; j < count; j++) if (seg[j].is_final && nl < 64) { lat[nl++] = now_ms() - p0; break; }
    }
    ser_stream_flush(s);
    ser_stream_poll(s, seg, 16, &count);
    double rtf = (now_ms() - t0) / 1000 / 60;
    qsort(lat, (size_t)nl, sizeof(double), cmp);
    printf("abi_stream %s rtf %.5f eos_latency_ms %.2f %.2f\n", argv[2], rtf, nl ? lat[nl / 2] : NAN, nl ? lat[nl - 1] : NAN);
    ser_stream_free(s);
    ser_model_free(m);
    free(x); free(t);
    return 0;
}
