/*
 * options.c - the command line of the test master, parsed once at start;
 * the rest of the master reads it through options().
 */

#include <err.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "dflymaster.h"
#include "options.h"

static struct options	opt;

const struct options *
options(void)
{
	return &opt;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: dflymaster --port PORT --shards N [options]\n"
"A stand-in for a Dragonfly v1.40 master: speaks Dragonfly replication\n"
"(handshake, DFLY FLOW/SYNC/STARTSTABLE/TAKEOVER, full sync, journal) on\n"
"127.0.0.1 and serves plain Redis clients.  Prints \"ready <port>\" when\n"
"listening.  A key lives in shard crc64(key) mod N (Redis's CRC-64/Jones).\n"
"\n"
"  --port PORT               listen port (0: pick one, printed in \"ready\")\n"
"  --shards N                number of shards = flows (1..64, default 4)\n"
"  --requirepass P           require AUTH P (or AUTH USER P)\n"
"  --user U                  user name accepted by AUTH U P (default: default)\n"
"  --user-commands LIST      the only commands (comma separated, lower case)\n"
"                            a client may run: others get -NOPERM (an ACL)\n"
"  --tls-port PORT           also listen with TLS on PORT (Dragonfly --tls);\n"
"                            the same protocol.  Needs --tls-cert, --tls-key\n"
"  --tls-cert FILE, --tls-key FILE  the server's certificate and key\n"
"  --tls-ca FILE             require a client certificate signed by FILE\n"
"  --chunk-size BYTES        split values bigger than this into tagged chunks\n"
"                            (serialization_max_chunk_size, default 65536;\n"
"                            0 disables splitting)\n"
"  --compression none|lz4|zstd  compress flushed snapshot buffers (default lz4)\n"
"  --backlog-ms MS           partial-sync journal window (default 5000)\n"
"  --backlog-records N       journal records kept per shard (default 100000)\n"
"  --output-limit BYTES      pending bytes on a flow that pause its snapshot and\n"
"                            throttle writers in stable sync (default 1048576)\n"
"  --replication-timeout MS  cancel a session whose flow does not drain for\n"
"                            this long (default 30000)\n"
"  --lsn-interval-ms MS      LSN entries on stable flows at most every MS\n"
"                            (default 3000)\n"
"  --snapshot-delay-us US    sleep between snapshot steps (slow full syncs for\n"
"                            tests that write during a full sync)\n"
"  --master-id HEX40         use this replication id (default: random)\n"
"  --new-master-id           pick a fresh random replication id (the default)\n"
"  --replay DIR              serve a dragonfly-captures/<name>/ recording\n"
"                            byte for byte instead of a keyspace\n"
"Fault switches (I = flow index, K = byte offset in the flow's data stream,\n"
"i.e. the bytes after the DFLY FLOW reply):\n"
"  --fault-close-flow I:K    close flow I after K bytes\n"
"  --fault-stall-flow I:K    stop writing flow I after K bytes, keep it open\n"
"  --fault-flip-byte I:K     flip the low bit of byte K of flow I\n"
"  --fault-bad-opcode I      the first stable-sync journal record of flow I\n"
"                            goes out with opcode 0x21, which no journal has\n"
"  --fault-bad-lsn I         LSN entries on flow I carry one more than the\n"
"                            LSN of the record before them\n"
"  --refuse-partial          always answer FULL to DFLY FLOW ... <lsn>\n"
"  --fault-startstable-error answer the first DFLY STARTSTABLE with\n"
"                            -ERR invalid state\n"
"  --fault-once              the --fault-* switches hit only the first session\n"
"                            that starts a full sync (DFLY SYNC); partial-sync\n"
"                            sessions and every later session are clean, so a\n"
"                            replica's retry after the fault must end with a\n"
"                            correct copy (--refuse-partial is not a fault and\n"
"                            stays in force).  DFLYMASTER STATS counts the\n"
"                            faults that took effect (faults:N)\n"
"DEBUG POPULATE N [PREFIX [SIZE]] adds PREFIX:i = \"value:i\" padded with 'x' to\n"
"SIZE, skipping existing keys.  Unlike Dragonfly, which does not replicate it,\n"
"every key it adds is journaled as SET k v (txid 0), so keys populated during a\n"
"full or stable sync reach the replica.\n"
"Test hook: DFLY STARTSTABLE before every flow's FULLSYNC_END was written to\n"
"its socket prints \"BARRIER VIOLATION\" on stderr and exits with status 3.\n"
"DFLYMASTER FLOWS lists each stable flow's shard LSN and last ACK, and counts\n"
"ACKs not of exactly three tokens (bad_acks) and ACKs past the shard's next\n"
"LSN (acks_ahead).\n");
}

