/* ser_test.c: a C client of libser.so, run by tests/Ser.Abi.Tests (AbiClientTests).
 *   ser_test MODEL CASES STREAM_PCM
 * MODEL: a checkpoint. CASES: lines "RAW_F32_FILE SAMPLE_RATE P0 P1 ..." whose probabilities .NET's EmotionRecognizer
 * gave. STREAM_PCM: 16 kHz raw float32 speech with silences, for the stream checks.
 * Exercises every function of ser.h, every error path, and 4 threads classifying on one model at once.
 * Prints one line per failed check, then "N passed, N failed"; exit code 0 only if nothing failed. */
#define _POSIX_C_SOURCE 200809L
#include "ser.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf(" [last error: %s]\n", ser_last_error()); } } while (0)

typedef struct { float* pcm; size_t n; int rate; float expect[SER_MAX_CLASSES]; float got[SER_MAX_CLASSES]; } ucase;
static ucase cases[16];
static int ncases, nclasses;
static ser_model* model;

static float* read_f32(const char* path, size_t* n) {
    FILE* f = fopen(path, "rb");
    if (!f) { printf("cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END); long bytes = ftell(f); fseek(f, 0, SEEK_SET);
    float* x = malloc((size_t)bytes);
    if (fread(x, 1, (size_t)bytes, f) != (size_t)bytes) { printf("short read %s\n", path); exit(2); }
    fclose(f);
    *n = (size_t)bytes / sizeof(float);
    return x;
}

static void* read_bytes(const char* path, size_t* n) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END); long bytes = ftell(f); fseek(f, 0, SEEK_SET);
    void* x = malloc((size_t)bytes);
    *n = fread(x, 1, (size_t)bytes, f);
    fclose(f);
    return x;
}

typedef struct { int thread; int mismatches; int failures; } worker_arg;

static void* worker(void* p) {
    worker_arg* a = p;
    float probs[SER_MAX_CLASSES];
    for (int round = 0; round < 3; round++)
        for (int c = 0; c < ncases; c++) {
            int k = (c + a->thread) % ncases;   /* threads start on different cases */
            if (ser_classify(model, cases[k].pcm, cases[k].n, cases[k].rate, probs, SER_MAX_CLASSES) != SER_OK) { a->failures++; continue; }
            if (memcmp(probs, cases[k].got, sizeof(float) * (size_t)nclasses) != 0) a->mismatches++;
        }
    return NULL;
}

/* Pushes the whole signal in chunks of `chunk` samples (polling after each push), flushes, returns the segments. */
static size_t run_stream(const float* pcm, size_t n, size_t chunk, ser_segment* out, size_t cap, int partial) {
    ser_stream_params prm = ser_stream_default_params();
    prm.partial_every_s = partial ? 0.5f : 0.0f;
    ser_stream* s = NULL;
    if (ser_stream_create(model, &prm, &s) != SER_OK) return (size_t)-1;
    size_t total = 0, got = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        if (ser_stream_push(s, pcm + i, m) != SER_OK) { ser_stream_free(s); return (size_t)-1; }
        if (ser_stream_poll(s, out + total, cap - total, &got) != SER_OK) { ser_stream_free(s); return (size_t)-1; }
        total += got;
    }
    if (ser_stream_flush(s) != SER_OK) { ser_stream_free(s); return (size_t)-1; }
    do {
        if (ser_stream_poll(s, out + total, cap - total, &got) != SER_OK) { ser_stream_free(s); return (size_t)-1; }
        total += got;
    } while (got > 0 && total < cap);
    ser_stream_free(s);
    return total;
}

