/*
 * clock.h - the two clocks, named for what they measure.
 *
 * mono_ms() for timeouts, deadlines and intervals: it never jumps.
 * wall_ms() for what is compared with the master's clock or shown to
 * people: key expiry times, checkpoint times, log stamps.
 */
#ifndef DF2REDIS_CLOCK_H
#define DF2REDIS_CLOCK_H

#include <stdint.h>

int64_t	mono_ms(void);
/* For durations shorter than a millisecond (latency histograms). */
int64_t	mono_us(void);
int64_t	wall_ms(void);

#endif
