/* cr.h — chainrule runtime: data loading (IDX, .gz, .npy, CSV), random numbers,
 * initialisation, normalisation, batching, statistics and checkpoints for the code
 * chainrule generates. The trainer program built on it has its own header
 * (trainer/cr_train.h); nothing here prints.
 *
 * Conventions (every function below follows them):
 *   - Plain C11 plus a little POSIX inside the library (open with O_EXCL, fsync, rename).
 *     No global state: everything lives in structs the caller owns.
 *     Functions never print and never exit.
 *   - A function that can fail returns 0 on success and -1 on failure, and then
 *     writes one line into its cr_err: "PATH: problem" (the file it was reading or
 *     writing, then what was wrong), e.g.
 *       "data/x.idx: truncated IDX data: header says 60000x28x28 = 47040000 bytes, file has 1000".
 *     The cr_err pointer may be NULL when the caller does not want the message.
 *     On failure no output struct is left half-filled: it is zeroed, and nothing
 *     needs freeing.
 *   - Sizes are size_t. Every product of sizes read from a file is checked for
 *     overflow and against the file's real length before anything is allocated, so
 *     a hostile file gets an error, never a crash or a huge allocation.
 *   - Files are written through a cr_out (the writer policy, below): atomically, through a
 *     temporary in the target's folder that no one can predict or plant, renamed over PATH
 *     after fsync; devices, FIFOs and the standard streams in place; symlinks kept. If
 *     anything fails, the temporary is removed and PATH is left as it was.
 *   - Files are read only when they are regular files (cr_read_file), within size and
 *     inflate-ratio limits checked while reading.
 *   - Every file reader accepts gzip-compressed input (detected by the magic bytes
 *     1f 8b, whatever the file name) unless its comment says otherwise. A file, or
 *     its decompressed content, may be at most CR_MAX_FILE_BYTES long.
 *
 * Link with -lz -lm.
 */
#ifndef CR_H
#define CR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_VERSION "0.1.0"

/* Largest file (or decompressed .gz content) any reader accepts: 2 GiB.
 * Fashion-MNIST's training images are 47 MB, so this only stops mistakes. */
#define CR_MAX_FILE_BYTES ((size_t)1 << 31)
/* gzip data may decompress to at most CR_MAX_INFLATE_RATIO times its compressed size plus
 * CR_INFLATE_SLACK, checked while it inflates: a few MB of gzip bomb cannot take GBs. Real
 * data sets compress 2-10x (MNIST images 4.8x, the tiny set 1.6x); deflate's own maximum
 * is about 1032x. */
#define CR_MAX_INFLATE_RATIO 100
#define CR_INFLATE_SLACK ((size_t)1 << 20)

/* ------------------------------------------------------------------------- errors */

typedef struct cr_err { char msg[512]; } cr_err;

/* Formats a message into e (if e is not NULL; truncated to fit) and returns -1, so
 * library code (and code built on it, such as the checkpoint writer) can say
 *   return cr_errf(e, "%s: bad magic", path);                                       */
