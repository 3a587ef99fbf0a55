//! The registry of settings: one static [`GucDef`] per parameter, with PostgreSQL's
//! names, types, units, limits, boot values, contexts and categories.
//!
//! Corresponds to PostgreSQL's `src/backend/utils/misc/guc_tables.c`. Boot values are
//! written as PostgreSQL input text in the setting's *base* unit (`shared_buffers` is
//! `"16384"` 8kB blocks) and parsed once when the registry is built, through the same
//! parser `SET` uses, so a typo here fails the `every_boot_value_parses` test.
//! Lookup is case-insensitive, as in PostgreSQL (`datestyle` finds `DateStyle`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Who may change a setting, and when (pg_settings.context).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    Internal,
    Postmaster,
    Sighup,
    SuBackend,
    Backend,
    Superuser,
    User,
}

impl Context {
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Internal => "internal",
            Context::Postmaster => "postmaster",
            Context::Sighup => "sighup",
            Context::SuBackend => "superuser-backend",
            Context::Backend => "backend",
            Context::Superuser => "superuser",
            Context::User => "user",
        }
    }
}

/// The base unit an integer or real setting is stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    None,
    Byte,
    Kb,
    /// 8kB pages (`shared_buffers`, `wal_buffers`).
    Blocks,
    Mb,
    Ms,
    S,
    Min,
}

impl Unit {
    /// The pg_settings `unit` column.
    pub fn pg_name(self) -> Option<&'static str> {
        match self {
            Unit::None => None,
            Unit::Byte => Some("B"),
            Unit::Kb => Some("kB"),
            Unit::Blocks => Some("8kB"),
            Unit::Mb => Some("MB"),
            Unit::Ms => Some("ms"),
            Unit::S => Some("s"),
            Unit::Min => Some("min"),
        }
    }

    pub fn is_memory(self) -> bool {
        matches!(self, Unit::Byte | Unit::Kb | Unit::Blocks | Unit::Mb)
    }

    pub fn is_time(self) -> bool {
        matches!(self, Unit::Ms | Unit::S | Unit::Min)
    }

    /// Size of one base unit, in bytes (memory) or milliseconds (time).
    pub fn base_size(self) -> f64 {
        match self {
            Unit::None => 1.0,
            Unit::Byte => 1.0,
            Unit::Kb => 1024.0,
            Unit::Blocks => 8192.0,
            Unit::Mb => 1024.0 * 1024.0,
            Unit::Ms => 1.0,
            Unit::S => 1000.0,
            Unit::Min => 60_000.0,
        }
    }
}

/// The type of a setting's value, with its limits or allowed values.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    Real {
        min: f64,
        max: f64,
    },
    Str,
    /// `values` are the canonical (shown) names; `aliases` are hidden spellings that
    /// map onto one of them (`synchronous_commit = true` means `on`).
    Enum {
        values: &'static [&'static str],
        aliases: &'static [(&'static str, &'static str)],
    },
}

impl Kind {
    /// The pg_settings `vartype` column.
    pub fn vartype(&self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int { .. } => "integer",
            Kind::Real { .. } => "real",
            Kind::Str => "string",
            Kind::Enum { .. } => "enum",
        }
    }
}

/// Flag: changes are sent to the client in ParameterStatus (GUC_REPORT).
pub const REPORT: u16 = 1;
/// Flag: `RESET ALL` leaves it alone (GUC_NO_RESET_ALL).
pub const NO_RESET_ALL: u16 = 2;
/// Flag: left out of `SHOW ALL` (GUC_NO_SHOW_ALL).
pub const NO_SHOW_ALL: u16 = 4;
/// Flag: shown in octal, like PostgreSQL's show hooks for file modes.
pub const OCTAL: u16 = 8;
/// Flag: cannot be set in postgresql.conf (GUC_DISALLOW_IN_FILE).
pub const NOT_IN_FILE: u16 = 16;

/// One setting's static definition.
#[derive(Debug)]
pub struct GucDef {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    /// Boot value as input text in the base unit.
    pub boot: &'static str,
    pub context: Context,
    pub category: &'static str,
    pub desc: &'static str,
    pub flags: u16,
}

impl GucDef {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    const fn with(mut self, flags: u16) -> GucDef {
        self.flags |= flags;
        self
    }

    const fn unit(mut self, unit: Unit) -> GucDef {
        self.unit = unit;
        self
    }
}

const fn def(
    name: &'static str,
    kind: Kind,
    context: Context,
    category: &'static str,
    boot: &'static str,
    desc: &'static str,
) -> GucDef {
    GucDef {
        name,
        kind,
        unit: Unit::None,
        boot,
        context,
        category,
        desc,
        flags: 0,
    }
}

const fn b(
    n: &'static str,
    c: Context,
    g: &'static str,
    boot: &'static str,
    d: &'static str,
) -> GucDef {
    def(n, Kind::Bool, c, g, boot, d)
}

