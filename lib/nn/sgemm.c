// A small float32 matrix product for nodes/nn's convolutions:
// C = A·B + beta·C, row-major, A m×k, B k×n. Each element of C is summed in
// the same order (k ascending from 0, then beta·C added) by the vector tiles
// and the scalar edges alike, and the file is built without floating-point
// contraction, so the AVX2 and the baseline build give bit-identical results.
#include <stddef.h>

// No fused multiply-add: the "avx2" target below excludes FMA, and this
// keeps it off even under -march=native.
#pragma GCC optimize("fp-contract=off")

#define MR 4
#define NR 16

// Eight floats; on the baseline target GCC splits it into two SSE registers.
typedef float v8 __attribute__((vector_size(32)));
#define BCAST(x) ((v8){(x), (x), (x), (x), (x), (x), (x), (x)})

#define SGEMM_BODY                                                             \
	for (int j0 = 0; j0 < n; j0 += NR) {                                       \
		int nr = n - j0 < NR ? n - j0 : NR;                                    \
		if (nr == NR && m >= MR)                                               \
			for (int l = 0; l < k; l++)                                        \
				__builtin_memcpy(pb + (size_t)l * NR,                          \
				                 b + (size_t)l * ldb + j0, NR * sizeof(float));\
		for (int i0 = 0; i0 < m; i0 += MR) {                                   \
			int mr = m - i0 < MR ? m - i0 : MR;                                \
			if (mr == MR && nr == NR) {                                        \
				v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};                 \
				v8 c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};                 \
				const float *a0 = a + (size_t)i0 * lda;                        \
				const float *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;    \
				for (int l = 0; l < k; l++) {                                  \
					const float *bl = pb + (size_t)l * NR;                     \
					v8 b0, b1;                                                 \
					__builtin_memcpy(&b0, bl, sizeof b0);                      \
					__builtin_memcpy(&b1, bl + 8, sizeof b1);                  \
					v8 x0 = BCAST(a0[l]), x1 = BCAST(a1[l]);                   \
					v8 x2 = BCAST(a2[l]), x3 = BCAST(a3[l]);                   \
					c00 += x0 * b0; c01 += x0 * b1;                            \
					c10 += x1 * b0; c11 += x1 * b1;                            \
					c20 += x2 * b0; c21 += x2 * b1;                            \
					c30 += x3 * b0; c31 += x3 * b1;                            \
				}                                                              \
				v8 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}}; \
				for (int r = 0; r < MR; r++) {                                 \
					float *cr = c + (size_t)(i0 + r) * ldc + j0;               \
					for (int h = 0; h < 2; h++) {                              \
						v8 v = acc[r][h];                                      \
						if (beta != 0) {                                       \
							v8 old;                                            \
							__builtin_memcpy(&old, cr + 8 * h, sizeof old);    \
							v += beta * old;                                   \
						}                                                      \
						__builtin_memcpy(cr + 8 * h, &v, sizeof v);            \
					}                                                          \
				}                                                              \
			} else {                                                           \
				for (int r = 0; r < mr; r++)                                   \
					for (int j = 0; j < nr; j++) {                             \
						float s = 0;                                           \
						for (int l = 0; l < k; l++)                            \
							s += a[(size_t)(i0 + r) * lda + l] *               \
							     b[(size_t)l * ldb + j0 + j];                  \
						float *cij = c + (size_t)(i0 + r) * ldc + j0 + j;      \
						*cij = beta == 0 ? s : s + beta * *cij;                \
					}                                                          \
			}                                                                  \
		}                                                                      \
	}

static void sgemm_base(int m, int n, int k, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc,
                       float *pb) {
	SGEMM_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void
sgemm_avx2(int m, int n, int k, const float *a, int lda, const float *b,
           int ldb, float beta, float *c, int ldc, float *pb) {
	SGEMM_BODY
}
#endif

// dagrun_sgemm needs pb, scratch for k×16 floats (a packed panel of B, so
// that the tile loop reads it contiguously instead of striding by ldb).
void dagrun_sgemm(int m, int n, int k, const float *a, int lda, const float *b,
                  int ldb, float beta, float *c, int ldc, float *pb) {
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("avx2")) {
		sgemm_avx2(m, n, k, a, lda, b, ldb, beta, c, ldc, pb);
		return;
	}
#endif
	sgemm_base(m, n, k, a, lda, b, ldb, beta, c, ldc, pb);
}

// dagrun_sgemm_base always takes the baseline path (tests compare its bits
// with the dispatched one).
void dagrun_sgemm_base(int m, int n, int k, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc,
                       float *pb) {
	sgemm_base(m, n, k, a, lda, b, ldb, beta, c, ldc, pb);
}
