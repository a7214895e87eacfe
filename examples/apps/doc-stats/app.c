/*
 * doc-stats: a Roost app in plain C (no libc), proving the roost:app@0.1.0 world is
 * language-neutral. It counts the documents of one doctype the app may read.
 *
 *   input:  {"doctype": "io.cozy.bank.operations"}   (that doctype is the default)
 *   output: {"doctype": "...", "count": N, "bytes": M}
 *
 * The canonical ABI is written by hand (wit-bindgen would generate it):
 *   - an import taking strings gets (ptr, len) pairs; one returning result<string, string>
 *     also gets a pointer to a 12-byte area {u8 is_err; u32 ptr; u32 len};
 *   - the export `run(ptr, len)` returns a pointer to such an area, and the host calls
 *     `cabi_realloc` to place arguments and results in our memory.
 * Each run gets a fresh instance, so a bump allocator that never frees is enough.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t is_err;
    uint8_t _pad[3];
    const char *ptr;
    size_t len;
} ret_area;

__attribute__((import_module("roost:app/data@0.1.0"), import_name("find")))
extern void roost_find(const char *dt, size_t dt_len, const char *q, size_t q_len, ret_area *ret);

__attribute__((import_module("roost:app/log@0.1.0"), import_name("log")))
extern void roost_log(const char *lvl, size_t lvl_len, const char *msg, size_t msg_len);

extern unsigned char __heap_base;
static uintptr_t heap_top = 0;

static void *bump(size_t align, size_t size) {
    if (heap_top == 0) heap_top = (uintptr_t)&__heap_base;
    uintptr_t p = (heap_top + (align - 1)) & ~(uintptr_t)(align - 1);
    uintptr_t end = p + size;
    uintptr_t have = __builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        size_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
    }
    heap_top = end;
    return (void *)p;
}

__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    void *p = bump(align ? align : 1, new_size ? new_size : 1);
    if (p && old) {
        unsigned char *d = p; const unsigned char *s = old;
        for (size_t i = 0; i < old_size && i < new_size; i++) d[i] = s[i];
    }
    return p;
}

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static int match_at(const char *s, size_t n, size_t i, const char *lit) {
    size_t k = slen(lit);
    if (i + k > n) return 0;
    for (size_t j = 0; j < k; j++) if (s[i + j] != lit[j]) return 0;
    return 1;
}

/* The string value of "doctype" in a flat JSON object, or the default. No escapes needed:
 * doctype names are [a-z0-9._-]. */
static void find_doctype(const char *in, size_t n, const char **out, size_t *out_len) {
    *out = "io.cozy.bank.operations"; *out_len = slen(*out);
    for (size_t i = 0; i < n; i++) {
        if (!match_at(in, n, i, "\"doctype\"")) continue;
        size_t j = i + 9;
        while (j < n && (in[j] == ' ' || in[j] == ':')) j++;
        if (j >= n || in[j] != '"') return;
        size_t start = ++j;
        while (j < n && in[j] != '"') {
            char c = in[j];
            int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
            if (!ok) return;
            j++;
        }
        if (j < n && j > start) { *out = in + start; *out_len = j - start; }
        return;
    }
}

typedef struct { char *buf; size_t len, cap; } sb;
static void sb_put(sb *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256);
        while (cap < b->len + n) cap *= 2;
        b->buf = cabi_realloc(b->buf, b->len, 1, cap);
        b->cap = cap;
    }
    for (size_t i = 0; i < n; i++) b->buf[b->len + i] = s[i];
    b->len += n;
}
static void sb_str(sb *b, const char *s) { sb_put(b, s, slen(s)); }
static void sb_num(sb *b, size_t v) {
    char tmp[24]; int i = 0;
    do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) sb_put(b, &tmp[--i], 1);
}

static ret_area result;

__attribute__((export_name("run")))
ret_area *run(const char *input, size_t input_len) {
    const char *dt; size_t dt_len;
    find_doctype(input, input_len, &dt, &dt_len);
    const char *query = "{\"selector\": {}, \"limit\": 1000, \"fields\": [\"_id\"]}";
    ret_area r;
    roost_find(dt, dt_len, query, slen(query), &r);
    sb out = {0};
    if (r.is_err) {
        /* Pass the host's error (JSON) through as ours. */
        sb_put(&out, r.ptr, r.len);
        result.is_err = 1; result.ptr = out.buf; result.len = out.len;
        return &result;
    }
    size_t count = 0;
    for (size_t i = 0; i < r.len; i++) if (match_at(r.ptr, r.len, i, "\"_id\"")) count++;
    sb msg = {0};
    sb_str(&msg, "counted "); sb_num(&msg, count); sb_str(&msg, " documents of "); sb_put(&msg, dt, dt_len);
    roost_log("info", 4, msg.buf, msg.len);
    sb_str(&out, "{\"doctype\": \""); sb_put(&out, dt, dt_len);
    sb_str(&out, "\", \"count\": "); sb_num(&out, count);
    sb_str(&out, ", \"bytes\": "); sb_num(&out, r.len); sb_str(&out, "}");
    result.is_err = 0; result.ptr = out.buf; result.len = out.len;
    return &result;
}

__attribute__((export_name("cabi_post_run")))
void cabi_post_run(ret_area *unused) { (void)unused; }