#[allow(clippy::too_many_arguments)]
const fn i(
    n: &'static str,
    c: Context,
    g: &'static str,
    boot: &'static str,
    min: i64,
    max: i64,
    d: &'static str,
) -> GucDef {
    def(n, Kind::Int { min, max }, c, g, boot, d)
}

const fn r(
    n: &'static str,
    c: Context,
    g: &'static str,
    boot: &'static str,
    min: f64,
    max: f64,
    d: &'static str,
) -> GucDef {
    def(n, Kind::Real { min, max }, c, g, boot, d)
}

const fn s(
    n: &'static str,
    c: Context,
    g: &'static str,
    boot: &'static str,
    d: &'static str,
) -> GucDef {
    def(n, Kind::Str, c, g, boot, d)
}

const fn e(
    n: &'static str,
    c: Context,
    g: &'static str,
    boot: &'static str,
    values: &'static [&'static str],
    d: &'static str,
) -> GucDef {
    def(
        n,
        Kind::Enum {
            values,
            aliases: &[],
        },
        c,
        g,
        boot,
        d,
    )
}

const fn ea(
    n: &'static str,
    c: Context,
    g: &'static str,
    boot: &'static str,
    values: &'static [&'static str],
    aliases: &'static [(&'static str, &'static str)],
    d: &'static str,
) -> GucDef {
    def(n, Kind::Enum { values, aliases }, c, g, boot, d)
}

const INT_MAX: i64 = i32::MAX as i64;
/// PostgreSQL's MAX_KILOBYTES on 64-bit platforms.
const MAX_KB: i64 = INT_MAX / 1024;
/// PostgreSQL's MAX_BACKENDS.
const MAX_BACKENDS: i64 = 262_143;

const BOOL_ALIASES: &[(&str, &str)] = &[
    ("true", "on"),
    ("false", "off"),
    ("yes", "on"),
    ("no", "off"),
    ("1", "on"),
    ("0", "off"),
];
const LOG_LEVELS: &[&str] = &[
    "debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log",
    "fatal", "panic",
];
const CLIENT_LEVELS: &[&str] = &[
    "debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error",
];
const ISOLATION: &[&str] = &[
    "serializable",
    "repeatable read",
    "read committed",
    "read uncommitted",
];

// Categories, as PostgreSQL's config_group_names spells them.
const CONN: &str = "Connections and Authentication / Connection Settings";
const AUTH: &str = "Connections and Authentication / Authentication";
const SSL: &str = "Connections and Authentication / SSL";
const MEM: &str = "Resource Usage / Memory";
const KERNEL: &str = "Resource Usage / Kernel Resources";
const BGWRITER: &str = "Resource Usage / Background Writer";
const ASYNC: &str = "Resource Usage / Asynchronous Behavior";
const WAL: &str = "Write-Ahead Log / Settings";
const CKPT: &str = "Write-Ahead Log / Checkpoints";
const ARCHIVE: &str = "Write-Ahead Log / Archiving";
const RECOVERY: &str = "Write-Ahead Log / Archive Recovery";
const RECOVERY_TARGET: &str = "Write-Ahead Log / Recovery Target";
const REPL_SEND: &str = "Replication / Sending Servers";
const REPL_PRIMARY: &str = "Replication / Primary Server";
const REPL_STANDBY: &str = "Replication / Standby Servers";
const REPL_SUB: &str = "Replication / Subscribers";
const PLANNER: &str = "Query Tuning / Planner Method Configuration";
const COST: &str = "Query Tuning / Planner Cost Constants";
const PLANNER_OTHER: &str = "Query Tuning / Other Planner Options";
const LOG_WHERE: &str = "Reporting and Logging / Where to Log";
const LOG_WHEN: &str = "Reporting and Logging / When to Log";
const LOG_WHAT: &str = "Reporting and Logging / What to Log";
const TITLE: &str = "Reporting and Logging / Process Title";
const MONITOR: &str = "Statistics / Cumulative Query and Index Statistics";
const AUTOVAC: &str = "Autovacuum";
const STMT: &str = "Client Connection Defaults / Statement Behavior";
const LOCALE: &str = "Client Connection Defaults / Locale and Formatting";
const PRELOAD: &str = "Client Connection Defaults / Shared Library Preloading";
const LOCKS: &str = "Lock Management";
const COMPAT: &str = "Version and Platform Compatibility / Previous PostgreSQL Versions";
const ERRORS: &str = "Error Handling";
const PRESET: &str = "Preset Options";
const FILES: &str = "File Locations";
const DEVEL: &str = "Developer Options";
const UNGROUPED: &str = "Ungrouped";

use Context::{Backend, Internal, Postmaster, Sighup, SuBackend, Superuser, User};