static void
parse_fault(struct fault *f, const char *arg)
{
	const char	*errstr;
	char		*colon, buf[64];

	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf) ||
	    (colon = strchr(buf, ':')) == NULL)
		errx(1, "fault wants I:K, got %s", arg);
	*colon = '\0';
	f->flow = (int)strtonum(buf, 0, MAX_SHARDS - 1, &errstr);
	if (errstr)
		errx(1, "fault flow %s: %s", buf, errstr);
	f->at = (uint64_t)strtonum(colon + 1, 0, LLONG_MAX, &errstr);
	if (errstr)
		errx(1, "fault offset %s: %s", colon + 1, errstr);
}

static long long
num_arg(const char *name, const char *arg, long long lo, long long hi)
{
	const char	*errstr;
	long long	 v = strtonum(arg, lo, hi, &errstr);

	if (errstr)
		errx(1, "%s %s: %s", name, arg, errstr);
	return v;
}

void
options_parse(int argc, char **argv)
{
	enum { O_PORT = 256, O_SHARDS, O_PASS, O_USER, O_CHUNK, O_COMP,
	    O_BLMS, O_BLREC, O_OLIM, O_RTO, O_LSNI, O_DELAY, O_MID, O_NEWMID,
	    O_REPLAY, O_FCLOSE, O_FSTALL, O_FFLIP, O_REFUSE, O_FSS, O_FONCE,
	    O_FBADLSN, O_FBADOP, O_UCMDS, O_TLSPORT, O_TLSCERT, O_TLSKEY,
	    O_TLSCA, O_HELP };
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, O_PORT },
		{ "shards", required_argument, NULL, O_SHARDS },
		{ "requirepass", required_argument, NULL, O_PASS },
		{ "user", required_argument, NULL, O_USER },
		{ "user-commands", required_argument, NULL, O_UCMDS },
		{ "tls-port", required_argument, NULL, O_TLSPORT },
		{ "tls-cert", required_argument, NULL, O_TLSCERT },
		{ "tls-key", required_argument, NULL, O_TLSKEY },
		{ "tls-ca", required_argument, NULL, O_TLSCA },
		{ "chunk-size", required_argument, NULL, O_CHUNK },
		{ "compression", required_argument, NULL, O_COMP },
		{ "backlog-ms", required_argument, NULL, O_BLMS },
		{ "backlog-records", required_argument, NULL, O_BLREC },
		{ "output-limit", required_argument, NULL, O_OLIM },
		{ "replication-timeout", required_argument, NULL, O_RTO },
		{ "lsn-interval-ms", required_argument, NULL, O_LSNI },
		{ "snapshot-delay-us", required_argument, NULL, O_DELAY },
		{ "master-id", required_argument, NULL, O_MID },
		{ "new-master-id", no_argument, NULL, O_NEWMID },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "fault-close-flow", required_argument, NULL, O_FCLOSE },
		{ "fault-stall-flow", required_argument, NULL, O_FSTALL },
		{ "fault-flip-byte", required_argument, NULL, O_FFLIP },
		{ "fault-bad-lsn", required_argument, NULL, O_FBADLSN },
		{ "fault-bad-opcode", required_argument, NULL, O_FBADOP },
		{ "refuse-partial", no_argument, NULL, O_REFUSE },
		{ "fault-startstable-error", no_argument, NULL, O_FSS },
		{ "fault-once", no_argument, NULL, O_FONCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch, i;

	opt.port = -1;
	opt.tls_port = -1;
	opt.shards = 4;
	opt.chunk_size = 65536;
	opt.compression = COMP_LZ4;
	opt.backlog_ms = 5000;
	opt.backlog_records = 100000;
	opt.output_limit = 1024 * 1024;
	opt.repl_timeout_ms = 30000;
	opt.lsn_interval_ms = 3000;
	opt.fault_close.flow = opt.fault_stall.flow = opt.fault_flip.flow = -1;
	opt.fault_bad_lsn = opt.fault_bad_opcode = -1;
	random_hex(opt.master_id, 40);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_PORT:
			opt.port = (int)num_arg("--port", optarg, 0, 65535);
			break;
		case O_SHARDS:
			opt.shards = (int)num_arg("--shards", optarg, 1,
			    MAX_SHARDS);
			break;
		case O_PASS:
			opt.requirepass = optarg;
			break;
		case O_USER:
			opt.user = optarg;
			break;
		case O_UCMDS:
			opt.user_commands = optarg;
			break;
		case O_TLSPORT:
			opt.tls_port = (int)num_arg("--tls-port", optarg, 0,
			    65535);
			break;
		case O_TLSCERT:
			opt.tls_cert = optarg;
			break;
		case O_TLSKEY:
			opt.tls_key = optarg;
			break;
		case O_TLSCA:
			opt.tls_ca = optarg;
			break;
		case O_CHUNK:
			opt.chunk_size = (size_t)num_arg("--chunk-size",
			    optarg, 0, 1LL << 30);
			break;
		case O_COMP:
			if (strcmp(optarg, "none") == 0)
				opt.compression = COMP_NONE;
			else if (strcmp(optarg, "lz4") == 0)
				opt.compression = COMP_LZ4;
			else if (strcmp(optarg, "zstd") == 0)
				opt.compression = COMP_ZSTD;
			else
				errx(1, "--compression: none, lz4 or zstd");
			break;
		case O_BLMS:
			opt.backlog_ms = num_arg("--backlog-ms", optarg, 0,
			    LLONG_MAX / 2);
			break;
		case O_BLREC:
			opt.backlog_records = (size_t)num_arg(
			    "--backlog-records", optarg, 0, 1LL << 30);
			break;
		case O_OLIM:
			opt.output_limit = (size_t)num_arg("--output-limit",
			    optarg, 1, 1LL << 40);
			break;
		case O_RTO:
			opt.repl_timeout_ms = num_arg("--replication-timeout",
			    optarg, 1, LLONG_MAX / 2);
			break;
		case O_LSNI:
			opt.lsn_interval_ms = (int)num_arg("--lsn-interval-ms",
			    optarg, 0, INT32_MAX);
			break;
		case O_DELAY:
			opt.snapshot_slow_us = (int)num_arg(
			    "--snapshot-delay-us", optarg, 0, 1000000);
			break;
		case O_MID:
			if (strlen(optarg) != 40)
				errx(1, "--master-id wants 40 hex digits");
			for (i = 0; i < 40; i++)
				if (!strchr("0123456789abcdef", optarg[i]))
					errx(1, "--master-id wants lowercase "
					    "hex");
			strlcpy(opt.master_id, optarg, sizeof(opt.master_id));
			break;
		case O_NEWMID:
			random_hex(opt.master_id, 40);
			break;
		case O_REPLAY:
			opt.replay_dir = optarg;
			break;
		case O_FCLOSE:
			parse_fault(&opt.fault_close, optarg);
			break;
		case O_FSTALL:
			parse_fault(&opt.fault_stall, optarg);
			break;
		case O_FFLIP:
			parse_fault(&opt.fault_flip, optarg);
			break;
		case O_FBADLSN:
			opt.fault_bad_lsn = (int)num_arg("--fault-bad-lsn",
			    optarg, 0, MAX_SHARDS - 1);
			break;
		case O_FBADOP:
			opt.fault_bad_opcode = (int)num_arg("--fault-bad-opcode",
			    optarg, 0, MAX_SHARDS - 1);
			break;
		case O_REFUSE:
			opt.refuse_partial = 1;
			break;
		case O_FSS:
			opt.startstable_error = 1;
			break;
		case O_FONCE:
			opt.fault_once = 1;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind != argc || opt.port < 0) {
		usage(stderr);
		exit(1);
	}
	if (opt.tls_port >= 0 && (opt.tls_cert == NULL || opt.tls_key == NULL))
		errx(1, "--tls-port needs --tls-cert and --tls-key");
}
