/* ffilab_tokenize_arrow.h: the tokenizer's scan writing Arrow buffers (list<string>), not spans.
 *
 * ffl_tokenize_spans (ffilab_core.h) finds tokens and leaves the making of one Python str per
 * token to the binding; at CPython's object-creation floor that is where the time goes.  This
 * half of the core writes the tokens straight into the three buffers of an Arrow array of type
 * list<string> (pyarrow's pa.list_(pa.string()), ffilab's Parquet column type):
 *
 *     list_offsets  int32[n_lists + 1]   text i's tokens are tokens list_offsets[i] .. [i + 1]
 *     token_offsets int32[n_tokens + 1]  token t is bytes[token_offsets[t] .. token_offsets[t + 1])
 *     bytes         uint8[...]           every token's UTF-8, one after the other
 *
 * and hands them over through the Arrow C Data Interface (ffl_tokarrow_export), so that pyarrow
 * wraps them without a copy and frees them, through the release callback, when the array dies.
 * Like the rest of the core it knows nothing of Python: the binding gives each text already
 * normalised (NFKC, case-folded by Python's own unicodedata and str.casefold) or ASCII still to
 * be lowercased (lower = 1: casefold of ASCII is ASCII lowercasing, and NFKC leaves it alone).
 * It allocates with malloc, so it may run with the GIL released.
 *
 * Why list<string> (int32 offsets) and not large_list<large_string>: it is the type the pipeline
 * writes to Parquet (no cast), its offsets take half the memory, and a batch is far below the
 * 2 GiB its offsets can address; a batch that would pass that limit is refused (-FFL_EOVERFLOW),
 * never wrapped around. */
#ifndef FFILAB_TOKENIZE_ARROW_H
#define FFILAB_TOKENIZE_ARROW_H

#include <stdint.h>

#include "ffilab_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Arrow C Data Interface's structures, verbatim from the specification (ABI-stable; the
 * guard lets a file that already has them from Arrow's own header include this one too). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* The growing buffers of one batch.  Zero-initialise it (or ffl_tokarrow_init), append texts,
 * then either export it (the buffers move to the Arrow array) or free it. */
typedef struct {
    uint8_t *bytes;
    int64_t n_bytes, bytes_cap;
    int32_t *token_offsets; /* n_tokens + 1 entries once anything was appended */
    int64_t n_tokens, tokens_cap;
    int32_t *list_offsets; /* n_lists + 1 entries once anything was appended */
    int64_t n_lists, lists_cap;
    /* Scratch of one text's scan (not exported): its class bit masks, its lowercased copy. */
    uint64_t *masks;
    int64_t masks_cap;
    uint8_t *tmp;
    int64_t tmp_cap;
} ffl_tokarrow;

FFL_API void ffl_tokarrow_init(ffl_tokarrow *b);
FFL_API void ffl_tokarrow_free(ffl_tokarrow *b);

/* Make room for n_lists more texts (an optional hint: appending grows the buffers anyway).
 * Returns 0, -FFL_ENOMEM or -FFL_EINVAL. */
FFL_API int ffl_tokarrow_reserve(ffl_tokarrow *b, int64_t n_lists, int64_t n_bytes);

/* Append the tokens of one text as the next list: `length` code points of `kind` bytes each
 * (1, 2 or 4: the PEP 393 kinds; ASCII UTF-8 is kind 1), lowercased as they are copied if
 * `lower` (the text must then be ASCII); or kind 0: `length` bytes of UTF-8 already folded, whose
 * tokens are copied as they are (invalid UTF-8 is -FFL_EINVAL).  The rules are ffl_tokenize_spans's: maximal runs of
 * word characters joined by a joiner between two word characters, a token longer than max_chars
 * code points dropped, a digits-only token written as num[0 .. num_len).  A token is written as
 * UTF-8; a surrogate code point inside a token (no class table marks one as a word character)
 * is refused rather than written as invalid UTF-8.
 * Returns 0, or -FFL_EINVAL (bad arguments, a surrogate in a token), -FFL_EOVERFLOW (more than
 * INT32_MAX bytes or tokens in the batch) or -FFL_ENOMEM; on error the text is not appended and
 * the buffers stay valid. */