/// Every setting tandem knows. Order does not matter; [`registry`] sorts.
static GUCS: &[GucDef] = &[
    // --- Connections and authentication
    s("listen_addresses", Postmaster, CONN, "localhost", "Sets the host name or IP address(es) to listen to."),
    i("port", Postmaster, CONN, "5432", 1, 65535, "Sets the TCP port the server listens on."),
    i("max_connections", Postmaster, CONN, "100", 1, MAX_BACKENDS, "Sets the maximum number of concurrent connections."),
    i("superuser_reserved_connections", Postmaster, CONN, "3", 0, MAX_BACKENDS, "Sets the number of connection slots reserved for superusers."),
    i("reserved_connections", Postmaster, CONN, "0", 0, MAX_BACKENDS, "Sets the number of connection slots reserved for roles with privileges of pg_use_reserved_connections."),
    s("unix_socket_directories", Postmaster, CONN, "/tmp", "Sets the directories where Unix-domain sockets will be created."),
    s("unix_socket_group", Postmaster, CONN, "", "Sets the owning group of the Unix-domain socket."),
    i("unix_socket_permissions", Postmaster, CONN, "0777", 0, 0o777, "Sets the access permissions of the Unix-domain socket.").with(OCTAL),
    i("authentication_timeout", Sighup, AUTH, "60", 1, 600, "Sets the maximum allowed time to complete client authentication.").unit(Unit::S),
    e("password_encryption", User, AUTH, "scram-sha-256", &["md5", "scram-sha-256"], "Chooses the algorithm for encrypting passwords."),
    i("scram_iterations", User, AUTH, "4096", 1, INT_MAX, "Sets the iteration count for SCRAM secret generation.").with(REPORT),
    b("ssl", Sighup, SSL, "off", "Enables SSL connections."),
    s("ssl_cert_file", Sighup, SSL, "server.crt", "Location of the SSL server certificate file."),
    s("ssl_key_file", Sighup, SSL, "server.key", "Location of the SSL server private key file."),
    s("ssl_ca_file", Sighup, SSL, "", "Location of the SSL certificate authority file."),
    s("ssl_crl_file", Sighup, SSL, "", "Location of the SSL certificate revocation list file."),
    s("ssl_ciphers", Sighup, SSL, "HIGH:MEDIUM:+3DES:!aNULL", "Sets the list of allowed SSL ciphers."),
    e("ssl_min_protocol_version", Sighup, SSL, "TLSv1.2", &["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"], "Sets the minimum SSL/TLS protocol version to use."),
    // --- Resource usage
    i("shared_buffers", Postmaster, MEM, "16384", 16, INT_MAX / 2, "Sets the number of shared memory buffers used by the server.").unit(Unit::Blocks),
    i("temp_buffers", User, MEM, "1024", 100, INT_MAX / 2, "Sets the maximum number of temporary buffers used by each session.").unit(Unit::Blocks),
    i("work_mem", User, MEM, "4096", 64, MAX_KB, "Sets the maximum memory to be used for query workspaces.").unit(Unit::Kb),
    i("maintenance_work_mem", User, MEM, "65536", 1024, MAX_KB, "Sets the maximum memory to be used for maintenance operations.").unit(Unit::Kb),
    i("max_stack_depth", Superuser, MEM, "2048", 100, MAX_KB, "Sets the maximum stack depth, in kilobytes.").unit(Unit::Kb),
    i("max_prepared_transactions", Postmaster, MEM, "0", 0, MAX_BACKENDS, "Sets the maximum number of simultaneously prepared transactions."),
    e("huge_pages", Postmaster, MEM, "try", &["off", "on", "try"], "Use of huge pages on Linux or Windows."),
    i("max_files_per_process", Postmaster, KERNEL, "1000", 64, INT_MAX, "Sets the maximum number of simultaneously open files for each server process."),
    i("bgwriter_delay", Sighup, BGWRITER, "200", 10, 10000, "Background writer sleep time between rounds.").unit(Unit::Ms),
    i("max_worker_processes", Postmaster, ASYNC, "8", 0, MAX_BACKENDS, "Maximum number of concurrent worker processes."),
    i("max_parallel_workers_per_gather", User, ASYNC, "2", 0, 1024, "Sets the maximum number of parallel processes per executor node."),
    i("max_parallel_workers", User, ASYNC, "8", 0, 1024, "Sets the maximum number of parallel workers that can be active at one time."),
    i("effective_io_concurrency", User, ASYNC, "1", 0, 1000, "Number of simultaneous requests that can be handled efficiently by the disk subsystem."),
    // --- Write-ahead log
    ea("wal_level", Postmaster, WAL, "replica", &["minimal", "replica", "logical"], &[("archive", "replica"), ("hot_standby", "replica")], "Sets the level of information written to the WAL."),
    b("fsync", Sighup, WAL, "on", "Forces synchronization of updates to disk."),
    ea("synchronous_commit", User, WAL, "on", &["local", "remote_write", "remote_apply", "on", "off"], BOOL_ALIASES, "Sets the current transaction's synchronization level."),
    e("wal_sync_method", Sighup, WAL, "fdatasync", &["fsync", "fdatasync", "open_sync", "open_datasync"], "Selects the method used for forcing WAL updates to disk."),
    b("full_page_writes", Sighup, WAL, "on", "Writes full pages to WAL when first modified after a checkpoint."),
    b("wal_log_hints", Postmaster, WAL, "off", "Writes full pages to WAL when first modified after a checkpoint, even for a non-critical modification."),
    ea("wal_compression", Superuser, WAL, "off", &["pglz", "lz4", "zstd", "on", "off"], BOOL_ALIASES, "Set the method used to compress full page images in the WAL."),
    i("wal_buffers", Postmaster, WAL, "-1", -1, INT_MAX / 8192, "Sets the number of disk-page buffers in shared memory for WAL.").unit(Unit::Blocks),
    i("wal_writer_delay", Sighup, WAL, "200", 1, 10000, "Time between WAL flushes performed in the WAL writer.").unit(Unit::Ms),
    i("wal_writer_flush_after", Sighup, WAL, "128", 0, INT_MAX, "Amount of WAL written out by WAL writer that triggers a flush.").unit(Unit::Blocks),
    i("wal_skip_threshold", User, WAL, "2048", 0, MAX_KB, "Minimum size of new file to fsync instead of writing WAL.").unit(Unit::Kb),
    i("commit_delay", Superuser, WAL, "0", 0, 100000, "Sets the delay in microseconds between transaction commit and flushing WAL to disk."),
    i("commit_siblings", User, WAL, "5", 0, 1000, "Sets the minimum number of concurrent open transactions required before performing \"commit_delay\"."),
    i("checkpoint_timeout", Sighup, CKPT, "300", 30, 86400, "Sets the maximum time between automatic WAL checkpoints.").unit(Unit::S),
    r("checkpoint_completion_target", Sighup, CKPT, "0.9", 0.0, 1.0, "Time spent flushing dirty buffers during checkpoint, as fraction of checkpoint interval."),
    i("checkpoint_flush_after", Sighup, CKPT, "32", 0, 256, "Number of pages after which previously performed writes are flushed to disk.").unit(Unit::Blocks),
    i("checkpoint_warning", Sighup, CKPT, "30", 0, INT_MAX, "Sets the maximum time before warning if checkpoints triggered by WAL volume happen too frequently.").unit(Unit::S),
    i("max_wal_size", Sighup, CKPT, "1024", 2, MAX_KB, "Sets the WAL size that triggers a checkpoint.").unit(Unit::Mb),
    i("min_wal_size", Sighup, CKPT, "80", 2, MAX_KB, "Sets the minimum size to shrink the WAL to.").unit(Unit::Mb),
    ea("archive_mode", Postmaster, ARCHIVE, "off", &["always", "on", "off"], BOOL_ALIASES, "Allows archiving of WAL files using \"archive_command\"."),
    s("archive_command", Sighup, ARCHIVE, "", "Sets the shell command that will be called to archive a WAL file."),
    i("archive_timeout", Sighup, ARCHIVE, "0", 0, INT_MAX / 2, "Sets the amount of time to wait before forcing a switch to the next WAL file.").unit(Unit::S),
    s("restore_command", Sighup, RECOVERY, "", "Sets the shell command that will be called to retrieve an archived WAL file."),
    s("recovery_target_timeline", Postmaster, RECOVERY_TARGET, "latest", "Specifies the timeline to recover into."),
    // --- Replication
    i("max_wal_senders", Postmaster, REPL_SEND, "10", 0, MAX_BACKENDS, "Sets the maximum number of simultaneously running WAL sender processes."),
    i("max_replication_slots", Postmaster, REPL_SEND, "10", 0, MAX_BACKENDS, "Sets the maximum number of simultaneously defined replication slots."),
    i("wal_keep_size", Sighup, REPL_SEND, "0", 0, MAX_KB, "Sets the size of WAL files held for standby servers.").unit(Unit::Mb),
    i("max_slot_wal_keep_size", Sighup, REPL_SEND, "-1", -1, MAX_KB, "Sets the maximum WAL size that can be reserved by replication slots.").unit(Unit::Mb),
    i("wal_sender_timeout", User, REPL_SEND, "60000", 0, INT_MAX, "Sets the maximum time to wait for WAL replication.").unit(Unit::Ms),
    b("track_commit_timestamp", Postmaster, REPL_SEND, "off", "Collects transaction commit time."),
    s("output_plugin_libraries", Superuser, REPL_SEND, "pgoutput, test_decoding", "Lists libraries that may be named as logical decoding output plugins."),
    s("synchronous_standby_names", Sighup, REPL_PRIMARY, "", "Number of synchronous standbys and list of names of potential synchronous ones."),
    s("synchronized_standby_slots", Sighup, REPL_PRIMARY, "", "Lists streaming replication standby server replication slot names that logical WAL sender processes will wait for."),
    s("primary_conninfo", Sighup, REPL_STANDBY, "", "Sets the connection string to be used to connect to the sending server."),
    s("primary_slot_name", Sighup, REPL_STANDBY, "", "Sets the name of the replication slot to use on the sending server."),
    b("hot_standby", Postmaster, REPL_STANDBY, "on", "Allows connections and queries during recovery."),
    b("hot_standby_feedback", Sighup, REPL_STANDBY, "off", "Allows feedback from a hot standby to the primary that will avoid query conflicts."),
    i("max_standby_streaming_delay", Sighup, REPL_STANDBY, "30000", -1, INT_MAX, "Sets the maximum delay before canceling queries when a hot standby server is processing streamed WAL data.").unit(Unit::Ms),
    i("wal_receiver_status_interval", Sighup, REPL_STANDBY, "10", 0, INT_MAX / 1000, "Sets the maximum interval between WAL receiver status reports to the sending server.").unit(Unit::S),
    i("wal_receiver_timeout", Sighup, REPL_STANDBY, "60000", 0, INT_MAX, "Sets the maximum wait time to receive data from the sending server.").unit(Unit::Ms),
    i("wal_retrieve_retry_interval", Sighup, REPL_STANDBY, "5000", 1, INT_MAX, "Sets the time to wait before retrying to retrieve WAL after a failed attempt.").unit(Unit::Ms),
    i("recovery_min_apply_delay", Sighup, REPL_STANDBY, "0", 0, INT_MAX, "Sets the minimum delay for applying changes during recovery.").unit(Unit::Ms),
    b("sync_replication_slots", Sighup, REPL_STANDBY, "off", "Enables a physical standby to synchronize logical failover replication slots from the primary server."),
    i("max_logical_replication_workers", Postmaster, REPL_SUB, "4", 0, MAX_BACKENDS, "Maximum number of logical replication worker processes."),
    i("max_sync_workers_per_subscription", Sighup, REPL_SUB, "2", 0, MAX_BACKENDS, "Maximum number of table synchronization workers per subscription."),
    i("max_parallel_apply_workers_per_subscription", Sighup, REPL_SUB, "2", 0, MAX_BACKENDS, "Maximum number of parallel apply workers per subscription."),
    // --- Query tuning
    b("enable_seqscan", User, PLANNER, "on", "Enables the planner's use of sequential-scan plans."),
    b("enable_indexscan", User, PLANNER, "on", "Enables the planner's use of index-scan plans."),
    b("enable_bitmapscan", User, PLANNER, "on", "Enables the planner's use of bitmap-scan plans."),
    b("enable_hashjoin", User, PLANNER, "on", "Enables the planner's use of hash join plans."),
    b("enable_mergejoin", User, PLANNER, "on", "Enables the planner's use of merge join plans."),
    b("enable_nestloop", User, PLANNER, "on", "Enables the planner's use of nested-loop join plans."),
    b("enable_sort", User, PLANNER, "on", "Enables the planner's use of explicit sort steps."),
    r("seq_page_cost", User, COST, "1", 0.0, f64::MAX, "Sets the planner's estimate of the cost of a sequentially fetched disk page."),
    r("random_page_cost", User, COST, "4", 0.0, f64::MAX, "Sets the planner's estimate of the cost of a nonsequentially fetched disk page."),
    i("effective_cache_size", User, COST, "524288", 1, INT_MAX, "Sets the planner's assumption about the total size of the data caches.").unit(Unit::Blocks),
    i("default_statistics_target", User, PLANNER_OTHER, "100", 1, 10000, "Sets the default statistics target."),
    b("jit", User, PLANNER_OTHER, "off", "Allow JIT compilation."),
    // --- Reporting and logging
    s("log_destination", Sighup, LOG_WHERE, "stderr", "Sets the destination for server log output."),
    b("logging_collector", Postmaster, LOG_WHERE, "off", "Start a subprocess to capture stderr, csvlog and/or jsonlog into log files."),
    s("log_directory", Sighup, LOG_WHERE, "log", "Sets the destination directory for log files."),
    s("log_filename", Sighup, LOG_WHERE, "postgresql-%Y-%m-%d_%H%M%S.log", "Sets the file name pattern for log files."),
    i("log_file_mode", Sighup, LOG_WHERE, "0600", 0, 0o777, "Sets the file permissions for log files.").with(OCTAL),
    i("log_rotation_age", Sighup, LOG_WHERE, "1440", 0, INT_MAX / 60, "Sets the amount of time to wait before forcing log file rotation.").unit(Unit::Min),
    i("log_rotation_size", Sighup, LOG_WHERE, "10240", 0, INT_MAX / 1024, "Sets the maximum size a log file can reach before being rotated.").unit(Unit::Kb),
    e("log_min_messages", Superuser, LOG_WHEN, "warning", LOG_LEVELS, "Sets the message levels that are logged."),
    e("client_min_messages", User, STMT, "notice", CLIENT_LEVELS, "Sets the message levels that are sent to the client."),
    e("log_min_error_statement", Superuser, LOG_WHEN, "error", LOG_LEVELS, "Causes all statements generating error at or above this level to be logged."),
    i("log_min_duration_statement", Superuser, LOG_WHEN, "-1", -1, INT_MAX, "Sets the minimum execution time above which all statements will be logged.").unit(Unit::Ms),
    s("application_name", User, LOG_WHAT, "", "Sets the application name to be reported in statistics and logs.").with(REPORT),
    b("log_checkpoints", Sighup, LOG_WHAT, "on", "Logs each checkpoint."),
    b("log_connections", SuBackend, LOG_WHAT, "off", "Logs each successful connection."),
    b("log_disconnections", SuBackend, LOG_WHAT, "off", "Logs end of a session, including duration."),
    b("log_duration", Superuser, LOG_WHAT, "off", "Logs the duration of each completed SQL statement."),
    e("log_error_verbosity", Superuser, LOG_WHAT, "default", &["terse", "default", "verbose"], "Sets the verbosity of logged messages."),
    b("log_hostname", Sighup, LOG_WHAT, "off", "Logs the host name in the connection logs."),
    s("log_line_prefix", Sighup, LOG_WHAT, "%m [%p] ", "Controls information prefixed to each log line."),
    b("log_lock_waits", Superuser, LOG_WHAT, "off", "Logs long lock waits."),
    b("log_replication_commands", Superuser, LOG_WHAT, "off", "Logs each replication command."),
    e("log_statement", Superuser, LOG_WHAT, "none", &["none", "ddl", "mod", "all"], "Sets the type of statements logged."),
    i("log_temp_files", Superuser, LOG_WHAT, "-1", -1, INT_MAX, "Log the use of temporary files larger than this number of kilobytes.").unit(Unit::Kb),
    s("log_timezone", Sighup, LOG_WHAT, "UTC", "Sets the time zone to use in log messages."),
    s("cluster_name", Postmaster, TITLE, "", "Sets the name of the cluster, which is included in the process title."),
    b("update_process_title", Superuser, TITLE, "on", "Updates the process title to show the active SQL command."),
    // --- Statistics, autovacuum
    b("track_activities", Superuser, MONITOR, "on", "Collects information about executing commands."),
    b("track_counts", Superuser, MONITOR, "on", "Collects statistics on database activity."),
    b("track_io_timing", Superuser, MONITOR, "off", "Collects timing statistics for database I/O activity."),
    e("track_functions", Superuser, MONITOR, "none", &["none", "pl", "all"], "Collects function-level statistics on database activity."),
    b("autovacuum", Sighup, AUTOVAC, "on", "Starts the autovacuum subprocess."),
    i("autovacuum_naptime", Sighup, AUTOVAC, "60", 1, INT_MAX / 1000, "Time to sleep between autovacuum runs.").unit(Unit::S),
    i("autovacuum_max_workers", Postmaster, AUTOVAC, "3", 1, MAX_BACKENDS, "Sets the maximum number of simultaneously running autovacuum worker processes."),
    // --- Client connection defaults
    s("search_path", User, STMT, "\"$user\", public", "Sets the schema search order for names that are not schema-qualified."),
    s("default_tablespace", User, STMT, "", "Sets the default tablespace to create tables and indexes in."),
    e("default_table_access_method", User, STMT, "heap", &["heap"], "Sets the default table access method for new tables."),
    s("temp_tablespaces", User, STMT, "", "Sets the tablespace(s) to use for temporary tables and sort files."),
    b("check_function_bodies", User, STMT, "on", "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE."),
    e("default_transaction_isolation", User, STMT, "read committed", ISOLATION, "Sets the transaction isolation level of each new transaction."),
    b("default_transaction_read_only", User, STMT, "off", "Sets the default read-only status of new transactions.").with(REPORT),
    b("default_transaction_deferrable", User, STMT, "off", "Sets the default deferrable status of new transactions."),
    e("transaction_isolation", User, STMT, "read committed", ISOLATION, "Sets the current transaction's isolation level.").with(NO_RESET_ALL | NOT_IN_FILE),
    b("transaction_read_only", User, STMT, "off", "Sets the current transaction's read-only status.").with(NO_RESET_ALL | NOT_IN_FILE),
    b("transaction_deferrable", User, STMT, "off", "Whether to defer a read-only serializable transaction until it can be executed with no possible serialization failures.").with(NO_RESET_ALL | NOT_IN_FILE),
    e("session_replication_role", Superuser, STMT, "origin", &["origin", "replica", "local"], "Sets the session's behavior for triggers and rewrite rules."),
    i("statement_timeout", User, STMT, "0", 0, INT_MAX, "Sets the maximum allowed duration of any statement.").unit(Unit::Ms),
    i("lock_timeout", User, STMT, "0", 0, INT_MAX, "Sets the maximum allowed duration of any wait for a lock.").unit(Unit::Ms),
    i("idle_in_transaction_session_timeout", User, STMT, "0", 0, INT_MAX, "Sets the maximum allowed idle time between queries, when in a transaction.").unit(Unit::Ms),
    i("idle_session_timeout", User, STMT, "0", 0, INT_MAX, "Sets the maximum allowed idle time between queries, when not in a transaction.").unit(Unit::Ms),
    i("transaction_timeout", User, STMT, "0", 0, INT_MAX, "Sets the maximum allowed duration of any transaction within a session (not a prepared transaction).").unit(Unit::Ms),
    e("bytea_output", User, STMT, "hex", &["escape", "hex"], "Sets the output format for bytea."),
    b("row_security", User, STMT, "on", "Enable row security."),
    s("default_text_search_config", User, LOCALE, "pg_catalog.simple", "Sets default text search configuration."),
    s("client_encoding", User, LOCALE, "UTF8", "Sets the client's character set encoding.").with(REPORT),
    s("DateStyle", User, LOCALE, "ISO, MDY", "Sets the display format for date and time values.").with(REPORT),
    e("IntervalStyle", User, LOCALE, "postgres", &["postgres", "postgres_verbose", "sql_standard", "iso_8601"], "Sets the display format for interval values.").with(REPORT),
    s("TimeZone", User, LOCALE, "UTC", "Sets the time zone for displaying and interpreting time stamps.").with(REPORT),
    s("timezone_abbreviations", User, LOCALE, "Default", "Selects a file of time zone abbreviations."),
    i("extra_float_digits", User, LOCALE, "1", -15, 3, "Sets the number of digits displayed for floating-point values."),
    s("lc_messages", Superuser, LOCALE, "C", "Sets the language in which messages are displayed."),
    s("lc_monetary", User, LOCALE, "C", "Sets the locale for formatting monetary amounts."),
    s("lc_numeric", User, LOCALE, "C", "Sets the locale for formatting numbers."),
    s("lc_time", User, LOCALE, "C", "Sets the locale for formatting date and time values."),
    s("shared_preload_libraries", Postmaster, PRELOAD, "", "Lists shared libraries to preload into server."),
    s("session_preload_libraries", Superuser, PRELOAD, "", "Lists shared libraries to preload into each backend."),
    // --- Locks, compatibility, errors
    i("deadlock_timeout", Superuser, LOCKS, "1000", 1, INT_MAX, "Sets the time to wait on a lock before checking for deadlock.").unit(Unit::Ms),
    i("max_locks_per_transaction", Postmaster, LOCKS, "64", 10, INT_MAX, "Sets the maximum number of locks per transaction."),
    i("max_pred_locks_per_transaction", Postmaster, LOCKS, "64", 10, INT_MAX, "Sets the maximum number of predicate locks per transaction."),
    b("standard_conforming_strings", User, COMPAT, "on", "Causes '...' strings to treat backslashes literally.").with(REPORT),
    b("escape_string_warning", User, COMPAT, "on", "Warn about backslash escapes in ordinary string literals."),
    b("array_nulls", User, COMPAT, "on", "Enable input of NULL elements in arrays."),
    b("quote_all_identifiers", User, COMPAT, "off", "When generating SQL fragments, quote all identifiers."),
    b("exit_on_error", User, ERRORS, "off", "Terminate session on any error."),
    b("restart_after_crash", Sighup, ERRORS, "on", "Reinitialize server after backend crash."),
    // --- Preset (internal) options
    i("block_size", Internal, PRESET, "8192", 8192, 8192, "Shows the size of a disk block."),
    i("wal_block_size", Internal, PRESET, "8192", 8192, 8192, "Shows the block size in the write ahead log."),
    i("segment_size", Internal, PRESET, "131072", 131072, 131072, "Shows the number of pages per disk file.").unit(Unit::Blocks),
    i("wal_segment_size", Internal, PRESET, "16777216", 1_048_576, 1_073_741_824, "Shows the size of write ahead log segments.").unit(Unit::Byte),
    b("data_checksums", Internal, PRESET, "off", "Shows whether data checksums are turned on for this cluster."),
    i("data_directory_mode", Internal, PRESET, "0700", 0, 0o777, "Shows the mode of the data directory.").with(OCTAL),
    b("integer_datetimes", Internal, PRESET, "on", "Shows whether datetimes are integer based.").with(REPORT),
    b("in_hot_standby", Internal, PRESET, "off", "Shows whether hot standby is currently active.").with(REPORT),
    i("max_identifier_length", Internal, PRESET, "63", 63, 63, "Shows the maximum identifier length."),
    i("max_function_args", Internal, PRESET, "100", 100, 100, "Shows the maximum number of function arguments."),
    i("max_index_keys", Internal, PRESET, "32", 32, 32, "Shows the maximum number of index keys."),
    s("server_encoding", Internal, PRESET, "UTF8", "Shows the server (database) character set encoding.").with(REPORT),
    s("server_version", Internal, PRESET, "17.0 (tandem 0.1.0)", "Shows the server version.").with(REPORT),
    i("server_version_num", Internal, PRESET, "170000", 170000, 170000, "Shows the server version as an integer."),
    b("is_superuser", Internal, UNGROUPED, "off", "Shows whether the current user is a superuser.").with(REPORT | NO_SHOW_ALL | NO_RESET_ALL),
    s("session_authorization", User, UNGROUPED, "", "Sets the session user name.").with(REPORT | NO_SHOW_ALL | NO_RESET_ALL | NOT_IN_FILE),
    s("role", User, UNGROUPED, "none", "Sets the current role.").with(NO_SHOW_ALL | NO_RESET_ALL | NOT_IN_FILE),
    // --- File locations (filled in by Config::load)
    s("data_directory", Postmaster, FILES, "", "Sets the server's data directory."),
    s("config_file", Postmaster, FILES, "", "Sets the server's main configuration file.").with(NOT_IN_FILE),
    s("hba_file", Postmaster, FILES, "", "Sets the server's \"hba\" configuration file."),
    s("ident_file", Postmaster, FILES, "", "Sets the server's \"ident\" configuration file."),
    s("external_pid_file", Postmaster, FILES, "", "Writes the postmaster PID to the specified file."),
    // --- Developer options
    b("ignore_system_indexes", Backend, DEVEL, "off", "Disables reading from system indexes."),
    i("post_auth_delay", Backend, DEVEL, "0", 0, INT_MAX / 1_000_000, "Sets the amount of time to wait after authentication on connection startup.").unit(Unit::S),
];

