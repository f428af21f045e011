/*
 * Tests of the t2ue C API (bindings/c/include/t2ue.h) against the real tiny test bundle and the
 * test photos. Built with gcc -Wall -Wextra -Werror against libt2ue_c (shared and static) and run
 * under valgrind by tests/bindings/run.sh.
 *
 * Usage: test_c_api BUNDLE_DIR PHOTOS_DIR SCRATCH_DIR
 * ONNX Runtime comes from ORT_DYLIB_PATH (also passed explicitly through the engine options).
 * Prints "c: N passed, M failed" and exits non-zero on any failure.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "t2ue.h"

static int passed, failed;
static const char *bundle_dir, *photos_dir, *scratch_dir;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (cond) {                                                                      \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);             \
            fprintf(stderr, __VA_ARGS__);                                                \
            fprintf(stderr, "\n");                                                       \
        }                                                                                \
    } while (0)

static const char *last_error(void) {
    static char buf[1024];
    t2ue_last_error_message(buf, sizeof buf);
    return buf;
}

/* A call must return `want`; on failure it must leave a non-empty message containing `needle`
 * (when not NULL). */
static void check_status(t2ue_status got, t2ue_status want, const char *needle, const char *call, int line) {
    if (got != want) {
        failed++;
        fprintf(stderr, "FAIL line %d: %s returned %s (%d), wanted %s; message: %s\n", line, call,
                t2ue_status_name((int)got), (int)got, t2ue_status_name((int)want), last_error());
        return;
    }
    passed++;
    if (want == T2UE_OK) return;
    const char *m = last_error();
    if (m[0] == '\0' || (needle && !strstr(m, needle))) {
        failed++;
        fprintf(stderr, "FAIL line %d: message of %s lacks \"%s\": \"%s\"\n", line, call, needle ? needle : "", m);
    } else {
        passed++;
    }
}
#define CHECK_STATUS(call, want, needle) check_status((call), (want), (needle), #call, __LINE__)

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    *len = got;
    return buf;
}

static int write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(data, 1, len, f);
    fclose(f);
    return put == len ? 0 : -1;
}

static uint8_t *read_photo(const char *name, size_t *len) {
    char *p = path_join(photos_dir, name);
    uint8_t *b = read_file(p, len);
    free(p);
    return b;
}

/* ------------------------------------------------------------------------------------------ */

static void test_library(void) {
    const char *v = t2ue_version();
    CHECK(v != NULL && v[0] >= '0' && v[0] <= '9', "version: %s", v ? v : "(null)");
    CHECK(strcmp(t2ue_status_name(T2UE_DECODE), "T2UE_DECODE") == 0, "status name");
    CHECK(strcmp(t2ue_status_name(12345), "T2UE_UNKNOWN") == 0, "unknown status name");
    CHECK(t2ue_last_error_message(NULL, 0) == 0, "no error yet on this thread");
}

static void test_runtime_not_found(void) {
    /* Must run before any engine loads ONNX Runtime (it is loaded once per process). */
    t2ue_engine_options o = t2ue_engine_options_default();
    o.runtime_library = "/nonexistent/libonnxruntime.so";
    t2ue_engine *e = (t2ue_engine *)1;
    CHECK_STATUS(t2ue_engine_open(bundle_dir, &o, &e), T2UE_RUNTIME_NOT_FOUND, "/nonexistent/libonnxruntime.so");
    CHECK(e == NULL, "out handle is NULL after a failure");
}

static void test_error_message_buffer(void) {
    /* The last error is from test_runtime_not_found: check truncation and sizing. */
    size_t full = t2ue_last_error_message(NULL, 0);
    CHECK(full > 20, "message length %zu", full);
    char small[8];
    memset(small, 'x', sizeof small);
    size_t n = t2ue_last_error_message(small, sizeof small);
    CHECK(n == full, "same length reported");
    CHECK(strlen(small) == 7, "truncated to 7 bytes + NUL, got %zu", strlen(small));
    char *big = malloc(full + 1);
    t2ue_last_error_message(big, full + 1);
    CHECK(strlen(big) == full, "full message fits");
    free(big);
}