int cr_errf(cr_err *e, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* *out = a * b; returns 0, or -1 if the product does not fit in size_t. */
int cr_size_mul(size_t a, size_t b, size_t *out);

/* Zeroed memory for a network's buffers (the generated params, grads, work and optimizer
 * structs) and for data sets, 64-byte aligned as the generated code's vector loads want.
 * A block of 2 MB or more is aligned to 2 MB and, on Linux, advised to be backed by
 * transparent huge pages (with 4 KB pages, walking a big layer's weights or a data set's
 * shuffled rows costs TLB misses: page walks, slow in a VM). Such a block is rounded up to
 * a multiple of 2 MB (2 MB + 4 bytes may take 4 MB once touched). The advice changes no byte
 * and no result. Free it with free(); NULL when out of memory. */
void *cr_alloc(size_t bytes);

/* ------------------------------------------------------------------- files, gzip */

/* Reads a whole file into a fresh malloc'ed buffer (*data, *len; free() it).
 * Only a regular file is read: a directory, FIFO, device (/dev/zero) or socket is refused
 * with one line naming what it is, and the open never blocks (a FIFO without a writer).
 * If the file starts with the gzip magic 1f 8b it is decompressed (all members of a
 * multi-member gzip file are read; zero bytes after the last member are ignored, as gzip
 * does). Fails if the file, or its decompressed content, is longer than max_len (0 means
 * CR_MAX_FILE_BYTES), or the content over CR_MAX_INFLATE_RATIO times the compressed size;
 * every limit is checked while reading, before the memory is taken. An empty file gives
 * *len = 0 and a non-NULL *data. Every reader of the runtime (IDX, .npy, CSV, checkpoints)
 * and of the trainer (metrics CSV) goes through this. */
int cr_read_file(const char *path, uint8_t **data, size_t *len, size_t max_len, cr_err *e);

/* Decompresses gzip data held in memory (name is used only in messages). Fails on a
 * corrupt or truncated stream, a bad CRC/length trailer, trailing garbage (trailing zero
 * bytes are padding and ignored), output longer than max_out (0 means CR_MAX_FILE_BYTES)
 * or than CR_MAX_INFLATE_RATIO * in_len + CR_INFLATE_SLACK. *out is malloc'ed; free() it. */
int cr_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
              size_t max_out, const char *name, cr_err *e);

/* ---- writing files: the writer policy ----
 * Every file the runtime writes, and the trainer and the generator built on it, goes through
 * a cr_out:
 *   - A regular file, or a new name, is replaced atomically: the bytes go to an anonymous
 *     temporary file in the target's folder (Linux O_TMPFILE; where the file system lacks
 *     it, a new ".NAME.tmp-RANDOM" made with O_CREAT|O_EXCL|O_NOFOLLOW, 64 random bits), are
 *     fsync'ed, then named and renamed over the target: PATH holds the old or the new bytes,
 *     never a mix, and a process killed while writing (kill -9, SIGXFSZ) leaves nothing
 *     behind (with O_TMPFILE; the named fallback can leave its .tmp- file).
 *   - A symbolic link is followed: its target file is replaced (in the target's folder) and
 *     the link stays. A link to a missing file is refused. A replaced file keeps its
 *     permission bits; a new one gets 0666 less the umask.
 *   - A device, FIFO or socket (/dev/null, a named pipe) is written in place, never
 *     replaced; a FIFO nobody reads is refused instead of waited for. /dev/stdout,
 *     /dev/stderr, /dev/fd/N and /proc/self/fd/N write to that open descriptor (its offset,
 *     its append mode). A directory is refused.
 *   - Every error (create, write, fsync, close, link, rename) is reported as one line, and
 *     then nothing is left behind.
 * Use: cr_out_open, cr_out_write (any number of times), cr_out_finish (all written and
 * synced; the file is not yet visible), cr_out_commit (renamed into place). After a
 * failure of any call, or to give up, cr_out_abort (it may always be called; a committed
 * cr_out needs nothing more). Several outputs can be finished first and committed after,
 * so a failure before the commits changes none of them (chainrule gen does). */
typedef struct cr_out {
  const char *path;       /* as given (for messages); must outlive the cr_out */
  char *target;           /* the regular file that gets the bytes (symlinks resolved) */
  char *tmp;              /* the temporary's name, once it has one */
  int fd;
  int through;            /* written in place (device, FIFO, standard stream) */
  int anon;               /* an O_TMPFILE file, named only at commit */
  int keep_mode;
  unsigned mode;          /* permission bits of the file being replaced */
} cr_out;

int  cr_out_open(cr_out *o, const char *path, cr_err *e);
int  cr_out_write(cr_out *o, const void *data, size_t len, cr_err *e);
int  cr_out_finish(cr_out *o, cr_err *e);
int  cr_out_commit(cr_out *o, cr_err *e);
void cr_out_abort(cr_out *o);

