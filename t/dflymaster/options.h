/*
 * options.h - the command line of the test master, parsed once at start
 * and read-only afterwards.
 */
#ifndef DFLYMASTER_OPTIONS_H
#define DFLYMASTER_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

enum compression { COMP_NONE, COMP_LZ4, COMP_ZSTD };

struct fault {
	int	 flow;		/* -1: unset */
	uint64_t at;		/* byte offset in the flow's data stream */
};

struct options {
	int		 port;
	int		 shards;
	const char	*requirepass;
	const char	*user;
	const char	*user_commands;	/* comma list the user may run; NULL all */
	int		 tls_port;	/* -1: no TLS listener */
	const char	*tls_cert;
	const char	*tls_key;
	const char	*tls_ca;	/* clients must show a cert it signed */
	size_t		 chunk_size;	/* --chunk-size, snapshot.md 8 */
	enum compression compression;
	int64_t		 backlog_ms;	/* replication.md 7.1 */
	size_t		 backlog_records;
	size_t		 output_limit;	/* pending flow bytes that pause a snapshot */
	int64_t		 repl_timeout_ms;
	const char	*replay_dir;
	char		 master_id[41];
	struct fault	 fault_close;
	struct fault	 fault_stall;
	struct fault	 fault_flip;
	int		 fault_once;	/* faults hit the first full sync only */
	int		 fault_bad_lsn;	/* flow whose LSN entries lie, -1 */
	int		 fault_bad_opcode; /* flow whose first record lies */
	int		 refuse_partial;
	int		 startstable_error;	/* one -ERR invalid state */
	int		 snapshot_slow_us;	/* pause between snapshot steps */
	int		 lsn_interval_ms;	/* replication.md 5: ~3 s */
};

void			 options_parse(int, char **);	/* exits on errors */
const struct options	*options(void);

#endif