static t2ue_engine *test_open(void) {
    t2ue_engine *e = NULL;
    CHECK_STATUS(t2ue_engine_open(NULL, NULL, &e), T2UE_NULL_POINTER, "bundle_dir");
    CHECK_STATUS(t2ue_engine_open(bundle_dir, NULL, NULL), T2UE_NULL_POINTER, "out");
    char *missing = path_join(scratch_dir, "no-such-bundle");
    CHECK_STATUS(t2ue_engine_open(missing, NULL, &e), T2UE_IO, "manifest");
    free(missing);

    t2ue_engine_options o = t2ue_engine_options_default();
    o.provider = 7;
    CHECK_STATUS(t2ue_engine_open(bundle_dir, &o, &e), T2UE_INVALID_ARGUMENT, "provider");

    o = t2ue_engine_options_default();
    o.runtime_library = getenv("ORT_DYLIB_PATH");
    o.intra_threads = 1;
    CHECK_STATUS(t2ue_engine_open(bundle_dir, &o, &e), T2UE_OK, NULL);
    CHECK(e != NULL, "engine handle");
    if (!e) return NULL;

    t2ue_engine_info info;
    CHECK_STATUS(t2ue_engine_get_info(e, &info), T2UE_OK, NULL);
    CHECK(info.resolution == 16, "resolution %u", info.resolution);
    CHECK(strcmp(info.bundle_name, "tiny-test") == 0, "bundle name %s", info.bundle_name);
    CHECK(strlen(info.bundle_id) == 64, "bundle id %s", info.bundle_id);
    CHECK(info.epsilon > 0.031f && info.epsilon < 0.032f, "epsilon %f", (double)info.epsilon);
    CHECK(info.requested_provider == T2UE_PROVIDER_CPU && info.active_provider == T2UE_PROVIDER_CPU, "cpu");
    CHECK(info.fallback_reason == NULL, "no fallback");
    CHECK_STATUS(t2ue_engine_get_info(NULL, &info), T2UE_NULL_POINTER, "engine");
    CHECK_STATUS(t2ue_engine_get_info(e, NULL), T2UE_NULL_POINTER, "out");
    return e;
}

static t2ue_key *test_keys(void) {
    t2ue_key *k = NULL, *k2 = NULL;
    CHECK_STATUS(t2ue_key_generate(NULL), T2UE_NULL_POINTER, "out");
    CHECK_STATUS(t2ue_key_generate(&k), T2UE_OK, NULL);
    uint8_t raw[T2UE_KEY_LEN], raw2[T2UE_KEY_LEN];
    CHECK_STATUS(t2ue_key_to_bytes(k, raw, sizeof raw), T2UE_OK, NULL);
    CHECK_STATUS(t2ue_key_to_bytes(k, raw, 16), T2UE_BUFFER_TOO_SMALL, "32");
    CHECK_STATUS(t2ue_key_to_bytes(NULL, raw, sizeof raw), T2UE_NULL_POINTER, "key");
    CHECK_STATUS(t2ue_key_from_bytes(raw, sizeof raw, &k2), T2UE_OK, NULL);
    CHECK_STATUS(t2ue_key_to_bytes(k2, raw2, sizeof raw2), T2UE_OK, NULL);
    CHECK(memcmp(raw, raw2, sizeof raw) == 0, "key bytes round-trip");

    char fp[32], fp2[32], tiny[4];
    size_t needed = 0;
    CHECK_STATUS(t2ue_key_fingerprint(k, fp, sizeof fp, &needed), T2UE_OK, NULL);
    CHECK(needed == strlen(fp) && needed > 0, "fingerprint length %zu", needed);
    CHECK_STATUS(t2ue_key_fingerprint(k2, fp2, sizeof fp2, NULL), T2UE_OK, NULL);
    CHECK(strcmp(fp, fp2) == 0, "same key, same fingerprint");
    needed = 0;
    CHECK_STATUS(t2ue_key_fingerprint(k, tiny, sizeof tiny, &needed), T2UE_BUFFER_TOO_SMALL, "needed");
    CHECK(needed == strlen(fp), "needed reported on BUFFER_TOO_SMALL");

    t2ue_key *bad = (t2ue_key *)1;
    CHECK_STATUS(t2ue_key_from_bytes(raw, 31, &bad), T2UE_INVALID_KEY, "31");
    CHECK(bad == NULL, "no key on failure");
    CHECK_STATUS(t2ue_key_from_bytes(NULL, 32, &bad), T2UE_NULL_POINTER, "NULL");
    t2ue_key_free(k2);
    t2ue_key_free(NULL);
    return k;
}