/* Reads a whole file as it is (no gzip) under the reader policy of cr_read_file, at most
 * max_len bytes (0 means CR_MAX_FILE_BYTES). */
int cr_read_plain(const char *path, uint8_t **data, size_t *len, size_t max_len, cr_err *e);

/* Writes len bytes to path with a cr_out (the policy above). With gzip != 0
 * the bytes are gzip-compressed first (zlib level 9, no timestamp or name in the
 * gzip header, so the same data gives the same file). */
int cr_write_file(const char *path, const void *data, size_t len, int gzip, cr_err *e);

/* ------------------------------------------------------------------------- RNG */

/* PCG32 (M. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good
 * Algorithms for Random Number Generation", 2014), the variant PCG-XSH-RR 64/32:
 *   state' = state * 6364136223846793005 + inc            (mod 2^64; inc is odd)
 *   output = rotr32((uint32_t)(((state >> 18) ^ state) >> 27), state >> 59)
 * computed from the *old* state. Seeding is the reference pcg32_srandom_r:
 *   state = 0; inc = (stream << 1) | 1; step; state += seed; step.
 * Different streams (inc) give independent sequences for the same seed. Only integer
 * arithmetic, so every platform and compiler produces the same stream:
 * cr_rng_seed(r, 42, 54) starts 0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293
 * (the PCG reference demo's numbers; tests/runtime checks them). */
typedef struct cr_rng { uint64_t state, inc; } cr_rng;

/* Streams the project uses, so init and shuffling never share numbers.
 * The batcher uses stream CR_STREAM_SHUFFLE + epoch for the shuffle of each epoch. */
#define CR_STREAM_INIT    1u              /* parameter initialisation */
#define CR_STREAM_SPLIT   2u              /* train/valid splits (tools/) */
#define CR_STREAM_DATA    3u              /* synthetic data (tools/ tiny data set) */
#define CR_STREAM_SHUFFLE ((uint64_t)1 << 32)
#define CR_STREAM_DROPOUT ((uint64_t)2 << 32)   /* + epoch: the generated NAME_seed's stream */

void     cr_rng_seed(cr_rng *r, uint64_t seed, uint64_t stream);
uint32_t cr_rng_u32(cr_rng *r);
/* Uniform integer in [0, bound), unbiased (rejection of the low remainder as in the PCG
 * reference pcg32_boundedrand_r). bound must be >= 1. */
uint32_t cr_rng_bounded(cr_rng *r, uint32_t bound);
/* Uniform float in [0, 1): the top 24 bits of one cr_rng_u32 times 2^-24 (every value
 * is a multiple of 2^-24, exact in float). */
float    cr_rng_uniform(cr_rng *r);
/* Uniform double in [0, 1) from 53 bits of two cr_rng_u32 draws (high word first). */
double   cr_rng_uniform_double(cr_rng *r);
/* Standard normal N(0, 1): Marsaglia's polar method in double, with no cached spare
 * (nothing hidden in the struct): draw u, v uniform in [-1, 1) from
 * cr_rng_uniform_double (2*u-1), reject until 0 < s = u^2 + v^2 < 1, return
 * (float)(u * sqrt(-2 ln s / s)); v's twin value is discarded. It uses libm's log()
 * and sqrt(); sqrt is exact in IEEE, and glibc's log is accurate to well under one
 * double ulp, so the float result is the same on every platform except in the rarest
 * rounding ties. Each try takes 4 u32 draws and succeeds with probability pi/4, so a
 * call takes 16/pi ~ 5.1 draws on average. */
float    cr_rng_normal(cr_rng *r);

/* ------------------------------------------------------------------------- data */

/* A labelled data set in memory. x is [n][dim] row-major float32, y is [n] labels.
 * rows x cols is the image shape (rows * cols == dim); for data without an image
 * shape (CSV, 2-D .npy) rows = 1 and cols = dim. A 4-D .npy [n][C][H][W] gives
 * chans = C, rows = H, cols = W (C * H * W == dim); every other source chans = 0. Both
 * arrays are malloc'ed and owned by the struct; cr_dataset_free releases them and zeroes
 * the struct. */