int main(int argc, char** argv) {
    if (argc != 4) { printf("usage: ser_test MODEL CASES STREAM_PCM\n"); return 2; }
    const char* model_path = argv[1];

    /* version and header agreement */
    CHECK(ser_abi_version() == SER_ABI_VERSION, "abi version %d", ser_abi_version());
    CHECK(ser_version() != NULL && strstr(ser_version(), "ser ") == ser_version(), "version '%s'", ser_version());
    CHECK(strcmp(ser_last_error(), "") == 0, "no error yet");
    CHECK(sizeof(ser_segment) == 88, "sizeof(ser_segment) %zu", sizeof(ser_segment));

    /* load: error paths */
    ser_model* m = (ser_model*)0x1;
    CHECK(ser_model_load(NULL, &m) == SER_ERR_ARGUMENT && m == NULL, "NULL path");
    CHECK(strlen(ser_last_error()) > 0, "NULL path has a message");
    CHECK(ser_model_load(model_path, NULL) == SER_ERR_ARGUMENT, "NULL out");
    m = (ser_model*)0x1;
    CHECK(ser_model_load("/nonexistent/model.ser", &m) == SER_ERR_IO && m == NULL, "missing file");
    CHECK(strstr(ser_last_error(), "/nonexistent/model.ser") != NULL, "message names the file: %s", ser_last_error());
    CHECK(ser_model_load("/tmp", &m) == SER_ERR_IO, "a directory");
    size_t bytes = 0;
    unsigned char* blob = read_bytes(model_path, &bytes);
    CHECK(blob != NULL && bytes > 100, "read model bytes");
    CHECK(ser_model_load_from_memory(blob, bytes / 2, &m) == SER_ERR_FORMAT && m == NULL, "truncated model");
    CHECK(ser_model_load_from_memory(NULL, 10, &m) == SER_ERR_ARGUMENT, "NULL data");
    CHECK(ser_model_load_from_memory(blob, 0, &m) == SER_ERR_ARGUMENT, "size 0");
    unsigned char* corrupt = malloc(bytes);
    memcpy(corrupt, blob, bytes);
    corrupt[bytes - 5] ^= 0x5a;   /* a tensor byte: the checksum no longer matches */
    CHECK(ser_model_load_from_memory(corrupt, bytes, &m) == SER_ERR_FORMAT, "corrupt model");
    const char junk[] = "this is not a model at all, just text that goes on for a while";
    CHECK(ser_model_load_from_memory(junk, sizeof junk, &m) == SER_ERR_FORMAT, "not a model");
    ser_model_params mp = ser_model_default_params();
    CHECK(mp.threads_per_call == 1, "default threads_per_call 1");
    mp.threads_per_call = -1;
    CHECK(ser_model_load_ex(model_path, &mp, &m) == SER_ERR_ARGUMENT, "negative threads");

    /* load from memory works and agrees with the file */
    ser_model* mem = NULL;
    CHECK(ser_model_load_from_memory(blob, bytes, &mem) == SER_OK && mem != NULL, "load from memory");
    mp = ser_model_default_params();
    mp.threads_per_call = 2;
    CHECK(ser_model_load_ex(model_path, &mp, &model) == SER_OK && model != NULL, "load_ex");
    CHECK(strcmp(ser_last_error(), "") == 0, "success clears the error");

    /* classes */
    nclasses = ser_model_class_count(model);
    CHECK(nclasses >= 2 && nclasses <= SER_MAX_CLASSES, "class count %d", nclasses);
    CHECK(ser_model_class_count(NULL) == -1, "class count of NULL");
    CHECK(ser_model_class_name(model, 0) != NULL && strlen(ser_model_class_name(model, 0)) > 0, "class 0 name");
    CHECK(ser_model_class_name(model, nclasses) == NULL, "class name out of range");
    CHECK(ser_model_class_name(model, -1) == NULL, "negative class index");
    CHECK(ser_model_class_name(NULL, 0) == NULL, "class name of NULL");

    /* metadata: the checkpoint's keys, owned by the model */
    const char* corpus = ser_model_metadata(model, "corpus");
    CHECK(corpus != NULL && strcmp(corpus, "synthetic:abi-fixture") == 0, "metadata corpus: %s", corpus ? corpus : "(null)");
    CHECK(ser_model_metadata(model, "corpus") == corpus, "metadata value is kept by the model");
    CHECK(ser_model_metadata(model, "no-such-key") == NULL && strstr(ser_last_error(), "no-such-key") != NULL, "absent key");
    CHECK(ser_model_metadata(model, NULL) == NULL, "NULL key");
    CHECK(ser_model_metadata(NULL, "corpus") == NULL, "metadata of NULL");

    /* cases: the same probabilities as .NET's EmotionRecognizer */
    FILE* f = fopen(argv[2], "r");
    if (!f) { printf("cannot open %s\n", argv[2]); return 2; }
    char path[4096];
    while (ncases < 16 && fscanf(f, "%4095s %d", path, &cases[ncases].rate) == 2) {
        for (int k = 0; k < nclasses; k++) if (fscanf(f, "%f", &cases[ncases].expect[k]) != 1) { printf("bad cases file\n"); return 2; }
        cases[ncases].pcm = read_f32(path, &cases[ncases].n);
        ncases++;
    }
    fclose(f);
    CHECK(ncases >= 2, "%d cases", ncases);
    for (int c = 0; c < ncases; c++) {
        ucase* u = &cases[c];
        CHECK(ser_classify(model, u->pcm, u->n, u->rate, u->got, (size_t)nclasses) == SER_OK, "classify case %d", c);
        double sum = 0, worst = 0;
        for (int k = 0; k < nclasses; k++) { sum += u->got[k]; worst = fmax(worst, fabs(u->got[k] - u->expect[k])); }
        CHECK(fabs(sum - 1) < 1e-5, "case %d sums to %g", c, sum);
        CHECK(worst <= 1e-5, "case %d differs from EmotionRecognizer by %g", c, worst);
        float again[SER_MAX_CLASSES];
        CHECK(ser_classify(mem, u->pcm, u->n, u->rate, again, SER_MAX_CLASSES) == SER_OK
              && memcmp(again, u->got, sizeof(float) * (size_t)nclasses) == 0, "memory-loaded model, case %d", c);
    }

    /* classify: error paths */
    float probs[SER_MAX_CLASSES];
    ucase* u = &cases[0];
    CHECK(ser_classify(NULL, u->pcm, u->n, 16000, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "NULL model");
    CHECK(ser_classify(model, NULL, u->n, 16000, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "NULL pcm");
    CHECK(ser_classify(model, u->pcm, u->n, 16000, NULL, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "NULL probs");
    CHECK(ser_classify(model, u->pcm, 0, 16000, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "zero samples");
    CHECK(ser_classify(model, u->pcm, u->n, 7999, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "7999 Hz");
    CHECK(ser_classify(model, u->pcm, u->n, 192001, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "192001 Hz");
    CHECK(ser_classify(model, u->pcm, 4000, 8000, probs, SER_MAX_CLASSES) == SER_OK, "8000 Hz is allowed");
    CHECK(ser_classify(model, u->pcm, 40000, 192000, probs, SER_MAX_CLASSES) == SER_OK, "192000 Hz is allowed");
    CHECK(ser_classify(model, u->pcm, u->n, 16000, probs, (size_t)nclasses - 1) == SER_ERR_BUFFER_TOO_SMALL, "small buffer");
    float bad[1000];
    for (int i = 0; i < 1000; i++) bad[i] = 0.1f * (float)sin(i * 0.05);
    bad[500] = NAN;
    CHECK(ser_classify(model, bad, 1000, 16000, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "NaN sample");
    CHECK(strstr(ser_last_error(), "500") != NULL, "NaN message names the sample: %s", ser_last_error());
    bad[500] = INFINITY;
    CHECK(ser_classify(model, bad, 1000, 16000, probs, SER_MAX_CLASSES) == SER_ERR_ARGUMENT, "Inf sample");
    bad[500] = 0;
    CHECK(ser_classify(model, bad, 1, 16000, probs, SER_MAX_CLASSES) == SER_OK, "one sample is an utterance");

    /* 4 threads classifying at once on one model: bit-identical to the sequential results */
    pthread_t threads[4];
    worker_arg args[4];
    for (int t = 0; t < 4; t++) { args[t] = (worker_arg){ t, 0, 0 }; pthread_create(&threads[t], NULL, worker, &args[t]); }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        CHECK(args[t].failures == 0 && args[t].mismatches == 0, "thread %d: %d failures, %d mismatches", t, args[t].failures, args[t].mismatches);
    }

    /* streams */
    size_t sn = 0;
    float* speech = read_f32(argv[3], &sn);
    ser_stream_params prm = ser_stream_default_params();
    CHECK(prm.sample_rate == 16000 && prm.min_silence_s >= 0.3f && prm.min_silence_s <= 0.5f && prm.min_segment_s <= 0.5f
          && prm.max_segment_s >= 10 && prm.partial_every_s == 0, "default params");
    ser_stream* s = (ser_stream*)0x1;
    CHECK(ser_stream_create(NULL, &prm, &s) == SER_ERR_ARGUMENT && s == NULL, "stream of NULL model");
    CHECK(ser_stream_create(model, &prm, NULL) == SER_ERR_ARGUMENT, "stream NULL out");
    prm.sample_rate = 200000;
    CHECK(ser_stream_create(model, &prm, &s) == SER_ERR_ARGUMENT, "stream rate out of range");
    prm = ser_stream_default_params();
    prm.max_segment_s = 0.5f;
    CHECK(ser_stream_create(model, &prm, &s) == SER_ERR_ARGUMENT, "stream max_segment_s too small");
    prm = ser_stream_default_params();
    CHECK(ser_stream_create(model, &prm, &s) == SER_OK && s != NULL, "stream create");
    size_t count = 99;
    ser_segment segs[256];
    CHECK(ser_stream_push(NULL, speech, 10) == SER_ERR_ARGUMENT, "push NULL stream");
    CHECK(ser_stream_push(s, NULL, 10) == SER_ERR_ARGUMENT, "push NULL pcm");
    CHECK(ser_stream_push(s, speech, 0) == SER_ERR_ARGUMENT, "push zero samples");
    CHECK(ser_stream_push(s, bad + 400, 200) == SER_OK, "push finite");
    bad[450] = NAN;
    CHECK(ser_stream_push(s, bad + 400, 200) == SER_ERR_ARGUMENT, "push NaN");
    CHECK(ser_stream_poll(NULL, segs, 4, &count) == SER_ERR_ARGUMENT, "poll NULL stream");
    CHECK(ser_stream_poll(s, segs, 4, NULL) == SER_ERR_ARGUMENT, "poll NULL count");
    CHECK(ser_stream_poll(s, NULL, 4, &count) == SER_ERR_ARGUMENT, "poll NULL segments");
    CHECK(ser_stream_poll(s, NULL, 0, &count) == SER_OK && count == 0, "poll capacity 0");
    CHECK(ser_stream_flush(NULL) == SER_ERR_ARGUMENT, "flush NULL");
    CHECK(ser_stream_flush(s) == SER_OK, "flush");
    CHECK(ser_stream_push(s, speech, 10) == SER_ERR_STATE, "push after flush");
    ser_stream_free(s);
    ser_stream_free(NULL);

    /* the same audio in 1-sample, 1000-sample and 1-second chunks: bit-identical segments */
    static ser_segment a[256], b[256], c[256];
    size_t na = run_stream(speech, sn, 16000, a, 256, 0);
    size_t nb = run_stream(speech, sn, 1, b, 256, 0);
    size_t nc = run_stream(speech, sn, 1000, c, 256, 0);
    CHECK(na != (size_t)-1 && na >= 2, "%zu segments from the speech", na);
    CHECK(nb == na && memcmp(a, b, na * sizeof(ser_segment)) == 0, "1-sample chunks: %zu segments vs %zu, same bits", nb, na);
    CHECK(nc == na && memcmp(a, c, na * sizeof(ser_segment)) == 0, "1000-sample chunks: %zu segments vs %zu, same bits", nc, na);
    for (size_t i = 0; i < na && na != (size_t)-1; i++) {
        double sum = 0;
        for (int k = 0; k < nclasses; k++) sum += a[i].probs[k];
        CHECK(a[i].is_final == 1 && a[i].end_s > a[i].start_s && (i == 0 || a[i].start_s >= a[i - 1].end_s)
              && fabs(sum - 1) < 1e-5 && a[i].label >= 0 && a[i].label < nclasses && a[i].probs[a[i].label] >= a[i].probs[0],
              "segment %zu [%g, %g] final %d sum %g", i, a[i].start_s, a[i].end_s, a[i].is_final, sum);
    }
    size_t np = run_stream(speech, sn, 1600, c, 256, 1);
    size_t partials = 0, finals = 0;
    for (size_t i = 0; i < np && np != (size_t)-1; i++) { if (c[i].is_final) finals++; else partials++; }
    CHECK(partials > 0 && finals == na, "partial results: %zu partial, %zu final", partials, finals);

    /* a model freed with an open stream lives until the stream is freed; new use of it is SER_ERR_STATE */
    prm = ser_stream_default_params();
    CHECK(ser_stream_create(mem, &prm, &s) == SER_OK, "stream on the memory model");
    ser_model_free(mem);
    CHECK(ser_stream_push(s, speech, 16000) == SER_OK && ser_stream_flush(s) == SER_OK
          && ser_stream_poll(s, segs, 256, &count) == SER_OK, "the open stream still works");
    CHECK(ser_classify(mem, u->pcm, u->n, 16000, probs, SER_MAX_CLASSES) == SER_ERR_STATE, "classify on a freed model");
    ser_stream* s2 = NULL;
    CHECK(ser_stream_create(mem, &prm, &s2) == SER_ERR_STATE, "new stream on a freed model");
    ser_stream_free(s);   /* releases the model */

    ser_model_free(model);
    ser_model_free(NULL);
    free(blob); free(corrupt); free(speech);
    for (int i = 0; i < ncases; i++) free(cases[i].pcm);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
