//! Scenario tests across the crate: loading a data directory, reload, ALTER SYSTEM,
//! and session SET semantics. Each pins PostgreSQL behaviour named in its comment.

use std::path::Path;
use std::sync::Arc;

use tandem_types::{Severity, SqlState};

use crate::*;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn datadir(conf: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(&dir.path().join("postgresql.conf"), conf);
    dir
}

fn load(dir: &Path) -> Arc<Config> {
    Config::load(dir, &[]).unwrap_or_else(|e| panic!("load: {e}"))
}

fn session(cfg: &Arc<Config>) -> SessionConfig {
    SessionConfig::new(cfg.clone(), &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn defaults_show_like_postgresql() {
    let c = Config::defaults();
    let expect = [
        ("listen_addresses", "localhost"),
        ("port", "5432"),
        ("max_connections", "100"),
        ("shared_buffers", "128MB"),
        ("work_mem", "4MB"),
        ("maintenance_work_mem", "64MB"),
        ("wal_buffers", "4MB"),
        ("wal_segment_size", "16MB"),
        ("wal_writer_delay", "200ms"),
        ("checkpoint_timeout", "5min"),
        ("checkpoint_completion_target", "0.9"),
        ("max_wal_size", "1GB"),
        ("min_wal_size", "80MB"),
        ("wal_keep_size", "0"),
        ("max_slot_wal_keep_size", "-1"),
        ("wal_sender_timeout", "1min"),
        ("wal_receiver_timeout", "1min"),
        ("wal_receiver_status_interval", "10s"),
        ("wal_retrieve_retry_interval", "5s"),
        ("deadlock_timeout", "1s"),
        ("authentication_timeout", "1min"),
        ("synchronous_commit", "on"),
        ("wal_level", "replica"),
        ("password_encryption", "scram-sha-256"),
        ("unix_socket_permissions", "0777"),
        ("data_directory_mode", "0700"),
        ("server_version", "17.0 (tandem 0.1.0)"),
        ("server_version_num", "170000"),
        ("DateStyle", "ISO, MDY"),
        ("TimeZone", "UTC"),
        ("search_path", "\"$user\", public"),
        ("default_transaction_isolation", "read committed"),
        ("fsync", "on"),
        ("ssl", "off"),
        ("jit", "off"),
        ("block_size", "8192"),
        ("max_identifier_length", "63"),
        ("log_checkpoints", "on"),
        ("recovery_target_timeline", "latest"),
        ("client_min_messages", "notice"),
        ("log_min_messages", "warning"),
    ];
    for (name, want) in expect {
        assert_eq!(c.show(name).as_deref(), Some(want), "{name}");
    }
    assert_eq!(
        c.show("timezone").as_deref(),
        Some("UTC"),
        "case-insensitive"
    );
    assert_eq!(c.show("nope"), None);
    assert_eq!(c.get_int("shared_buffers"), 16384);
    assert_eq!(c.get_int("checkpoint_timeout"), 300);
    assert_eq!(c.get_int("wal_sender_timeout"), 60000);
    assert!(c.get_bool("fsync"));
    assert_eq!(c.get_real("checkpoint_completion_target"), 0.9);
    assert_eq!(c.get_str("wal_level"), "replica");
    assert_eq!(c.synchronous_commit(), SyncCommit::On);
    let id = Config::lookup("max_wal_senders").unwrap_or_else(|| panic!("lookup"));
    assert_eq!(c.int_at(id), 10);
}

#[test]
fn load_reads_conf_then_auto_conf_then_command_line() {
    let dir = datadir(
        "port = 5433\nshared_buffers = '256MB'\nwork_mem = 8MB\nsynchronous_commit = remote_apply\n\
         max_wal_senders 5\nmyext.flag = yes\n",
    );
    write(
        &dir.path().join("postgresql.auto.conf"),
        &format!("{}work_mem = '16MB'\n", auto_conf_header()),
    );
    let c = Config::load(dir.path(), &[("max_wal_senders".into(), "7".into())])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.show("port").as_deref(), Some("5433"));
    assert_eq!(c.show("shared_buffers").as_deref(), Some("256MB"));
    assert_eq!(
        c.show("wal_buffers").as_deref(),
        Some("8MB"),
        "auto-tuned from shared_buffers"
    );
    assert_eq!(
        c.show("work_mem").as_deref(),
        Some("16MB"),
        "auto.conf wins"
    );
    assert_eq!(
        c.show("max_wal_senders").as_deref(),
        Some("7"),
        "command line wins"
    );
    assert_eq!(c.synchronous_commit(), SyncCommit::RemoteApply);
    assert_eq!(c.show("myext.flag").as_deref(), Some("yes"));
    let dd = dir.path().display().to_string();
    assert_eq!(c.show("data_directory"), Some(dd.clone()));
    assert_eq!(c.show("config_file"), Some(format!("{dd}/postgresql.conf")));
}

#[test]
fn startup_refuses_a_file_with_errors() {
    // PostgreSQL: LOG per problem, then FATAL "configuration file ... contains errors".
    for conf in [
        "bogus_setting = 1\n",
        "port = 'abc'\n",
        "port = 5432 junk\n",
        "block_size = 16384\n",
    ] {
        let dir = datadir(conf);
        let Err(e) = Config::load(dir.path(), &[]) else {
            panic!("{conf:?} should be refused");
        };
        assert_eq!(e.severity, Severity::Fatal);
        assert_eq!(e.code, CONFIG_FILE_ERROR);
        assert_eq!(
            e.message,
            format!(
                "configuration file \"{}\" contains errors",
                dir.path().join("postgresql.conf").display()
            )
        );
    }
    let dir = datadir("");
    let Err(e) = Config::load(dir.path(), &[("nope".into(), "1".into())]) else {
        panic!("unknown -c accepted");
    };
    assert_eq!(e.code, SqlState::UNDEFINED_OBJECT);
    assert_eq!(e.message, "unrecognized configuration parameter \"nope\"");
}

#[test]
fn reload_applies_changes_logs_them_and_keeps_postmaster_settings() {
    let logfile = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    let dir = datadir(
        "port = 5432\nwork_mem = 4MB\nhot_standby_feedback = off\nprimary_slot_name = 'a'\n",
    );
    let c = load(dir.path());
    let s = session(&c);
    write(
        &dir.path().join("postgresql.conf"),
        "port = 6000\nwork_mem = '8MB'\nhot_standby_feedback = on\n",
    );
    let file = logfile.reopen().unwrap_or_else(|e| panic!("{e}"));
    tandem_types::elog::set_log_file(file);
    c.reload().unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read_to_string(logfile.path()).unwrap_or_else(|e| panic!("{e}"));
    let conf = dir.path().join("postgresql.conf");
    for line in [
        "LOG:  received SIGHUP, reloading configuration files".to_string(),
        "LOG:  parameter \"port\" cannot be changed without restarting the server".to_string(),
        "LOG:  parameter \"work_mem\" changed to \"8MB\"".to_string(),
        "LOG:  parameter \"hot_standby_feedback\" changed to \"on\"".to_string(),
        "LOG:  parameter \"primary_slot_name\" removed from configuration file, reset to default"
            .to_string(),
        format!(
            "LOG:  configuration file \"{}\" contains errors; unaffected changes were applied",
            conf.display()
        ),
    ] {
        assert!(log.contains(&line), "missing {line:?} in:\n{log}");
    }
    assert_eq!(
        c.show("port").as_deref(),
        Some("5432"),
        "postmaster setting kept"
    );
    assert_eq!(c.pending_restart(), vec!["port".to_string()]);
    assert_eq!(c.show("work_mem").as_deref(), Some("8MB"));
    assert!(c.get_bool("hot_standby_feedback"));
    assert_eq!(c.get_str("primary_slot_name"), "");
    // The session never SET work_mem, so it sees the reloaded value.
    assert_eq!(s.show("work_mem").ok().as_deref(), Some("8MB"));
    let row = s.settings_rows().into_iter().find(|r| r.name == "port");
    assert!(row.is_some_and(|r| r.pending_restart && r.setting == "5432"));

    // An unknown name spoils the whole reload.
    write(&conf, "port = 5432\nwork_mem = 32MB\nno_such = 1\n");
    c.reload().unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read_to_string(logfile.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(log.contains(&format!(
        "LOG:  unrecognized configuration parameter \"no_such\" in file \"{}\" line 3",
        conf.display()
    )));
    assert!(log.contains("contains errors; no changes were applied"));
    assert_eq!(c.show("work_mem").as_deref(), Some("8MB"));

    // Putting the old port back clears pending_restart.
    write(&conf, "port = 5432\n");
    c.reload().unwrap_or_else(|e| panic!("{e}"));
    assert!(c.pending_restart().is_empty());
    assert_eq!(
        c.show("work_mem").as_deref(),
        Some("4MB"),
        "removed -> default"
    );
}

#[test]
fn alter_system_rewrites_auto_conf() {
    let dir = datadir("");
    let c = load(dir.path());
    let auto = dir.path().join("postgresql.auto.conf");
    c.alter_system("work_mem", Some("8MB"))
        .unwrap_or_else(|e| panic!("{e}"));
    c.alter_system("primary_conninfo", Some("host=h user='u'"))
        .unwrap_or_else(|e| panic!("{e}"));
    c.alter_system("datestyle", Some("german"))
        .unwrap_or_else(|e| panic!("{e}"));
    c.alter_system("work_mem", Some("16MB"))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&auto).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        text,
        "# Do not edit this file manually!\n\
         # It will be overwritten by the ALTER SYSTEM command.\n\
         work_mem = '16MB'\n\
         primary_conninfo = 'host=h user=''u'''\n\
         DateStyle = 'german'\n"
    );
    assert!(!dir.path().join("postgresql.auto.conf.tmp").exists());
    assert_eq!(
        c.show("work_mem").as_deref(),
        Some("4MB"),
        "not live until reload"
    );
    c.reload().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.show("work_mem").as_deref(), Some("16MB"));
    assert_eq!(c.get_str("primary_conninfo"), "host=h user='u'");
    assert_eq!(c.show("DateStyle").as_deref(), Some("German, DMY"));

    c.alter_system("work_mem", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&auto).unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains("work_mem"));
    assert!(text.contains("primary_conninfo"));
    c.alter_system("all", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&auto).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text, auto_conf_header());

    let e = c.alter_system("block_size", Some("4096")).err();
    assert_eq!(
        e.map(|e| (e.code, e.message)),
        Some((
            SqlState::CANT_CHANGE_RUNTIME_PARAM,
            "parameter \"block_size\" cannot be changed".to_string()
        ))
    );
    let e = c.alter_system("nope", Some("1")).err();
    assert_eq!(e.map(|e| e.code), Some(SqlState::UNDEFINED_OBJECT));
    let e = c.alter_system("wal_level", Some("maximal")).err();
    assert_eq!(
        e.map(|e| (e.message, e.hint)),
        Some((
            "invalid value for parameter \"wal_level\": \"maximal\"".to_string(),
            Some(Box::from("Available values: minimal, replica, logical."))
        ))
    );
    // A postmaster setting may be written; it applies at the next restart.
    c.alter_system("max_connections", Some("50"))
        .unwrap_or_else(|e| panic!("{e}"));
    let c2 = load(dir.path());
    assert_eq!(c2.get_int("max_connections"), 50);
}