/// Settings known under an earlier name, as `(old, new)`: SET, SHOW,
/// `postgresql.conf` and ALTER SYSTEM accept either (PostgreSQL's
/// `map_old_guc_names`). `standby_slot_names` was renamed before 17.0.
pub const OLD_NAMES: &[(&str, &str)] = &[("standby_slot_names", "synchronized_standby_slots")];

/// The built registry: definitions plus lookup structures.
pub struct Registry {
    pub defs: &'static [GucDef],
    /// Indexes into `defs`, sorted by case-insensitive name (SHOW ALL order).
    pub sorted: Vec<usize>,
    by_name: HashMap<&'static str, usize>,
    by_lower: HashMap<String, usize>,
}

impl Registry {
    /// Finds a setting by name, case-insensitively; an old name
    /// ([`OLD_NAMES`]) finds the setting it was renamed to.
    pub fn find(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.by_name.get(name) {
            return Some(i);
        }
        let lower = name.to_ascii_lowercase();
        if let Some(&i) = self.by_lower.get(&lower) {
            return Some(i);
        }
        let (_, new) = OLD_NAMES.iter().find(|(old, _)| *old == lower)?;
        self.by_lower.get(*new).copied()
    }

    pub fn def(&self, idx: usize) -> &'static GucDef {
        &self.defs[idx]
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }
}