typedef struct cr_dataset {
  size_t   n, dim;
  int      rows, cols;
  float   *x;   /* [n][dim] */
  uint8_t *y;   /* [n] */
  int      chans;   /* C of a 4-D .npy, else 0 */
} cr_dataset;

void cr_dataset_free(cr_dataset *d);

/* IDX (the MNIST format, big-endian): magic 00 00 08 NDIM (08 = unsigned byte, the
 * only element type accepted), then NDIM 32-bit dimension sizes, then the data.
 * Images: NDIM 3 ([n][rows][cols]) or 2 ([n][dim]); labels: NDIM 1 ([n]), the same n.
 * The file must be exactly as long as its header says (trailing bytes are an error).
 * Pixels p become p / 255.0f, so x is in [0, 1]. Either file may be gzip'ed. */
int cr_idx_load(cr_dataset *d, const char *images_path, const char *labels_path, cr_err *e);

/* The same from memory (e.g. for fuzzing): each buffer is a whole IDX file, possibly
 * gzip'ed; the names are used only in messages. */
int cr_idx_load_mem(cr_dataset *d,
                    const uint8_t *images, size_t images_len, const char *images_name,
                    const uint8_t *labels, size_t labels_len, const char *labels_name,
                    cr_err *e);

/* Writes n images (uint8 [n][rows][cols]) and n labels as IDX files (NDIM 3 and 1),
 * each atomically; a path ending in ".gz" is written gzip-compressed. Either path may
 * be NULL to skip that file. */
int cr_idx_save(const char *images_path, const char *labels_path,
                const uint8_t *images, const uint8_t *labels,
                size_t n, int rows, int cols, cr_err *e);

/* CSV: one sample per line, "label,v0,v1,...,v{dim-1}". The label is an integer in
 * 0..255; the values are decimal numbers (strtod syntax without hex, inf or nan:
 * digits, sign, '.', exponent) and are stored AS GIVEN, not scaled (a CSV holding
 * 0..255 pixels gives x in [0, 255]; divide yourself or write [0,1] values). The first
 * line is a header, and skipped, if its first field is not a number. Every row must
 * have as many fields as the first row. Empty lines are skipped, "\r\n" line ends are
 * accepted, spaces and tabs around fields are ignored; there is no quoting (a comma always
 * separates fields, as nothing in such a file needs quotes). rows = 1, cols = dim.
 * The number format is the C locale's (the library never calls setlocale). */
int cr_csv_load(cr_dataset *d, const char *path, cr_err *e);
int cr_csv_load_mem(cr_dataset *d, const uint8_t *buf, size_t len, const char *name, cr_err *e);

/* Writes d as CSV (atomically). With header != 0 the first line is
 * "label,p0,p1,...". Values are printed with %.9g, which reads back to the same float. */
int cr_csv_save(const char *path, const cr_dataset *d, int header, cr_err *e);

/* Loads a data set whatever its format, chosen by the name of x_path:
 *   "*.csv[.gz]"     CSV (y_path must be NULL: labels are in the file)
 *   "*.npy[.gz]"     x: float32 [n][...] taken as given (a NaN or Inf is refused, naming
 *                    the sample and value), or uint8 [n][...] scaled by 1/255; a 3-D array
 *                    [n][rows][cols] keeps its image shape, a 4-D [n][C][H][W] its
 *                    channels too.
 *                    y: uint8, int64 or float32 [n] holding integers 0..255.
 *   anything else    IDX images + IDX labels (plain or .gz).                          */
int cr_dataset_load(cr_dataset *d, const char *x_path, const char *y_path, cr_err *e);

/* Samples without a label file (for prediction), chosen by the name of path:
 *   "*.csv[.gz]"     as cr_csv_load (the labels in the file are read too)
 *   "*.npy[.gz]"     x as cr_dataset_load reads it ([n][...], float32 or uint8 / 255)
 *   anything else    IDX images (NDIM 2 or 3, plain or .gz) alone
 * Except for CSV, y is all zeros. At least one sample is needed. */