static void test_noise(t2ue_engine *e, t2ue_key *k) {
    t2ue_noise *n = NULL, *n2 = NULL, *n3 = NULL;
    CHECK_STATUS(t2ue_engine_make_noise(e, "a cat on a sofa", k, &n), T2UE_OK, NULL);
    if (!n) return;
    CHECK(t2ue_noise_resolution(n) == 16, "noise resolution");
    CHECK(t2ue_noise_resolution(NULL) == 0, "NULL noise resolution");
    float maxabs = t2ue_noise_max_abs(n);
    CHECK(maxabs > 0.0f && maxabs <= 8.0f / 255.0f + 1e-6f, "max abs %f", (double)maxabs);

    static float a[3 * 16 * 16], b[3 * 16 * 16];
    CHECK_STATUS(t2ue_noise_values(n, a, 10), T2UE_BUFFER_TOO_SMALL, "768");
    CHECK_STATUS(t2ue_noise_values(n, a, 3 * 16 * 16), T2UE_OK, NULL);
    CHECK_STATUS(t2ue_engine_make_noise(e, "a cat on a sofa", k, &n2), T2UE_OK, NULL);
    CHECK_STATUS(t2ue_noise_values(n2, b, 3 * 16 * 16), T2UE_OK, NULL);
    CHECK(memcmp(a, b, sizeof a) == 0, "same caption and key give a bit-identical noise");

    t2ue_key *other = NULL;
    t2ue_key_generate(&other);
    CHECK_STATUS(t2ue_engine_make_noise(e, "a cat on a sofa", other, &n3), T2UE_OK, NULL);
    CHECK_STATUS(t2ue_noise_values(n3, b, 3 * 16 * 16), T2UE_OK, NULL);
    CHECK(memcmp(a, b, sizeof a) != 0, "another key gives another noise");
    t2ue_key_free(other);

    t2ue_noise *bad = (t2ue_noise *)1;
    CHECK_STATUS(t2ue_engine_make_noise(e, "", k, &bad), T2UE_EMPTY_CAPTION, "empty");
    CHECK(bad == NULL, "no noise on failure");
    CHECK_STATUS(t2ue_engine_make_noise(e, "  \t\n ", k, &bad), T2UE_EMPTY_CAPTION, "empty");
    CHECK_STATUS(t2ue_engine_make_noise(e, "caf\xc3\x28 bad utf-8", k, &bad), T2UE_INVALID_UTF8, "UTF-8");
    CHECK_STATUS(t2ue_engine_make_noise(e, NULL, k, &bad), T2UE_NULL_POINTER, "caption");
    CHECK_STATUS(t2ue_engine_make_noise(e, "a dog", NULL, &bad), T2UE_NULL_POINTER, "key");
    CHECK_STATUS(t2ue_engine_make_noise(NULL, "a dog", k, &bad), T2UE_NULL_POINTER, "engine");
    CHECK_STATUS(t2ue_engine_make_noise(e, "a dog", k, NULL), T2UE_NULL_POINTER, "out");
    char *long_caption = malloc(100001);
    memset(long_caption, 'a', 100000);
    long_caption[100000] = '\0';
    CHECK_STATUS(t2ue_engine_make_noise(e, long_caption, k, &bad), T2UE_CAPTION_TOO_LONG, "characters");
    free(long_caption);

    t2ue_noise_free(n);
    t2ue_noise_free(n2);
    t2ue_noise_free(n3);
    t2ue_noise_free(NULL);
}