#[test]
fn set_and_reset_follow_transactions() {
    let c = Config::defaults();
    let mut s = session(&c);
    // Plain SET outside a transaction sticks.
    s.set("work_mem", Some("8MB"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.show("work_mem").ok().as_deref(), Some("8MB"));
    // SET LOCAL outside a block: no effect (the caller warns).
    s.set("work_mem", Some("1MB"), true, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_str("work_mem"), "8MB");
    assert_eq!(
        SessionConfig::set_local_warning().message,
        "SET LOCAL can only be used in transaction blocks"
    );

    // SET inside a rolled-back transaction is undone.
    s.begin_transaction();
    s.set("work_mem", Some("16MB"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_int("work_mem"), 16384);
    s.end_transaction(false);
    assert_eq!(s.get_str("work_mem"), "8MB");

    // SET LOCAL lapses at commit; SET survives.
    s.begin_transaction();
    s.set("statement_timeout", Some("5s"), true, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.set("lock_timeout", Some("1s"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_int("statement_timeout"), 5000);
    s.end_transaction(true);
    assert_eq!(s.get_str("statement_timeout"), "0");
    assert_eq!(s.get_str("lock_timeout"), "1s");

    // SET then SET LOCAL: the SET value comes back at commit; SET LOCAL then SET: SET wins.
    s.begin_transaction();
    s.set("extra_float_digits", Some("2"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.set("extra_float_digits", Some("3"), true, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.set("search_path", Some("a"), true, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.set("search_path", Some("b, public"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_int("extra_float_digits"), 3);
    s.end_transaction(true);
    assert_eq!(s.get_int("extra_float_digits"), 2);
    assert_eq!(s.get_str("search_path"), "b, public");

    // RESET inside a rolled-back transaction is undone too.
    s.begin_transaction();
    s.reset("work_mem").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_str("work_mem"), "4MB");
    s.end_transaction(false);
    assert_eq!(s.get_str("work_mem"), "8MB");

    // TO DEFAULT, RESET ALL.
    s.set("work_mem", None, false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_str("work_mem"), "4MB");
    s.set("work_mem", Some("2MB"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.set("myapp.mode", Some("fast"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.show("myapp.mode").ok().as_deref(), Some("fast"));
    s.reset("all").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_str("work_mem"), "4MB");
    assert_eq!(s.get_str("lock_timeout"), "0");
    assert_eq!(
        s.show("myapp.mode").err().map(|e| e.code),
        Some(SqlState::UNDEFINED_OBJECT)
    );

    // A SET shadows reloads; RESET returns to the server value.
    assert_eq!(s.synchronous_commit(), SyncCommit::On);
    s.set("synchronous_commit", Some("off"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.synchronous_commit(), SyncCommit::Off);
    assert_eq!(c.synchronous_commit(), SyncCommit::On);
}

#[test]
fn set_refusals_use_postgresql_errors() {
    let c = Config::defaults();
    let mut s = session(&c);
    let err = |s: &mut SessionConfig, name: &str, v: &str, su: bool| {
        let e = s
            .set(name, Some(v), false, su)
            .err()
            .unwrap_or_else(|| panic!("{name} accepted"));
        (e.code.0, e.message)
    };
    assert_eq!(
        err(&mut s, "nonesuch", "1", true),
        (
            "42704",
            "unrecognized configuration parameter \"nonesuch\"".into()
        )
    );
    assert_eq!(
        err(&mut s, "shared_buffers", "1GB", true),
        (
            "55P02",
            "parameter \"shared_buffers\" cannot be changed without restarting the server".into()
        )
    );
    assert_eq!(
        err(&mut s, "fsync", "off", true),
        ("55P02", "parameter \"fsync\" cannot be changed now".into())
    );
    assert_eq!(
        err(&mut s, "server_version", "1", true),
        (
            "55P02",
            "parameter \"server_version\" cannot be changed".into()
        )
    );
    assert_eq!(
        err(&mut s, "log_connections", "on", true),
        (
            "55P02",
            "parameter \"log_connections\" cannot be set after connection start".into()
        )
    );
    assert_eq!(
        err(&mut s, "log_statement", "all", false),
        (
            "42501",
            "permission denied to set parameter \"log_statement\"".into()
        )
    );
    assert!(s.set("log_statement", Some("all"), false, true).is_ok());
    assert_eq!(
        err(&mut s, "enable_seqscan", "maybe", false),
        (
            "22023",
            "parameter \"enable_seqscan\" requires a Boolean value".into()
        )
    );
    assert_eq!(
        err(&mut s, "statement_timeout", "-5", false),
        ("22023", "-5 ms is outside the valid range for parameter \"statement_timeout\" (0 ms .. 2147483647 ms)".into())
    );
    assert_eq!(
        err(&mut s, "extra_float_digits", "9", false),
        (
            "22023",
            "9 is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)".into()
        )
    );
    assert_eq!(
        err(&mut s, "client_encoding", "EBCDIC", false),
        (
            "22023",
            "invalid value for parameter \"client_encoding\": \"EBCDIC\"".into()
        )
    );
    assert_eq!(
        s.show("zzz").err().map(|e| e.message),
        Some("unrecognized configuration parameter \"zzz\"".into())
    );
}

#[test]
fn startup_parameters_and_reports() {
    let c = Config::defaults();
    let startup: Vec<(String, String)> = [
        ("user", "alice"),
        ("database", "db"),
        ("application_name", "psql"),
        ("client_encoding", "utf-8"),
        (
            "options",
            "-c work_mem=8MB --statement-timeout=5s -csearch_path=a\\ b",
        ),
        ("_pq_.something", "x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut s = SessionConfig::new(c.clone(), &startup).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_str("work_mem"), "8MB");
    assert_eq!(s.get_int("statement_timeout"), 5000);
    assert_eq!(s.get_str("search_path"), "a b");
    assert_eq!(s.get_str("client_encoding"), "UTF8");
    let reported = s.reported();
    let names: Vec<&str> = reported.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "application_name",
            "client_encoding",
            "DateStyle",
            "default_transaction_read_only",
            "in_hot_standby",
            "integer_datetimes",
            "IntervalStyle",
            "is_superuser",
            "scram_iterations",
            "server_encoding",
            "server_version",
            "session_authorization",
            "standard_conforming_strings",
            "TimeZone",
        ]
    );
    let get = |k: &str| {
        reported
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("application_name"), Some("psql"));
    assert_eq!(get("session_authorization"), Some("alice"));
    assert_eq!(get("server_version"), Some("17.0 (tandem 0.1.0)"));
    assert_eq!(get("integer_datetimes"), Some("on"));

    // RESET returns to the startup value, not the server default.
    s.set("work_mem", Some("1MB"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.reset("work_mem").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_str("work_mem"), "8MB");

    // Reported settings return a ParameterStatus; rolled-back ones come from take_reports.
    let r = s
        .set("application_name", Some("app2"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r, Some(("application_name".into(), "app2".into())));
    assert_eq!(
        s.set("work_mem", Some("2MB"), false, false).ok(),
        Some(None)
    );
    s.begin_transaction();
    s.set("DateStyle", Some("sql, dmy"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    s.end_transaction(false);
    // The client heard "SQL, DMY" from the SET; the rollback must be reported too.
    assert_eq!(
        s.take_reports(),
        vec![("DateStyle".to_string(), "ISO, MDY".to_string())]
    );
    assert_eq!(s.take_reports(), vec![]);
    s.begin_transaction();
    let r = s
        .set("TimeZone", Some("Europe/Paris"), false, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r, Some(("TimeZone".into(), "Europe/Paris".into())));
    s.end_transaction(false);
    assert_eq!(
        s.take_reports(),
        vec![("TimeZone".to_string(), "UTC".to_string())]
    );

    s.set_session_user("alice", false);
    assert_eq!(s.get_str("is_superuser"), "off");

    // Startup errors are FATAL.
    let bad = |k: &str, v: &str| {
        SessionConfig::new(c.clone(), &[(k.to_string(), v.to_string())])
            .err()
            .map(|e| (e.severity, e.message))
    };
    assert_eq!(
        bad("bogus", "1"),
        Some((
            Severity::Fatal,
            "unrecognized configuration parameter \"bogus\"".into()
        ))
    );
    assert_eq!(
        bad("options", "-c port=1"),
        Some((
            Severity::Fatal,
            "parameter \"port\" cannot be changed without restarting the server".into()
        ))
    );
    assert_eq!(
        bad("options", "-x"),
        Some((
            Severity::Fatal,
            "invalid command-line argument for server process: -x".into()
        ))
    );
    assert_eq!(
        bad("options", "-c work_mem"),
        Some((Severity::Fatal, "-c work_mem requires a value".into()))
    );
    assert!(
        SessionConfig::new(c.clone(), &[("ignore_system_indexes".into(), "on".into())]).is_ok()
    );
}

#[test]
fn pg_settings_rows_use_base_units() {
    let c = Config::defaults();
    let s = session(&c);
    let rows = s.settings_rows();
    let row = |n: &str| {
        rows.iter()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("no row {n}"))
    };
    let sb = row("shared_buffers");
    assert_eq!(
        (sb.setting.as_str(), sb.unit.as_deref()),
        ("16384", Some("8kB"))
    );
    assert_eq!(
        (sb.context.as_str(), sb.vartype.as_str()),
        ("postmaster", "integer")
    );
    assert_eq!(sb.min_val.as_deref(), Some("16"));
    assert_eq!(sb.boot_val, "16384");
    let ws = row("wal_segment_size");
    assert_eq!(
        (ws.setting.as_str(), ws.unit.as_deref()),
        ("16777216", Some("B"))
    );
    let ct = row("checkpoint_timeout");
    assert_eq!(
        (ct.setting.as_str(), ct.unit.as_deref()),
        ("300", Some("s"))
    );
    assert_eq!(row("work_mem").unit.as_deref(), Some("kB"));
    assert_eq!(row("max_wal_size").unit.as_deref(), Some("MB"));
    assert_eq!(row("wal_sender_timeout").unit.as_deref(), Some("ms"));
    assert_eq!(row("port").unit, None);
    let wl = row("wal_level");
    assert_eq!(
        wl.enumvals.as_deref().map(|v| v.join(",")),
        Some("minimal,replica,logical".into())
    );
    assert_eq!(wl.source, "default");
    assert_eq!(
        row("synchronous_commit").category,
        "Write-Ahead Log / Settings"
    );
    assert_eq!(row("fsync").context, "sighup");
    assert_eq!(row("log_connections").context, "superuser-backend");
    assert!(rows.iter().all(|r| r.name != "is_superuser"));
    let all = s.show_all();
    assert!(all
        .iter()
        .any(|(n, v, _)| n == "max_wal_size" && v == "1GB"));
    let names: Vec<String> = all.iter().map(|(n, _, _)| n.to_ascii_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn sample_conf_loads_cleanly() {
    let dir = datadir(&sample_postgresql_conf(5499));
    let c = load(dir.path());
    assert_eq!(c.get_int("port"), 5499);
    assert_eq!(c.show("listen_addresses").as_deref(), Some("localhost"));
    assert_eq!(c.show("DateStyle").as_deref(), Some("ISO, MDY"));
    assert!(sample_postgresql_conf(5499).contains("#wal_level = replica"));
}

#[test]
fn typed_getters_convert_from_the_base_unit() {
    let dir = datadir(
        "checkpoint_timeout = '2min'\nwal_sender_timeout = 1500\nmax_wal_size = '2GB'\n\
         listen_addresses = ' a, \"b\" ,,c'\n",
    );
    let c = load(dir.path());
    assert_eq!(c.get_ms("checkpoint_timeout"), Some(120_000));
    assert_eq!(c.get_ms("wal_sender_timeout"), Some(1500));
    assert_eq!(c.get_ms("wal_receiver_status_interval"), Some(10_000));
    assert_eq!(c.get_bytes("max_wal_size"), Some(2 << 30));
    assert_eq!(c.get_bytes("max_slot_wal_keep_size"), None);
    assert_eq!(c.get_list("listen_addresses"), ["a", "b", "c"]);
}

#[test]
fn standby_slot_names_is_an_old_name_of_synchronized_standby_slots() {
    // PostgreSQL 17 renamed it before release; both spellings are accepted.
    let dir = datadir("standby_slot_names = 'SB1_slot, \"sb2_slot\"'\n");
    let c = load(dir.path());
    assert_eq!(
        c.get_str("synchronized_standby_slots"),
        "SB1_slot, \"sb2_slot\""
    );
    assert_eq!(
        c.show("standby_slot_names").as_deref(),
        Some("SB1_slot, \"sb2_slot\"")
    );
    let s = session(&c);
    assert_eq!(
        s.show("standby_slot_names").ok().as_deref(),
        Some("SB1_slot, \"sb2_slot\"")
    );
    c.alter_system("standby_slot_names", Some("sb3_slot"))
        .unwrap_or_else(|e| panic!("{e}"));
    let auto = std::fs::read_to_string(dir.path().join("postgresql.auto.conf"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        auto.ends_with("synchronized_standby_slots = 'sb3_slot'\n"),
        "{auto}"
    );
    c.reload().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.get_str("synchronized_standby_slots"), "sb3_slot");
}

#[test]
fn synchronized_standby_slots_values_are_checked() {
    let dir = datadir("");
    let c = load(dir.path());
    for name in ["synchronized_standby_slots", "standby_slot_names"] {
        let e = c
            .alter_system(name, Some("a,,b"))
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(
            e.message,
            "invalid value for parameter \"synchronized_standby_slots\": \"a,,b\""
        );
        assert_eq!(e.detail.as_deref(), Some("List syntax is invalid."));
        let e = c
            .alter_system(name, Some("\"Bad\""))
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(
            e.detail.as_deref(),
            Some("replication slot name \"Bad\" contains invalid character")
        );
    }
    c.alter_system("synchronized_standby_slots", Some(""))
        .unwrap_or_else(|e| panic!("{e}"));
}