int cr_inputs_load(cr_dataset *d, const char *path, cr_err *e);

/* ------------------------------------------------------------------------- .npy */

/* NumPy's .npy format, versions 1.0, 2.0 (and 3.0, which is 2.0 with a UTF-8 header):
 * magic "\x93NUMPY", version, header length (2 bytes in 1.0, 4 in 2.0), then a Python
 * dict literal {'descr': ..., 'fortran_order': False, 'shape': (...), } padded with
 * spaces and a newline so the data starts at a multiple of 64 (16 in old files).
 * Accepted: descr '<f4' (CR_F32), '|u1' (CR_U8; any byte-order mark) and '<i8' (CR_I64,
 * read only: torch saves num_batches_tracked so), fortran_order False, 0 to 8 dimensions
 * (0 = a scalar, count 1). Data is decoded as little-endian whatever the host. Rejected
 * with a message: other dtypes ('>f4', '=f4', '<f8', '<i4', ...), Fortran order, a header
 * that does not parse, a shape whose product overflows, data shorter or longer than the
 * shape says. A gzip'ed .npy file is read too. A reader that takes only some dtypes
 * checks a.dtype itself. */
enum { CR_F32 = 1, CR_U8 = 2, CR_I64 = 3 };

typedef struct cr_npy {
  int    dtype;        /* CR_F32, CR_U8 or CR_I64 */
  int    ndim;         /* 0..8 */
  size_t shape[8];
  size_t count;        /* product of shape (1 for ndim 0) */
  void  *data;         /* count elements, malloc'ed (float *, uint8_t * or int64_t *) */
} cr_npy;

size_t cr_npy_elem_size(int dtype);   /* bytes of one element: 4, 1 or 8 */

int  cr_npy_load(cr_npy *a, const char *path, cr_err *e);
int  cr_npy_load_mem(cr_npy *a, const uint8_t *buf, size_t len, const char *name, cr_err *e);
/* Writes a C-order array atomically with a version 1.0 header (2.0 if the header would
 * not fit in 65535 bytes), padded so the data starts at a multiple of 64, as NumPy does. */
int  cr_npy_save(const char *path, int dtype, const void *data, int ndim, const size_t *shape,
                 cr_err *e);
/* The same with an explicit header version: 1 or 2 (0 = choose as cr_npy_save). */
int  cr_npy_save_version(const char *path, int dtype, const void *data, int ndim,
                         const size_t *shape, int version, cr_err *e);
void cr_npy_free(cr_npy *a);

/* ------------------------------------------------------------------------- init */

/* One tensor's initialisation, with PyTorch's semantics (torch.nn.init) on our layout.
 * Our weights are [in][out] (y = x @ w + b); PyTorch's nn.Linear stores [out][in].
 * The fans are those of the layer, in PyTorch's sense: fan_in = in = rows of our
 * weight, fan_out = out = cols of our weight (for PyTorch's [out][in] tensor,
 * _calculate_fan_in_and_fan_out gives the same: fan_in = size(1), fan_out = size(0)).
 * The distributions match PyTorch's; the values do not (different generators).
 * Draws fill w[0], w[1], ... in order.
 *
 *   scheme            each element                          uses
 *   "zeros"           0                                     -
 *   "ones"            1 (batchnorm's weight, running_var)    -
 *   "randn"           N(0, 1)                               -
 *   "simple_kaiming"  N(0, 1) / sqrt(fan_in)  (the seed's)   fan_in
 *   "xavier_uniform"  U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))   both fans
 *   "xavier_normal"   N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))  both fans
 *   "kaiming_uniform" U(-b, b), b = sqrt(3) * gain / sqrt(fan)            mode
 *   "kaiming_normal"  N(0, s^2), s = gain / sqrt(fan)                     mode
 *   "pytorch_default" U(-b, b), b = 1 / sqrt(fan_in): nn.Linear's reset_parameters for
 *                     the weight (kaiming_uniform with a = sqrt(5): gain sqrt(1/3)) and
 *                     for the bias alike                                  fan_in
 *
 * mode: "fan_in" or "fan_out" (NULL = "fan_in"); fan = fan_in or fan_out by mode.
 * nonlinearity: see cr_init_gain. NULL means PyTorch's default of that function:
 * "leaky_relu" with the given a (a = 0: gain sqrt 2) for kaiming, and gain 1 for xavier
 * (which has no nonlinearity argument in PyTorch, only gain; ours takes the name).
 * Errors: unknown scheme / mode / nonlinearity, a fan the scheme needs that is < 1. */
