//! `tandem initdb`: creates a data directory, as PostgreSQL's initdb.
//!
//! Writes `postgresql.conf`, `postgresql.auto.conf` and `pg_hba.conf`, then lets the
//! storage crate create `global/control`, the first checkpoint (holding the
//! bootstrap superuser) and `pg_wal/`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    Trust,
    #[value(name = "scram-sha-256")]
    ScramSha256,
}

#[derive(Args, Debug)]
pub struct InitdbArgs {
    /// Location for the new data directory.
    #[arg(short = 'D', long = "pgdata")]
    pub datadir: PathBuf,
    /// Port written to postgresql.conf.
    #[arg(long, default_value_t = 5432)]
    pub port: u16,
    /// Database superuser name.
    #[arg(short = 'U', long = "username", default_value = "postgres")]
    pub username: String,
    /// Authentication method for local and host connections.
    #[arg(short = 'A', long = "auth", value_enum, default_value_t = AuthMethod::Trust)]
    pub auth: AuthMethod,
    /// Read the new superuser's password from this file.
    #[arg(long = "pwfile")]
    pub pwfile: Option<PathBuf>,
    /// WAL segment size in megabytes (power of two, 1..1024).
    #[arg(long = "wal-segsize", default_value_t = 16)]
    pub wal_segsize: u64,
}

pub fn run(args: InitdbArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    check_target_dir(dir)?;
    if !args.wal_segsize.is_power_of_two() || args.wal_segsize > 1024 {
        bail!("argument of --wal-segsize must be a power of two between 1 and 1024");
    }
    let password = match &args.pwfile {
        Some(f) => {
            let text = fs::read_to_string(f)
                .with_context(|| format!("could not open file \"{}\" for reading", f.display()))?;
            let first = text.lines().next().unwrap_or("").to_string();
            if first.is_empty() {
                bail!("password file \"{}\" is empty", f.display());
            }
            Some(first)
        }
        None => None,
    };
    if args.auth == AuthMethod::ScramSha256 && password.is_none() {
        bail!("must specify a password for the superuser to enable password authentication");
    }

    println!(
        "The files belonging to this database system will be owned by user \"{}\".",
        current_os_user()
    );
    println!("This user must also own the server process.\n");
    println!("The database cluster will be initialized with locale \"C.UTF-8\".");
    println!("The default database encoding has accordingly been set to \"UTF8\".\n");

    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("could not create directory \"{}\"", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).with_context(|| {
        format!(
            "could not change permissions of directory \"{}\"",
            dir.display()
        )
    })?;

    print!("creating configuration files ... ");
    write_file(
        &dir.join("postgresql.conf"),
        &tandem_config::sample_postgresql_conf(args.port),
    )?;
    write_file(
        &dir.join("postgresql.auto.conf"),
        tandem_config::auto_conf_header(),
    )?;
    write_file(&dir.join("pg_hba.conf"), &hba_conf(args.auth))?;
    println!("ok");

    print!("running bootstrap script ... ");
    let verifier = password
        .as_deref()
        .map(tandem_protocol::scram::make_verifier);
    tandem_storage::Database::bootstrap(
        dir,
        tandem_storage::BootstrapOptions {
            superuser: args.username.clone(),
            password_verifier: verifier,
            wal_segment_size: args.wal_segsize * 1024 * 1024,
        },
    )
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!("ok");

    if args.auth == AuthMethod::Trust {
        eprintln!("\ninitdb: warning: enabling \"trust\" authentication for local connections");
        eprintln!("initdb: hint: You can change this by editing pg_hba.conf or using the option -A, or --auth, the next time you run initdb.");
    }
    println!("\nSuccess. You can now start the database server using:\n");
    println!("    tandem start -D {} -l logfile\n", shell_quote(dir));
    Ok(())
}

/// initdb refuses a non-empty directory, as PostgreSQL's does.
fn check_target_dir(dir: &Path) -> anyhow::Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "directory \"{}\" exists but is not empty\nIf you want to create a new database system, either remove or empty the directory \"{}\" or run initdb with an argument other than \"{}\".",
                    dir.display(), dir.display(), dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("could not access directory \"{}\"", dir.display()))
        }
    }
}

fn hba_conf(auth: AuthMethod) -> String {
    let m = match auth {
        AuthMethod::Trust => "trust",
        AuthMethod::ScramSha256 => "scram-sha-256",
    };
    format!(
        "# tandem client authentication configuration file (PostgreSQL's pg_hba.conf syntax)\n\
         #\n\
         # TYPE  DATABASE        USER            ADDRESS                 METHOD\n\
         \n\
         # \"local\" is for Unix domain socket connections only\n\
         local   all             all                                     {m}\n\
         # IPv4 local connections:\n\
         host    all             all             127.0.0.1/32            {m}\n\
         # IPv6 local connections:\n\
         host    all             all             ::1/128                 {m}\n\
         # Allow replication connections from localhost, by a user with the\n\
         # replication privilege.\n\
         local   replication     all                                     {m}\n\
         host    replication     all             127.0.0.1/32            {m}\n\
         host    replication     all             ::1/128                 {m}\n"
    )
}

fn write_file(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_0600()
        .open(path)
        .with_context(|| format!("could not create file \"{}\"", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("could not write file \"{}\"", path.display()))?;
    f.sync_all()
        .with_context(|| format!("could not fsync file \"{}\"", path.display()))?;
    Ok(())
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

fn current_os_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