static void test_files(t2ue_engine *e, t2ue_key *k) {
    char *in = path_join(photos_dir, "astronaut.jpg");
    char *out = path_join(scratch_dir, "astronaut-protected.jpg");
    remove(out);
    t2ue_report r;
    memset(&r, 0, sizeof r);
    CHECK_STATUS(t2ue_engine_protect_file(e, in, out, "an astronaut in a white suit", k, NULL, &r), T2UE_OK, NULL);
    struct stat st;
    CHECK(stat(out, &st) == 0 && (uint64_t)st.st_size == r.output_bytes, "output written, %llu bytes", (unsigned long long)r.output_bytes);
    CHECK(r.width > 0 && r.height > 0, "report size %ux%u", r.width, r.height);
    CHECK(r.input_format == T2UE_FORMAT_JPEG && r.output_format == T2UE_FORMAT_JPEG, "formats");
    CHECK(r.max_abs_change >= 1 && r.max_abs_change <= 8, "max change %u", r.max_abs_change);
    CHECK(r.psnr_db > 30.0, "psnr %f", r.psnr_db);
    CHECK(!r.caption_from_metadata, "caption given");

    CHECK_STATUS(t2ue_engine_protect_file(e, in, out, "an astronaut", k, NULL, NULL), T2UE_WOULD_OVERWRITE, "overwrite");
    t2ue_protect_options po = t2ue_protect_options_default();
    po.overwrite = true;
    po.format = T2UE_FORMAT_PNG;
    CHECK_STATUS(t2ue_engine_protect_file(e, in, out, "an astronaut", k, &po, &r), T2UE_OK, NULL);
    CHECK(r.output_format == T2UE_FORMAT_PNG, "format option wins over the extension");
    po.metadata = 5;
    CHECK_STATUS(t2ue_engine_protect_file(e, in, out, "an astronaut", k, &po, &r), T2UE_INVALID_ARGUMENT, "metadata");

    /* Caption from the photo's own metadata (EXIF ImageDescription), orientation applied. */
    char *exif_in = path_join(photos_dir, "cat_rotated_exif.jpg");
    char *exif_out = path_join(scratch_dir, "cat-exif-protected.png");
    remove(exif_out);
    CHECK_STATUS(t2ue_engine_protect_file(e, exif_in, exif_out, NULL, k, NULL, &r), T2UE_OK, NULL);
    CHECK(r.caption_from_metadata, "caption from metadata");
    CHECK(r.orientation_applied == 6 && r.width == 60 && r.height == 90, "upright: %ux%u orientation %u", r.width, r.height, r.orientation_applied);
    CHECK(r.output_format == T2UE_FORMAT_PNG, "png from the output's extension");

    char *missing = path_join(photos_dir, "no-such-photo.jpg");
    char *out2 = path_join(scratch_dir, "never-written.jpg");
    CHECK_STATUS(t2ue_engine_protect_file(e, missing, out2, "x", k, NULL, NULL), T2UE_IO, "no-such-photo.jpg");
    CHECK_STATUS(t2ue_engine_protect_file(e, in, NULL, "x", k, NULL, NULL), T2UE_NULL_POINTER, "output_path");
    CHECK(stat(out2, &st) != 0, "no output on failure");
    free(in); free(out); free(exif_in); free(exif_out); free(missing); free(out2);
}