typedef struct cr_init_spec {
  const char *scheme, *mode, *nonlinearity;
  float a;              /* negative slope for leaky_relu */
  int fan_in, fan_out;
} cr_init_spec;

int   cr_init_tensor(float *w, size_t count, const cr_init_spec *s, cr_rng *r, cr_err *e);

/* torch.nn.init.calculate_gain: "linear", "identity", "sigmoid" -> 1; "tanh" -> 5/3;
 * "relu" -> sqrt 2; "leaky_relu" -> sqrt(2 / (1 + a^2)); "selu" -> 3/4.
 * Unknown name -> 0 (cr_init_tensor turns that into an error). */
float cr_init_gain(const char *nonlinearity, float a);

/* ------------------------------------------------------------------- normalisation */

/* x -> (x - mean) / std, with numbers fitted on the training set only and applied to
 * every other set (validation, test, single samples at inference).
 *   per_feature = 0: one mean and std over all n*dim values (as the seed does with
 *     x_train.mean(), x_train.std()); means/stds are NULL.
 *   per_feature = 1: a mean and std per feature over the n samples (arrays of dim).
 * std is the sample standard deviation (unbiased, divisor N - 1, like torch's
 * x.std()), accumulated in double in two passes (mean first). A std below
 * CR_NORM_MIN_STD (a constant feature, e.g. MNIST's always-black border pixels, or a
 * constant data set) is replaced by 1, so that feature is only centred. */
#define CR_NORM_MIN_STD 1e-6f

typedef struct cr_norm {
  int    per_feature;
  size_t dim;              /* features (per_feature = 1); for scalar, the fitted data's dim
                              (0 after cr_norm_set_scalar), for information only */
  float  mean, std;        /* per_feature = 0 */
  float *means, *stds;     /* per_feature = 1: [dim] each, malloc'ed */
} cr_norm;

/* Needs train->n >= 2. */
int  cr_norm_fit(cr_norm *nm, const cr_dataset *train, int per_feature, cr_err *e);
/* Normalises d->x in place. Fails (d unchanged) if per_feature and d->dim != nm->dim. */
int  cr_norm_apply(const cr_norm *nm, cr_dataset *d, cr_err *e);
/* Normalises n rows of nm->dim floats (per_feature) or n*dim floats (scalar) in place;
 * for samples outside a cr_dataset. For per_feature = 0, dim may be any row length. */
void cr_norm_apply_rows(const cr_norm *nm, float *x, size_t n, size_t dim);
/* Builds a scalar or per-feature cr_norm from numbers (e.g. read from a checkpoint);
 * the per-feature arrays are copied. Fails on a std that is not finite and > 0. */
int  cr_norm_set_scalar(cr_norm *nm, float mean, float std, cr_err *e);
int  cr_norm_set_per_feature(cr_norm *nm, size_t dim, const float *means, const float *stds,
                             cr_err *e);
/* Saved as a float32 .npy: shape [2] = {mean, std} for scalar, [2][dim] = {means, stds}
 * for per-feature. cr_norm_load validates the same way as the setters. */
int  cr_norm_save(const cr_norm *nm, const char *path, cr_err *e);
int  cr_norm_load(cr_norm *nm, const char *path, cr_err *e);
void cr_norm_free(cr_norm *nm);

