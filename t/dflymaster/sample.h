/*
 * sample.h - DFLYMASTER LOAD-SAMPLE: a dataset holding every type and
 * encoding the snapshot writer can produce (snapshot.md 6.0).
 */
#ifndef DFLYMASTER_SAMPLE_H
#define DFLYMASTER_SAMPLE_H

void	 sample_load(void);

#endif
