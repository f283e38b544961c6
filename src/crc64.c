/*
 * crc64.c - Redis's CRC-64/Jones (redis-rdb.md section 6): reflected
 * polynomial 0x95ac9329ac4bc9b5, no final xor.
 *
 * Two implementations that must agree bit for bit:
 *
 * - portable slicing-by-8: eight 256-entry tables fold eight input bytes
 *   per step;
 * - on x86-64 CPUs with PCLMULQDQ, carry-less multiplication folds four
 *   16-byte lanes per 64 bytes of input, chosen at run time.
 *
 * Folding.  A reflected 64-bit CRC value v stands for the polynomial with
 * bit i as the coefficient of x^(63-i); a 16-byte lane loaded little-endian
 * stands for A(x) with register bit t as the coefficient of x^(127-t).
 * Moving a lane D bits further down the message multiplies it by x^D, and
 * any polynomial congruent mod P will do.  Split A = h * x^64 + l (h the
 * low quadword): h * x^(D+64) == h * (x^(D+63) mod P) * x, and the
 * carry-less product of two reflected quadwords comes out exactly one
 * factor of x short in register form, which supplies that x.  So a lane
 * folds by D with the constants x^(D+63) mod P (low) and x^(D-1) mod P
 * (high).  Whatever lane is left holds a polynomial congruent to all the
 * input before it; its 16 bytes and the tail then go through the table
 * code, whose CRC of them equals the CRC of the whole.
 */
#include <endian.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_CLMUL	1
#endif

#include "crc64.h"

#define CRC64_POLY	0x95ac9329ac4bc9b5ULL
#define CLMUL_MIN	128	/* below this the setup costs more than it saves */

static uint64_t		crc64_tab[8][256];
static pthread_once_t	crc64_once = PTHREAD_ONCE_INIT;
static int		crc64_fast;	/* use the carry-less multiply path */

#ifdef HAVE_CLMUL
/* fold constants, low quadword first: by 512, by 128 bits */
static uint64_t		k512[2], k128[2];
#endif

/* x^n mod P, reflected: multiplying by x is a right shift. */
static uint64_t
xpow_mod(unsigned int n)
{
	uint64_t v = 1ULL << 63;

	while (n-- > 0)
		v = (v & 1) ? (v >> 1) ^ CRC64_POLY : v >> 1;
	return v;
}

static void
crc64_init(void)
{
	uint64_t c;
	int i, k, bit;

	for (i = 0; i < 256; i++) {
		c = i;
		for (bit = 0; bit < 8; bit++)
			c = (c & 1) ? (c >> 1) ^ CRC64_POLY : c >> 1;
		crc64_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc64_tab[0][i];
		for (k = 1; k < 8; k++) {
			c = crc64_tab[0][c & 0xff] ^ (c >> 8);
			crc64_tab[k][i] = c;
		}
	}
#ifdef HAVE_CLMUL
	k512[0] = xpow_mod(512 + 63);
	k512[1] = xpow_mod(512 - 1);
	k128[0] = xpow_mod(128 + 63);
	k128[1] = xpow_mod(128 - 1);
	__builtin_cpu_init();
	crc64_fast = __builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("sse4.1");
#endif
}

static uint64_t
crc64_table(uint64_t crc, const unsigned char *p, size_t len)
{
	uint64_t w;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = crc64_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		crc ^= le64toh(w);
		crc = crc64_tab[7][crc & 0xff] ^
		    crc64_tab[6][(crc >> 8) & 0xff] ^
		    crc64_tab[5][(crc >> 16) & 0xff] ^
		    crc64_tab[4][(crc >> 24) & 0xff] ^
		    crc64_tab[3][(crc >> 32) & 0xff] ^
		    crc64_tab[2][(crc >> 40) & 0xff] ^
		    crc64_tab[1][(crc >> 48) & 0xff] ^
		    crc64_tab[0][crc >> 56];
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		crc = crc64_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	return crc;
}

#ifdef HAVE_CLMUL
__attribute__((target("pclmul,sse4.1")))
static inline __m128i
fold(__m128i x, __m128i k, __m128i next)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
	    _mm_clmulepi64_si128(x, k, 0x11)), next);
}

/* len >= 64 */
__attribute__((target("pclmul,sse4.1")))
static uint64_t
crc64_clmul(uint64_t crc, const unsigned char *p, size_t len)
{
	const __m128i kb4 = _mm_loadu_si128((const __m128i *)k512);
	const __m128i kb1 = _mm_loadu_si128((const __m128i *)k128);
	__m128i x0, x1, x2, x3;
	unsigned char rest[16];

	/* the running CRC stands for the first 64 bits of the input */
	x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p),
	    _mm_cvtsi64_si128((long long)crc));
	x1 = _mm_loadu_si128((const __m128i *)(p + 16));
	x2 = _mm_loadu_si128((const __m128i *)(p + 32));
	x3 = _mm_loadu_si128((const __m128i *)(p + 48));
	p += 64;
	len -= 64;
	while (len >= 64) {
		x0 = fold(x0, kb4, _mm_loadu_si128((const __m128i *)p));
		x1 = fold(x1, kb4, _mm_loadu_si128((const __m128i *)(p + 16)));
		x2 = fold(x2, kb4, _mm_loadu_si128((const __m128i *)(p + 32)));
		x3 = fold(x3, kb4, _mm_loadu_si128((const __m128i *)(p + 48)));
		p += 64;
		len -= 64;
	}
	x0 = fold(x0, kb1, x1);
	x0 = fold(x0, kb1, x2);
	x0 = fold(x0, kb1, x3);
	while (len >= 16) {
		x0 = fold(x0, kb1, _mm_loadu_si128((const __m128i *)p));
		p += 16;
		len -= 16;
	}
	_mm_storeu_si128((__m128i *)rest, x0);
	crc = crc64_table(0, rest, sizeof(rest));
	return crc64_table(crc, p, len);
}
#endif

uint64_t
crc64(uint64_t crc, const void *data, size_t len)
{
	pthread_once(&crc64_once, crc64_init);
#ifdef HAVE_CLMUL
	if (crc64_fast && len >= CLMUL_MIN)
		return crc64_clmul(crc, data, len);
#endif
	return crc64_table(crc, data, len);
}

uint64_t
crc64_portable(uint64_t crc, const void *data, size_t len)
{
	pthread_once(&crc64_once, crc64_init);
	return crc64_table(crc, data, len);
}

int
crc64_accelerated(void)
{
	pthread_once(&crc64_once, crc64_init);
	return crc64_fast;
}