/* ------------------------------------------------------------------------ batching */

/* Iterates a data set in batches of `batch` samples, epoch after epoch.
 *   shuffle = 0: samples in order; batches point straight into d->x / d->y (zero-copy).
 *   shuffle = 1: before each epoch, a Fisher-Yates shuffle of the identity permutation
 *     (for i = n-1 .. 1: swap order[i] with order[cr_rng_bounded(i + 1)]) drawn from
 *     cr_rng_seed(seed, CR_STREAM_SHUFFLE + epoch): the order of epoch k depends only on
 *     (seed, k), so a resumed run can jump to any epoch with cr_batcher_set_epoch.
 *     Batches are gathered into the batcher's own buffers.
 *   drop_last = 0: the last batch of an epoch has n % batch samples when that is not 0;
 *   drop_last = 1: it is skipped (as torch's DataLoader(drop_last=True)).
 * For validation, use shuffle = 0 with its own batch size.
 * The data set must outlive the batcher and not be freed or resized meanwhile.
 * Limits: 1 <= batch, n <= UINT32_MAX. With drop_last and n < batch an epoch is empty
 * (cr_batcher_next returns 0 at once); init accepts that. */
typedef struct cr_batcher {
  const cr_dataset *d;
  int       batch, shuffle, drop_last;
  uint64_t  seed;
  uint64_t  epoch;     /* index of the current epoch (0 first) */
  size_t    pos;       /* next position in order[] within the epoch */
  int       started;   /* the current epoch's order has been drawn */
  size_t   *order;     /* [n] when shuffle, else NULL */
  float    *xbuf;      /* [batch][dim] when shuffle, else NULL */
  uint8_t  *ybuf;      /* [batch] when shuffle, else NULL */
  int       defer_x;   /* set by the caller: cr_batcher_next leaves xbuf to cr_batcher_gather */
  size_t    cur;       /* position in order[] of the current batch's first row */
} cr_batcher;

int  cr_batcher_init(cr_batcher *b, const cr_dataset *d, int batch, int shuffle, int drop_last,
                     uint64_t seed, cr_err *e);
/* 1: *x ([*n][dim]), *y ([*n]) and *n hold the next batch, valid until the next call.
 * 0: the epoch is over (*n = 0); the next call starts the next epoch (reshuffled). */
int  cr_batcher_next(cr_batcher *b, const float **x, const uint8_t **y, int *n);
/* With b->defer_x set (after init) and shuffle, cr_batcher_next copies only the labels and
 * returns *x = xbuf unfilled: cr_batcher_gather(b, r0, r1) then copies rows r0..r1-1 of the
 * batch into it, so threads can each gather their own rows (disjoint ranges at once).
 * Without shuffle *x points into the data set and gather does nothing. */
void cr_batcher_gather(const cr_batcher *b, int r0, int r1);
/* cr_batcher_gather into dst ([batch][dim] floats of the caller's) instead of xbuf: a second
 * buffer lets one batch be gathered while the step before reads the other. */
void cr_batcher_gather_to(const cr_batcher *b, float *dst, int r0, int r1);
/* A hint (no effect on any result): row r of the current shuffled batch will be gathered
 * soon, so its cache lines are requested from memory now, to arrive while the caller works
 * on something else. Rows outside the batch and unshuffled batchers are ignored. */
void cr_batcher_prefetch(const cr_batcher *b, int r);
/* Makes the next cr_batcher_next call start epoch `epoch` from its beginning. */
void cr_batcher_set_epoch(cr_batcher *b, uint64_t epoch);
/* Batches per epoch with the batcher's batch size and drop_last. */
size_t cr_batcher_batches(const cr_batcher *b);
void cr_batcher_free(cr_batcher *b);

/* ------------------------------------------------------------------- statistics */

/* Index of the first NaN/Inf in x[0..n), or -1 when all are finite. A bit test (exponent
 * all ones), exact under any floating-point mode; cheap enough to run on every gradient
 * after every step. */