static void test_bytes(t2ue_engine *e, t2ue_key *k) {
    size_t len = 0, out_len = 0;
    uint8_t *png = read_photo("chelsea.png", &len);
    CHECK(png != NULL && len > 1000, "read chelsea.png");
    uint8_t *out = NULL;
    t2ue_report r;
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len, "a tabby cat", k, NULL, &out, &out_len, &r), T2UE_OK, NULL);
    CHECK(out != NULL && out_len == r.output_bytes && out_len > 8 && memcmp(out, "\x89PNG", 4) == 0, "png out");
    CHECK(r.max_abs_change <= 8 && r.max_abs_change >= 1, "max change %u", r.max_abs_change);
    t2ue_bytes_free(out, out_len);

    t2ue_protect_options po = t2ue_protect_options_default();
    po.format = T2UE_FORMAT_JPEG;
    po.jpeg_quality = 90;
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len, "a tabby cat", k, &po, &out, &out_len, NULL), T2UE_OK, NULL);
    CHECK(out_len > 2 && out[0] == 0xFF && out[1] == 0xD8, "jpeg out");
    t2ue_bytes_free(out, out_len);
    po.format = 42;
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len, "a tabby cat", k, &po, &out, &out_len, NULL), T2UE_INVALID_ARGUMENT, "format");
    CHECK(out == NULL && out_len == 0, "outputs cleared on failure");

    /* Corrupt image: a real PNG cut short, then bytes that are no image at all. */
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len / 3, "a cat", k, NULL, &out, &out_len, NULL), T2UE_DECODE, "decoded");
    uint8_t garbage[64];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 37 + 11);
    CHECK_STATUS(t2ue_engine_protect_bytes(e, garbage, sizeof garbage, "a cat", k, NULL, &out, &out_len, NULL), T2UE_UNSUPPORTED_FORMAT, "format");
    CHECK_STATUS(t2ue_engine_protect_bytes(e, NULL, 10, "a cat", k, NULL, &out, &out_len, NULL), T2UE_NULL_POINTER, "input");
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len, "a cat", k, NULL, NULL, &out_len, NULL), T2UE_NULL_POINTER, "out_data");
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len, "", k, NULL, &out, &out_len, NULL), T2UE_EMPTY_CAPTION, "empty");
    /* No caption and no description metadata in this PNG. */
    CHECK_STATUS(t2ue_engine_protect_bytes(e, png, len, NULL, k, NULL, &out, &out_len, NULL), T2UE_MISSING_CAPTION, "caption");
    free(png);

    uint8_t *alpha = read_photo("cat_alpha.png", &len);
    CHECK_STATUS(t2ue_engine_protect_bytes(e, alpha, len, "a cat", k, NULL, &out, &out_len, &r), T2UE_OK, NULL);
    CHECK(r.width == 64 && r.height == 48, "alpha png %ux%u", r.width, r.height);
    t2ue_bytes_free(out, out_len);
    t2ue_bytes_free(NULL, 0);
    free(alpha);

    /* A photo over the engine's pixel limit is refused before decoding. */
    t2ue_engine_options o = t2ue_engine_options_default();
    o.max_pixels = 1000;
    t2ue_engine *small = NULL;
    CHECK_STATUS(t2ue_engine_open(bundle_dir, &o, &small), T2UE_OK, NULL);
    uint8_t *jpg = read_photo("astronaut.jpg", &len);
    CHECK_STATUS(t2ue_engine_protect_bytes(small, jpg, len, "an astronaut", k, NULL, &out, &out_len, NULL), T2UE_IMAGE_TOO_LARGE, "limit");
    free(jpg);
    t2ue_engine_free(small);
}

