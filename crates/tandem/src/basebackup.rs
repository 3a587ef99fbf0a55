//! `tandem basebackup`: PostgreSQL's `pg_basebackup` for tandem. Connects with a
//! replication connection, optionally creates the slot (`-C`), runs BASE_BACKUP
//! and writes the data directory (the protocol and the file writing live in
//! `tandem_server::basebackup`). `-R` writes `standby.signal` and
//! `primary_conninfo` / `primary_slot_name` into `postgresql.auto.conf`; `-P`
//! prints progress as `N/M kB (P%), 1/1 tablespace`.

use std::path::PathBuf;

use clap::Args;
use tandem_server::basebackup::{receive, BackupOptions};

#[derive(Args)]
pub struct BasebackupArgs {
    /// Connection string of the primary.
    #[arg(short = 'd', long = "dbname")]
    conninfo: String,
    /// Directory to write the backup into (must be missing or empty).
    #[arg(short = 'D', long = "pgdata")]
    dir: PathBuf,
    /// Replication slot to use (with -R: primary_slot_name).
    #[arg(short = 'S', long = "slot")]
    slot: Option<String>,
    /// Create the replication slot named by -S.
    #[arg(short = 'C', long = "create-slot")]
    create_slot: bool,
    /// Write configuration for replication (standby.signal, primary_conninfo).
    #[arg(short = 'R', long = "write-recovery-conf")]
    write_recovery_conf: bool,
    /// Show progress information.
    #[arg(short = 'P', long = "progress")]
    progress: bool,
    /// Checkpoint mode: fast or spread.
    #[arg(short = 'c', long = "checkpoint", default_value = "spread")]
    checkpoint: String,
}

pub fn run(args: BasebackupArgs) -> anyhow::Result<()> {
    if args.create_slot && args.slot.is_none() {
        anyhow::bail!("--create-slot needs a slot to be specified using --slot");
    }
    let fast = match args.checkpoint.as_str() {
        "fast" => true,
        "spread" => false,
        other => {
            anyhow::bail!("invalid checkpoint argument \"{other}\", must be \"fast\" or \"spread\"")
        }
    };
    let opts = BackupOptions {
        conninfo: args.conninfo,
        dir: args.dir,
        slot: args.slot,
        create_slot: args.create_slot,
        write_recovery_conf: args.write_recovery_conf,
        progress: args.progress,
        fast,
    };
    receive(&opts).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(())
}