long cr_first_nonfinite(const float *x, size_t n);
/* 1 when x[0..n) holds a NaN or Inf, else 0: cr_first_nonfinite's test without the index
 * (a scan may be cut into pieces and the pieces tested in any order). */
int cr_any_nonfinite(const float *x, size_t n);

/* Mean and standard deviation (Bessel-corrected, like torch.std; 0 when n < 2) of
 * x[0..n), accumulated in double in two passes (the mean first). cr_norm_fit's scalar
 * numbers are exactly these. */
void cr_mean_std(const float *x, size_t n, double *mean, double *std);

/* --------------------------------------------------------------------- checkpoints */

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and `cksum -a crc32b`). */
uint32_t cr_crc32(uint32_t crc, const void *data, size_t bytes);

/* A checkpoint is a list of named parts of known sizes behind a checked header.
 * File layout, all integers little-endian:
 *   magic "CRCKPT\r\n" | u32 version | u32 header_bytes | char net[64] |
 *   u64 param_count | u64 shapes_hash | u32 nparts | u32 0 |
 *   nparts x { char name[32] | u64 bytes } | u64 payload_bytes | u32 payload_crc32 |
 *   u32 header_crc32 (of every header byte before it) | payload (the parts, in order)
 * The reader checks every field against what the caller expects before it copies
 * anything into the caller's buffers, so a refused checkpoint changes nothing.
 * The writer goes through cr_write_file (temporary file, fsync, rename), so PATH
 * always holds either the old or the new checkpoint. */
#define CR_CKPT_VERSION 1u
#define CR_CKPT_NAME_MAX 64
#define CR_CKPT_PART_NAME_MAX 32

typedef struct {
  const char *net;        /* network name, < 64 bytes */
  uint64_t param_count;   /* floats in all parameters */
  uint64_t shapes_hash;   /* cr_shapes_hash of the tensor table */
} cr_ckpt_id;

typedef struct {
  const char *name;       /* < 32 bytes, e.g. "params", "opt", "norm" */
  void *data;             /* save: read from; load: written to */
  size_t bytes;           /* exact size expected */
} cr_ckpt_part;

int cr_ckpt_save(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                 int nparts, cr_err *e);
int cr_ckpt_load(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                 int nparts, cr_err *e);
/* The same on a whole checkpoint file held in memory (name is used in messages). */
int cr_ckpt_load_mem(const uint8_t *buf, size_t len, const char *name, const cr_ckpt_id *id,
                     const cr_ckpt_part *parts, int nparts, cr_err *e);
/* For a program that added parts at the end of its list: a file whose parts are the first
 * `required` .. nparts of the caller's (one written before the later parts existed) loads
 * too, the parts it lacks left as the caller set them; *loaded = the parts it had. */
int cr_ckpt_load_some(const char *path, const cr_ckpt_id *id, const cr_ckpt_part *parts,
                      int nparts, int required, int *loaded, cr_err *e);
int cr_ckpt_load_some_mem(const uint8_t *buf, size_t len, const char *name, const cr_ckpt_id *id,
                          const cr_ckpt_part *parts, int nparts, int required, int *loaded,
                          cr_err *e);

/* FNV-1a 64 over a tensor table's names and shapes ("name:rows:cols;" each), in order.
 * cr_shapes_hash_more continues a hash over more shapes, so a table can be hashed in
 * pieces: cr_shapes_hash(s, n) == cr_shapes_hash_more(CR_SHAPES_HASH_INIT, s, n). */
typedef struct { const char *name; int rows, cols; } cr_shape;
#define CR_SHAPES_HASH_INIT 0xcbf29ce484222325ull
uint64_t cr_shapes_hash(const cr_shape *shapes, int n);
uint64_t cr_shapes_hash_more(uint64_t h, const cr_shape *shapes, int n);

#ifdef __cplusplus
}
#endif

#endif /* CR_H */
