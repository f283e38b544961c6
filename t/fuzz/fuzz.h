/*
 * fuzz.h - what the libFuzzer targets in t/fuzz share: a running digest
 * of the decoded output, so that two feedings of one input can be
 * compared without keeping what they decoded, and the irregular piece
 * sizes of the feeding in pieces.
 */
#ifndef DF2REDIS_FUZZ_H
#define DF2REDIS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* two independent digests: FNV-1a and a multiply-xorshift */
struct digest {
	uint64_t	 h1, h2;
};

static inline void
dg_init(struct digest *d)
{
	d->h1 = 0xcbf29ce484222325ULL;
	d->h2 = 0;
}

static inline void
mix(struct digest *d, const void *v, size_t n)
{
	const unsigned char *p = v;
	size_t i;

	for (i = 0; i < n; i++) {
		d->h1 = (d->h1 ^ p[i]) * 0x100000001b3ULL;
		d->h2 = (d->h2 + p[i] + 1) * 0x9e3779b97f4a7c15ULL;
		d->h2 ^= d->h2 >> 29;
	}
}

static inline void
mixu(struct digest *d, uint64_t v)
{
	mix(d, &v, sizeof(v));
}

static inline int
dg_equal(const struct digest *a, const struct digest *b)
{
	return a->h1 == b->h1 && a->h2 == b->h2;
}

/* Piece sizes 1..13, irregular, the same for every run of one input. */
static inline size_t
next_piece(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return 1 + (*state >> 16) % 13;
}

/* The entry point libFuzzer calls, defined by each target. */
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