/// The process-wide registry, built on first use.
pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut sorted: Vec<usize> = (0..GUCS.len()).collect();
        sorted.sort_by_key(|&i| GUCS[i].name.to_ascii_lowercase());
        let mut by_name = HashMap::new();
        let mut by_lower = HashMap::new();
        for (i, d) in GUCS.iter().enumerate() {
            by_name.insert(d.name, i);
            by_lower.insert(d.name.to_ascii_lowercase(), i);
        }
        Registry {
            defs: GUCS,
            sorted,
            by_name,
            by_lower,
        }
    })
}

/// Custom (placeholder) names such as `myext.option`: PostgreSQL accepts any
/// two-part identifier and keeps the value as a string.
pub fn is_custom_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return false;
    };
    let ident = |p: &str| {
        !p.is_empty()
            && p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    ident(a) && parts.all(ident) && ident(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_case_insensitively() {
        let reg = registry();
        let mut seen = std::collections::HashSet::new();
        for d in reg.defs {
            assert!(
                seen.insert(d.name.to_ascii_lowercase()),
                "duplicate {}",
                d.name
            );
        }
    }

    #[test]
    fn lookup_ignores_case() {
        let reg = registry();
        let i = reg.find("datestyle").map(|i| reg.def(i).name);
        assert_eq!(i, Some("DateStyle"));
        assert!(reg.find("no_such_thing").is_none());
    }

    #[test]
    fn old_names_find_the_renamed_setting() {
        let reg = registry();
        let old = reg.find("Standby_Slot_Names").map(|i| reg.def(i).name);
        assert_eq!(old, Some("synchronized_standby_slots"));
        assert!(is_custom_name("myext.opt"));
        assert!(!is_custom_name("plain"));
        assert!(!is_custom_name("a..b"));
    }
}