FFL_API int ffl_tokarrow_append(ffl_tokarrow *b, const void *data, int kind, int64_t length, int lower,
                                const uint8_t *classes, int64_t max_chars, const uint8_t *num, int64_t num_len);

/* The tables of ffilab.routes._text_glue.arrow_tables() (derived from the interpreter's
 * unicodedata and str.casefold; see there) with the class table of ffilab.contract.char_classes(). */
typedef struct {
    const uint8_t *classes;        /* FFL_CHAR_* per code point (FFL_CHAR_FOLDED: its own folding) */
    const uint8_t *inert;          /* 0: not inert; FFL_INERT_REPLACED; else 1 + combining class */
    const uint32_t *fold_keys;     /* sorted code points that are not their own case folding */
    const uint32_t *fold_values;   /* 4 per key: length (1..3), then the folding's code points */
    int64_t n_fold;
    const uint32_t *compat_keys;   /* sorted replaced compatibility characters */
    const uint32_t *compat_offsets; /* n_compat + 1: key k's NFKC is pool[offsets[k] .. offsets[k + 1]) */
    const uint32_t *compat_pool;
    int64_t n_compat;
} ffl_fold_tables;

#define FFL_INERT_REPLACED 255

/* Fold a non-ASCII text in C when Python's NFKC provably gives what C can compute: when every
 * code point is NFKC-inert and its combining marks are in canonical order (Unicode's NFKC quick
 * check answering yes), or is a replaced compatibility character followed by an inert starter or
 * another replaced one (then its NFKC is its table entry), the text's NFKC is known; its case
 * folding is then each code point's own (ffl_tokarrow_casefold).  The folded code points go to
 * out (room for out_cap).  `kind` is 1, 2 or 4 (PEP 393 code units) or 0 for UTF-8 bytes (length
 * in bytes, decoded strictly).
 * Returns the folded length, or -1 when the text needs Python (the check does not say yes,
 * invalid UTF-8, out of room, or bad arguments).  For UTF-8 with `same` given, a text that
 * passes with nothing replaced and every code point its own folding is its own answer: then
 * *same = 1, nothing is written to out, and it returns `length` (the caller scans the UTF-8
 * itself, ffl_tokarrow_append kind 0); otherwise *same = 0. */
FFL_API int64_t ffl_tokarrow_fold(const void *data, int kind, int64_t length, const ffl_fold_tables *t,
                                  uint32_t *out, int64_t out_cap, int *same);

/* str.casefold of a text of `kind` (1, 2, 4) code units into out (room for out_cap code points;
 * 3 * length is always enough), code point by code point: itself where classes[cp] has
 * FFL_CHAR_FOLDED, else its fold_keys entry.  Exact because case folding maps each character on
 * its own (no context).  Returns the length, or -1 (a code point the tables do not cover, out of
 * room, bad arguments). */
FFL_API int64_t ffl_tokarrow_casefold(const void *data, int kind, int64_t length, const ffl_fold_tables *t,
                                      uint32_t *out, int64_t out_cap);

/* Whether data[0 .. n) is all ASCII (every byte below 0x80). */
FFL_API int ffl_is_ascii(const uint8_t *data, int64_t n);

/* Move the buffers into a list<string> Arrow array: *schema and *array are filled (their release
 * callbacks free everything) and b is left empty but for its scratch (masks, tmp), which
 * ffl_tokarrow_free still frees.  Returns 0 or -FFL_ENOMEM (b untouched). */
FFL_API int ffl_tokarrow_export(ffl_tokarrow *b, struct ArrowSchema *schema, struct ArrowArray *array);

#ifdef __cplusplus
}
#endif

#endif /* FFILAB_TOKENIZE_ARROW_H */
