/*
 * ser.h: speech emotion recognition (Ser) from C, C++ and anything with a C FFI.
 *
 * libser.so is Ser's .NET engine compiled ahead of time (NativeAOT): no .NET runtime is needed to load it.
 * Build:   dotnet publish src/Ser.Abi -c Release -r linux-x64 -o DIR     (leaves DIR/libser.so; Linux x64 only)
 * Link:    cc app.c -IDIR -LDIR -lser -Wl,-rpath,DIR
 *
 * Conventions
 * - Every function that can fail returns a ser_status; SER_OK is 0. On failure, ser_last_error() gives a one-line
 *   message for the calling thread. No function crashes on bad input, and nothing is thrown across this boundary.
 * - ser_last_error()'s string lives until the same thread's next ser_* call (each call clears it). Class names and
 *   ser_version() live as long as the model / the process.
 * - ser_model is immutable and thread-safe: many threads may call ser_classify on one model at once, and get the
 *   bit-identical results of sequential calls. A ser_stream is used by one thread at a time.
 * - Freeing a model that still has open streams is allowed: the model is released when its last stream is freed.
 *   Until then any new use of the freed handle (ser_classify, ser_stream_create, ...) returns SER_ERR_STATE;
 *   after it, using the handle is undefined behaviour, as with any freed pointer.
 * - Probabilities are softmax(logits / T) with the checkpoint's temperature T (1 when uncalibrated), the same
 *   numbers as `sertool predict` and the .NET EmotionRecognizer.
 * - Audio is mono float PCM in [-1, 1] at 8000..192000 Hz; it is resampled to 16 kHz inside.
 */
#ifndef SER_H
#define SER_H

#include <stddef.h>

#if defined(_WIN32)
#  define SER_API __declspec(dllimport)
#else
#  define SER_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SER_ABI_VERSION 1
#define SER_MAX_CLASSES 16

typedef struct ser_model ser_model;   /* immutable weights: thread-safe, shared by streams */
typedef struct ser_stream ser_stream; /* one stream's state: one thread at a time */

typedef enum ser_status {
    SER_OK = 0,
    SER_ERR_ARGUMENT = 1,         /* NULL pointer, no samples, NaN/Inf sample, sample rate out of range, bad params */
    SER_ERR_IO = 2,               /* the file is missing or unreadable */
    SER_ERR_FORMAT = 3,           /* not a Ser model, truncated, corrupt, or more than SER_MAX_CLASSES classes */
    SER_ERR_BUFFER_TOO_SMALL = 4, /* probs_len < class count */
    SER_ERR_DEVICE = 5,           /* the compute device failed */
    SER_ERR_STATE = 6,            /* a freed model, a push after flush */
    SER_ERR_INTERNAL = 7          /* a bug: please report ser_last_error() */
} ser_status;

/* SER_ABI_VERSION of the library; compare with the header's before anything else. */
SER_API int         ser_abi_version(void);
/* "ser X.Y.Z (abi 1)", static. */
SER_API const char* ser_version(void);
/* This thread's last failure, one line; "" if none. */
SER_API const char* ser_last_error(void);

SER_API ser_status  ser_model_load(const char* path, ser_model** out);          /* *out = NULL on failure */
SER_API ser_status  ser_model_load_from_memory(const void* data, size_t size, ser_model** out);
SER_API void        ser_model_free(ser_model* model);                           /* NULL: no-op */
SER_API int         ser_model_class_count(const ser_model* model);              /* -1 for NULL */
SER_API const char* ser_model_class_name(const ser_model* model, int index);    /* NULL out of range */
/* A checkpoint metadata value, UTF-8, owned by the model (valid until ser_model_free); NULL if the key is absent.
   Keys a trained model.ser has: "corpus", "model_card" (JSON: labels, data counts, protocol, scores, training, limits),
   "temperature", "length_mode", "preset", "fold", "best_epoch", "settings" (JSON). */
SER_API const char* ser_model_metadata(const ser_model* model, const char* key);

/* One utterance, heard whole. pcm: mono float in [-1, 1] at sample_rate Hz (resampled inside);
   probs: caller's buffer, probs_len >= class count, else SER_ERR_BUFFER_TOO_SMALL. */
SER_API ser_status  ser_classify(const ser_model* model, const float* pcm, size_t samples, int sample_rate,
                                 float* probs, size_t probs_len);

/* Streams: push audio in chunks of any size, poll segment results.
   min_silence_s: a segment ends at a silence this long (0.05..10; default 0.4)
   min_segment_s: segments with less speech are dropped (0..max_segment_s; default 0.3)
   max_segment_s: a longer segment is cut near this length at its quietest point (1..600; default 15)
   partial_every_s: partial results (is_final = 0) of the open segment this often (0 = none, the default)
   Inference runs inside ser_stream_poll and ser_stream_flush, on the caller's thread; ser_stream_push only copies. */
typedef struct ser_stream_params { int sample_rate; float min_silence_s; float min_segment_s;
                                   float max_segment_s; float partial_every_s; } ser_stream_params;
SER_API ser_stream_params ser_stream_default_params(void);   /* sample_rate 16000 */
SER_API ser_status  ser_stream_create(const ser_model* model, const ser_stream_params* params, ser_stream** out);
SER_API ser_status  ser_stream_push(ser_stream* stream, const float* pcm, size_t samples); /* any chunk size */

/* start_s/end_s: the segment's speech (first to last speech frame, with at most 0.05 s of margin), in seconds of
   the stream's input. label: index of the most probable class. probs: class probabilities, 0 beyond the class count. */
typedef struct ser_segment { double start_s; double end_s; int label; int is_final;
                             float probs[SER_MAX_CLASSES]; } ser_segment;
/* The segments that became ready since the last poll, at most capacity; *count = how many. The rest wait for the
   next poll. capacity 0 is allowed (segments may then be NULL). */
SER_API ser_status  ser_stream_poll(ser_stream* stream, ser_segment* segments, size_t capacity, size_t* count);
/* End of input: the open segment is finalised; the next polls return every remaining result. A push after flush is
   SER_ERR_STATE. */
SER_API ser_status  ser_stream_flush(ser_stream* stream);
SER_API void        ser_stream_free(ser_stream* stream);                       /* NULL: no-op */

/* ---- additions beyond ABI version 1's core ---- */

/* How a model runs. Game engines own their threads: by default each call uses one thread. */
typedef struct ser_model_params {
    int threads_per_call;   /* CPU threads one ser_classify / stream inference may use (0 = all cores; default 1) */
    int max_concurrency;    /* calls running at once on this model, each with its own scratch (0 = cores; default 0) */
} ser_model_params;
SER_API ser_model_params ser_model_default_params(void);
SER_API ser_status  ser_model_load_ex(const char* path, const ser_model_params* params, ser_model** out);

#ifdef __cplusplus
}
#endif

#endif /* SER_H */
