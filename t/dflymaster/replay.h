/*
 * replay.h - --replay DIR: serve a recording of a real Dragonfly master
 * byte for byte instead of the model.
 */
#ifndef DFLYMASTER_REPLAY_H
#define DFLYMASTER_REPLAY_H

#include <stddef.h>

struct client;

int	 replay_load(const char *);
void	 replay_command(struct client *, size_t, char **, size_t *);
void	 replay_closed(struct client *);

#endif