static void test_pixels(t2ue_engine *e, t2ue_key *k) {
    const uint32_t w = 64, h = 48;
    const size_t stride = w * 3 + 5; /* padded rows */
    const size_t len = stride * h;
    uint8_t *px = malloc(len), *orig = malloc(len), *copy = malloc(len);
    for (size_t i = 0; i < len; i++) px[i] = (uint8_t)(40 + (i * 7) % 170);
    memcpy(orig, px, len);
    memcpy(copy, px, len);
    t2ue_apply_stats s;
    CHECK_STATUS(t2ue_engine_protect_pixels(e, "a red square", k, px, len, w, h, stride, T2UE_LAYOUT_RGB8, &s), T2UE_OK, NULL);
    CHECK(s.max_abs_change >= 1 && s.max_abs_change <= 8, "max change %u", s.max_abs_change);
    CHECK(s.samples == (uint64_t)w * h * 3, "samples %llu", (unsigned long long)s.samples);
    int pad_ok = 1, changed = 0, bounded = 1;
    for (uint32_t y = 0; y < h; y++) {
        for (size_t x = 0; x < stride; x++) {
            size_t i = y * stride + x;
            int d = (int)px[i] - (int)orig[i];
            if (x >= w * 3 && d != 0) pad_ok = 0;
            if (d != 0) changed++;
            if (d > 8 || d < -8) bounded = 0;
        }
    }
    CHECK(pad_ok, "row padding untouched");
    CHECK(changed > 0 && bounded, "pixels changed (%d) within 8 levels", changed);

    /* The same noise made once and applied frame by frame gives the same pixels. */
    t2ue_noise *n = NULL;
    CHECK_STATUS(t2ue_engine_make_noise(e, "a red square", k, &n), T2UE_OK, NULL);
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, copy, len, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_OK, NULL);
    CHECK(memcmp(copy, px, len) == 0, "apply_noise == protect_pixels");

    /* RGBA: alpha never changes. */
    uint8_t *rgba = malloc((size_t)w * h * 4);
    for (size_t i = 0; i < (size_t)w * h * 4; i++) rgba[i] = (uint8_t)(i % 4 == 3 ? 200 : 100 + i % 50);
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, rgba, (size_t)w * h * 4, w, h, (size_t)w * 4, T2UE_LAYOUT_RGBA8, &s), T2UE_OK, NULL);
    int alpha_ok = 1;
    for (size_t i = 3; i < (size_t)w * h * 4; i += 4)
        if (rgba[i] != 200) alpha_ok = 0;
    CHECK(alpha_ok, "alpha untouched");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, rgba, (size_t)w * h * 4, w, h, (size_t)w * 4, T2UE_LAYOUT_BGRA8, NULL), T2UE_OK, NULL);

    /* Bad sizes are status codes. */
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, px, len, w, h, w * 3 - 1, T2UE_LAYOUT_RGB8, NULL), T2UE_INVALID_BUFFER, "stride");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, px, len - 10, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_INVALID_BUFFER, "bytes");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, px, len, 0, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_INVALID_BUFFER, "positive");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, px, len, w, 0xFFFFFFFFu, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_IMAGE_TOO_LARGE, "limit");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, px, len, w, h, stride, 9, NULL), T2UE_INVALID_ARGUMENT, "layout");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, NULL, len, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_NULL_POINTER, "pixels");
    CHECK_STATUS(t2ue_engine_apply_noise(e, NULL, px, len, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_NULL_POINTER, "noise");
    CHECK_STATUS(t2ue_engine_apply_noise(e, n, px, (size_t)-1, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_INVALID_ARGUMENT, "too large");
    /* protect_pixels checks the geometry before running any graph. */
    CHECK_STATUS(t2ue_engine_protect_pixels(e, "a red square", k, px, 3, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_INVALID_BUFFER, "bytes");
    CHECK_STATUS(t2ue_engine_protect_pixels(e, "", k, px, len, w, h, stride, T2UE_LAYOUT_RGB8, NULL), T2UE_EMPTY_CAPTION, "empty");
    t2ue_noise_free(n);
    free(px); free(orig); free(copy); free(rgba);
}

static const char *const BUNDLE_FILES[] = {"tokenizer.json", "text_encoder.onnx", "image_encoder.onnx", "generator.onnx", "golden.json"};
#define N_FILES (sizeof BUNDLE_FILES / sizeof BUNDLE_FILES[0])

static void test_memory_and_tampered(t2ue_key *k) {
    size_t mlen = 0;
    char *mpath = path_join(bundle_dir, "manifest.json");
    uint8_t *manifest = read_file(mpath, &mlen);
    free(mpath);
    t2ue_bundle_file files[N_FILES];
    uint8_t *data[N_FILES];
    for (size_t i = 0; i < N_FILES; i++) {
        char *p = path_join(bundle_dir, BUNDLE_FILES[i]);
        size_t n = 0;
        data[i] = read_file(p, &n);
        free(p);
        files[i].name = BUNDLE_FILES[i];
        files[i].data = data[i];
        files[i].len = n;
    }
    t2ue_engine *e = NULL;
    CHECK_STATUS(t2ue_engine_from_memory(manifest, mlen, files, N_FILES, NULL, &e), T2UE_OK, NULL);
    t2ue_noise *n = NULL;
    CHECK_STATUS(t2ue_engine_make_noise(e, "a cat", k, &n), T2UE_OK, NULL);
    t2ue_noise_free(n);
    t2ue_engine_free(e);

    CHECK_STATUS(t2ue_engine_from_memory(manifest, mlen, files, N_FILES - 2, NULL, &e), T2UE_BUNDLE_FILE_MISSING, "generator.onnx");
    CHECK_STATUS(t2ue_engine_from_memory(manifest, mlen, NULL, 2, NULL, &e), T2UE_NULL_POINTER, "files");
    CHECK_STATUS(t2ue_engine_from_memory((const uint8_t *)"{not json", 9, files, N_FILES, NULL, &e), T2UE_BUNDLE_MANIFEST, "manifest");
    CHECK_STATUS(t2ue_engine_from_memory(NULL, 0, files, N_FILES, NULL, &e), T2UE_BUNDLE_MANIFEST, "manifest");

    /* Tampered: one byte of the generator flipped (same size, other SHA-256). */
    size_t g = 3;
    data[g][files[g].len / 2] ^= 0x01;
    CHECK_STATUS(t2ue_engine_from_memory(manifest, mlen, files, N_FILES, NULL, &e), T2UE_BUNDLE_FILE_MISMATCH, "generator.onnx");
    CHECK(e == NULL, "no engine from a tampered bundle");

    /* The same tampered bundle as a directory. */
    char *dir = path_join(scratch_dir, "tampered-bundle");
    mkdir(dir, 0755);
    char *p = path_join(dir, "manifest.json");
    CHECK(write_file(p, manifest, mlen) == 0, "write %s", p);
    free(p);
    for (size_t i = 0; i < N_FILES; i++) {
        p = path_join(dir, BUNDLE_FILES[i]);
        CHECK(write_file(p, files[i].data, files[i].len) == 0, "write %s", p);
        free(p);
    }
    CHECK_STATUS(t2ue_engine_open(dir, NULL, &e), T2UE_BUNDLE_FILE_MISMATCH, "sha256");
    /* A truncated tokenizer: the size check fires before hashing. */
    p = path_join(dir, "tokenizer.json");
    write_file(p, files[0].data, files[0].len - 1);
    free(p);
    CHECK_STATUS(t2ue_engine_open(dir, NULL, &e), T2UE_BUNDLE_FILE_MISMATCH, "tokenizer.json");
    free(dir);

    for (size_t i = 0; i < N_FILES; i++) free(data[i]);
    free(manifest);
}

struct thread_arg {
    t2ue_engine *engine;
    t2ue_key *key;
    float values[3 * 16 * 16];
    size_t fresh_error_len;
    t2ue_status status;
};

static void *worker(void *p) {
    struct thread_arg *a = p;
    a->fresh_error_len = t2ue_last_error_message(NULL, 0); /* thread-local: nothing here yet */
    t2ue_noise *n = NULL;
    a->status = t2ue_engine_make_noise(a->engine, "the same caption from many threads", a->key, &n);
    if (a->status == T2UE_OK) a->status = t2ue_noise_values(n, a->values, 3 * 16 * 16);
    t2ue_noise_free(n);
    return NULL;
}

/* Camera frames: NV21 with padded rows, I420, RGBA, rotation, and every error path. */
static void test_frames(t2ue_engine *e, t2ue_key *k) {
    t2ue_noise *n = NULL;
    CHECK_STATUS(t2ue_engine_make_noise(e, "a street at night", k, &n), T2UE_OK, NULL);
    t2ue_frame_protector *fp = NULL;
    CHECK_STATUS(t2ue_frame_protector_new(NULL, &fp), T2UE_NULL_POINTER, "noise");
    CHECK_STATUS(t2ue_frame_protector_new(n, &fp), T2UE_OK, NULL);
    t2ue_noise_free(n); /* the protector keeps its own copy */
    enum { W = 64, H = 48, YS = 72, CS = 72 };
    uint8_t *y = malloc(YS * H), *vu = malloc(CS * (H / 2));
    memset(y, 100, YS * H);
    memset(vu, 128, CS * (H / 2));
    t2ue_plane nv21[2] = {{y, YS * H, YS, 1}, {vu, CS * (H / 2), CS, 2}};
    t2ue_apply_stats st;
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 90, T2UE_YUV_FULL, nv21, 2, &st), T2UE_OK, NULL);
    int changed = 0, padding_ok = 1;
    for (int r = 0; r < H; r++) {
        for (int c = 0; c < W; c++) changed += y[r * YS + c] != 100;
        for (int c = W; c < YS; c++) padding_ok &= y[r * YS + c] == 100;
    }
    CHECK(changed > W * H / 2, "only %d of %d luma samples changed", changed, W * H);
    CHECK(padding_ok, "row padding was written");
    CHECK(st.max_abs_change >= 1 && st.max_abs_change <= 8, "max change %u", st.max_abs_change);
    /* the same frame again (cached geometry) is deterministic */
    uint8_t *y2 = malloc(YS * H), *vu2 = malloc(CS * (H / 2));
    memset(y2, 100, YS * H);
    memset(vu2, 128, CS * (H / 2));
    t2ue_plane again[2] = {{y2, YS * H, YS, 1}, {vu2, CS * (H / 2), CS, 2}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 90, T2UE_YUV_FULL, again, 2, NULL), T2UE_OK, NULL);
    CHECK(memcmp(y, y2, YS * H) == 0 && memcmp(vu, vu2, CS * (H / 2)) == 0, "repeat frame differs");
    /* RGBA, I420 */
    uint8_t *rgba = calloc(W * H, 4);
    t2ue_plane packed[1] = {{rgba, W * H * 4, W * 4, 4}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_RGBA8888, W, H, 0, T2UE_YUV_FULL, packed, 1, NULL), T2UE_OK, NULL);
    uint8_t *yy = malloc(W * H), *u = malloc(W * H / 4), *v = malloc(W * H / 4);
    memset(yy, 100, W * H);
    memset(u, 128, W * H / 4);
    memset(v, 128, W * H / 4);
    t2ue_plane i420[3] = {{yy, W * H, W, 1}, {u, W * H / 4, W / 2, 1}, {v, W * H / 4, W / 2, 1}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_I420, W, H, 270, T2UE_YUV_LIMITED, i420, 3, NULL), T2UE_OK, NULL);
    /* errors */
    CHECK_STATUS(t2ue_frame_protect(NULL, T2UE_FRAME_NV21, W, H, 0, 0, nv21, 2, NULL), T2UE_NULL_POINTER, "protector");
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 0, 0, NULL, 2, NULL), T2UE_NULL_POINTER, "planes");
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 0, 0, nv21, 3, NULL), T2UE_INVALID_ARGUMENT, "plane");
    CHECK_STATUS(t2ue_frame_protect(fp, 17, W, H, 0, 0, nv21, 2, NULL), T2UE_INVALID_ARGUMENT, "format");
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 45, 0, nv21, 2, NULL), T2UE_INVALID_ARGUMENT, "rotation");
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 0, 9, nv21, 2, NULL), T2UE_INVALID_ARGUMENT, "range");
    t2ue_plane overlap[2] = {{y, YS * H, YS, 1}, {y + 8, CS * (H / 2), CS, 2}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 0, 0, overlap, 2, NULL), T2UE_INVALID_BUFFER, "overlap");
    t2ue_plane short_uv[2] = {{y, YS * H, YS, 1}, {vu, CS * (H / 2) - 100, CS, 2}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_NV21, W, H, 0, 0, short_uv, 2, NULL), T2UE_INVALID_BUFFER, "chroma");
    t2ue_plane null_plane[1] = {{NULL, W * H * 4, W * 4, 4}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_RGBA8888, W, H, 0, 0, null_plane, 1, NULL), T2UE_NULL_POINTER, "plane 0");
    t2ue_plane bad_px[1] = {{rgba, W * H * 4, W * 4, 3}};
    CHECK_STATUS(t2ue_frame_protect(fp, T2UE_FRAME_RGBA8888, W, H, 0, 0, bad_px, 1, NULL), T2UE_INVALID_BUFFER, "pixel stride");
    t2ue_frame_protector_free(fp);
    t2ue_frame_protector_free(NULL);
    free(y); free(vu); free(y2); free(vu2); free(rgba); free(yy); free(u); free(v);
}

