/*
 * errmap.h - kinds (error.h) for the errors of modules that still report
 * them as text or as their own codes: the target channel's and the
 * temporary-key cleanup's messages, dfly's DFLY_ERR/DFLY_EFATAL, the
 * writer's writer_error_kind().  This is the one place where the process
 * side (worker, supervisor) turns them into a kind; each function goes
 * when its module fills a struct error itself.
 */
#ifndef DF2REDIS_ERRMAP_H
#define DF2REDIS_ERRMAP_H

#include "error.h"

/*
 * A message of target_open() or writer_cleanup(): a refused password
 * (ERR_AUTH) and a db a cluster cannot have (ERR_CONFIG) fail the same way
 * on every attempt; an unreachable or loading target may come back.
 */
enum err_kind	errmap_target(const char *msg);

#endif