static void test_threads(t2ue_engine *e, t2ue_key *k) {
    /* Leave an error on this thread; other threads must not see it. */
    t2ue_noise *bad = NULL;
    t2ue_engine_make_noise(e, "", k, &bad);
    enum { N = 4 };
    static struct thread_arg args[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        args[i].engine = e;
        args[i].key = k;
        pthread_create(&t[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK(args[i].status == T2UE_OK, "thread %d status %d", i, (int)args[i].status);
        CHECK(args[i].fresh_error_len == 0, "thread %d saw another thread's error", i);
        CHECK(memcmp(args[i].values, args[0].values, sizeof args[0].values) == 0, "thread %d: same noise", i);
    }
    CHECK(strstr(last_error(), "empty") != NULL, "this thread's error survived: %s", last_error());
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BUNDLE_DIR PHOTOS_DIR SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    bundle_dir = argv[1];
    photos_dir = argv[2];
    scratch_dir = argv[3];

    test_library();
    test_runtime_not_found();
    test_error_message_buffer();
    t2ue_engine *e = test_open();
    t2ue_key *k = test_keys();
    if (e && k) {
        test_noise(e, k);
        test_files(e, k);
        test_bytes(e, k);
        test_pixels(e, k);
        test_frames(e, k);
        test_memory_and_tampered(k);
        test_threads(e, k);
    }
    t2ue_key_free(k);
    t2ue_engine_free(e);
    printf("c: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
