//! Golden SQL scripts: a `.sql` file run by the real psql against a tandem
//! node, its output (stdout and stderr in one stream, as psql interleaves
//! them) compared with a `.out` recorded from PostgreSQL 17 by
//! `scripts/record-golden.sh`.
//!
//! Both sides go through [`mask`] (the recorder applies the same rules): LSNs,
//! xids, commit timestamps and notifying PIDs differ from server to server, and psql's column
//! widths follow their lengths, so those are normalised before comparing.
//! [`golden_tests!`](crate::golden_tests) makes one test per script plus the
//! checks that every script has a test and an output, and that the stored
//! outputs are masked.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{require_program, Node};

/// How long one script may run before psql is killed.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// True if `s` is an LSN as PostgreSQL prints it: 1-8 upper-case hex digits,
/// '/', 1-8 upper-case hex digits.
fn is_hex_run(b: &[u8]) -> bool {
    (1..=8).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Replaces every LSN (`0/16B3748`, `1A/FF000028`) by `0/LSN`. An LSN must not
/// touch other word characters on either side (like a regex `\b...\b`).
fn mask_lsns(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] == b'/' && i > 0 {
            let mut start = i;
            while start > 0 && is_word_byte(b[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < b.len() && is_word_byte(b[end]) {
                end += 1;
            }
            if start >= copied && is_hex_run(&b[start..i]) && is_hex_run(&b[i + 1..end]) {
                out.push_str(&line[copied..start]);
                out.push_str("0/LSN");
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&line[copied..]);
    out
}

/// Replaces `(at <anything but ')'>)` by `(at TIMESTAMP)` (include-timestamp).
fn mask_commit_times(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find("(at ") {
        match rest[pos..].find(')') {
            Some(close) => {
                out.push_str(&rest[..pos]);
                out.push_str("(at TIMESTAMP)");
                rest = &rest[pos + close + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// psql's `Asynchronous notification ... received from server process with
/// PID 1234.`: the PID becomes `PID`.
fn mask_notify_pid(line: &str) -> String {
    const AT: &str = "received from server process with PID ";
    let Some(pos) = line.find(AT) else {
        return line.to_string();
    };
    let start = pos + AT.len();
    let digits = line[start..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return line.to_string();
    }
    format!("{}PID{}", &line[..start], &line[start + digits..])
}

fn is_normal_xid(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('0') && s.bytes().all(|c| c.is_ascii_digit())
}

/// Numbers xids by first appearance: the first distinct xid is XID1, and so on.
struct Xids(HashMap<String, String>);

impl Xids {
    fn name(&mut self, xid: &str) -> String {
        let n = self.0.len() + 1;
        self.0
            .entry(xid.to_string())
            .or_insert_with(|| format!("XID{n}"))
            .clone()
    }
}

/// Replaces the xid after `BEGIN ` or `COMMIT ` (a whole word on both sides).
fn mask_begin_commit(line: &str, xids: &mut Xids) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let kw = ["BEGIN ", "COMMIT "]
            .into_iter()
            .find(|kw| line[i..].starts_with(kw));
        let at_word_start = i == 0 || !is_word_byte(b[i - 1]);
        if let (Some(kw), true) = (kw, at_word_start) {
            let digits_start = i + kw.len();
            let mut end = digits_start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let word_ends = end == b.len() || !is_word_byte(b[end]);
            if word_ends && is_normal_xid(&line[digits_start..end]) {
                out.push_str(&line[copied..digits_start]);
                out.push_str(&xids.name(&line[digits_start..end]));
                copied = end;
                i = end;
                continue;
            }
        }
        i += line[i..].chars().next().map_or(1, char::len_utf8);
    }
    out.push_str(&line[copied..]);
    out
}

/// The masking rules of scripts/record-golden.sh, applied line by line:
/// LSNs become `0/LSN`; `(at ...)` becomes `(at TIMESTAMP)`; a notification's
/// `... with PID 1234.` becomes `... with PID PID.`; lines are trimmed, a
/// table rule (only '-' and '+') becomes `---`, a line with '|' gets its cells
/// trimmed and re-joined with " | "; non-zero xids (the second cell of a row
/// whose first cell is `0/LSN`, and the number after BEGIN/COMMIT) become XID1,
/// XID2, ... in order of first appearance. Masking masked text changes nothing.
pub fn mask(text: &str) -> String {
    let mut xids = Xids(HashMap::new());
    let mut out = String::with_capacity(text.len());
    for raw in text.lines() {
        let line = mask_notify_pid(&mask_commit_times(&mask_lsns(raw)));
        let line = line.trim();
        let line = if !line.is_empty()
            && line.bytes().all(|c| c == b'-' || c == b'+')
            && line.contains('-')
        {
            "---".to_string()
        } else if line.contains('|') {
            let mut cells: Vec<String> = line.split('|').map(|c| c.trim().to_string()).collect();
            if cells.len() >= 3 && cells[0] == "0/LSN" && is_normal_xid(&cells[1]) {
                cells[1] = xids.name(&cells[1]);
            }
            cells.join(" | ")
        } else {
            line.to_string()
        };
        out.push_str(&mask_begin_commit(&line, &mut xids));
        out.push('\n');
    }
    out
}

/// Runs `psql -X -a -q -v ON_ERROR_STOP=0 -f NAME.sql` from `dir` (so error
/// lines read `psql:NAME.sql:LINE:`), stdout and stderr into one file, and
/// returns what it printed.
pub fn run_psql(node: &Node, dir: &str, name: &str) -> String {
    let mut log = tempfile::tempfile().expect("temp file for psql output");
    let log2 = log.try_clone().expect("clone temp file");
    let mut child = Command::new("psql")
        .args(["-X", "-a", "-q", "-v", "ON_ERROR_STOP=0"])
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
        .arg("-p")
        .arg(node.port.to_string())
        .arg("-f")
        .arg(format!("{name}.sql"))
        .current_dir(dir)
        .env("LC_ALL", "C")
        .env_remove("PGTZ")
        .env_remove("PGOPTIONS")
        .env_remove("PGDATESTYLE")
        .env_remove("PGCLIENTENCODING")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log2.try_clone().expect("clone temp file")))
        .stderr(Stdio::from(log2))
        .spawn()
        .expect("run psql");
    let end = Instant::now() + SCRIPT_DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let mut so_far = String::new();
                let _ = log.seek(SeekFrom::Start(0));
                let _ = log.read_to_string(&mut so_far);
                panic!(
                    "psql {name}.sql did not finish within {SCRIPT_DEADLINE:?}; output so far:\n{so_far}\nserver log:\n{}",
                    node.log()
                );
            }
        }
    }
    let mut bytes = Vec::new();
    log.seek(SeekFrom::Start(0)).expect("rewind psql output");
    log.read_to_end(&mut bytes).expect("read psql output");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A short report of where `got` first departs from `expected`: a few lines of
/// common context, then the differing lines of both, prefixed `-` (expected)
/// and `+` (tandem), until they agree again or the report is long enough.
fn first_difference(expected: &str, got: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let first = e
        .iter()
        .zip(g.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(e.len().min(g.len()));
    let mut out = format!(
        "first difference at line {} (expected {} lines, got {}):\n",
        first + 1,
        e.len(),
        g.len()
    );
    for l in &e[first.saturating_sub(5)..first] {
        out.push_str(&format!("  {l}\n"));
    }
    // Resynchronise on the next expected line that tandem also printed soon after.
    let mut shown = 0;
    let (mut i, mut j) = (first, first);
    while (i < e.len() || j < g.len()) && shown < 40 {
        if i < e.len() && j < g.len() && e[i] == g[j] {
            break;
        }
        let resync = (i..e.len().min(i + 20)).find_map(|ii| {
            (j..g.len().min(j + 20))
                .find(|&jj| e[ii] == g[jj] && !e[ii].is_empty())
                .map(|jj| (ii, jj))
        });
        match resync {
            Some((ii, jj)) => {
                for l in &e[i..ii] {
                    out.push_str(&format!("- {l}\n"));
                }
                for l in &g[j..jj] {
                    out.push_str(&format!("+ {l}\n"));
                }
                break;
            }
            None => {
                if i < e.len() {
                    out.push_str(&format!("- {}\n", e[i]));
                    i += 1;
                }
                if j < g.len() {
                    out.push_str(&format!("+ {}\n", g[j]));
                    j += 1;
                }
                shown += 1;
            }
        }
    }
    out
}

/// Runs `dir/NAME.sql` with the real psql against a fresh tandem node
/// (`wal_level = logical`) and panics unless its masked output equals
/// `dir/NAME.out`'s.
pub fn golden(dir: &str, name: &str) {
    if !require_program("psql") {
        return;
    }
    let expected_path = format!("{dir}/{name}.out");
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("read {expected_path}: {e}"));
    let mut node = Node::init(&format!("golden-{name}"));
    node.append_conf("wal_level = logical");
    node.start();
    let got = run_psql(&node, dir, name);
    node.stop();
    let (expected, masked) = (mask(&expected), mask(&got));
    if expected != masked {
        panic!(
            "{name}.sql: tandem's psql output differs from PostgreSQL 17's ({name}.out)\n{}\n\
             whole masked output of tandem:\n{masked}",
            first_difference(&expected, &masked)
        );
    }
}

/// One test per `name => "script"` pair, each running `dir/script.sql`
/// through [`golden`], and the tests that every script in `dir` is listed
/// and recorded and that the stored outputs are masked.
#[macro_export]
macro_rules! golden_tests {
    ($dir:expr; $($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                $crate::golden::golden($dir, $name);
            }
        )*

        /// Every script has a test and an expected output.
        #[test]
        fn every_script_has_a_test() {
            let listed: Vec<&str> = vec![$($name),*];
            let mut found: Vec<String> = std::fs::read_dir($dir)
                .expect("read the golden scripts' directory")
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".sql")).map(String::from))
                .collect();
            found.sort();
            assert_eq!(found, listed, "the *.sql files and the golden_tests! list disagree");
            for name in listed {
                assert!(
                    std::path::Path::new(&format!("{}/{name}.out", $dir)).exists(),
                    "{name}.out missing: run scripts/record-golden.sh"
                );
            }
        }

        #[test]
        fn stored_outputs_are_masked() {
            for entry in std::fs::read_dir($dir)
                .expect("read the golden scripts' directory")
                .flatten()
            {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) == Some("out") {
                    let text = std::fs::read_to_string(&path).expect("read .out");
                    assert_eq!(
                        $crate::golden::mask(&text),
                        text,
                        "{} is not masked the way the test masks",
                        path.display()
                    );
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masking_rules() {
        let raw = "   lsn    | xid |   data\n\
                   ----------+-----+---------\n \
                   0/C15038 | 757 | BEGIN 757\n \
                   0/C2B510 | 758 | COMMIT 758 (at 2024-03-16 08:00:24.144+00)\n \
                   0/C2B510 |   0 | message: transactional: 0\n\
                   psql:x.sql:3: ERROR:  cannot advance replication slot to 0/1, minimum is 1A/FF0028\n\
                   SELECT 'a/b', 'x0/1', 'BEGIN 12x';\n\
                   Asynchronous notification \"c\" with payload \"p\" received from server process with PID 4242.\n";
        let want = "lsn | xid | data\n\
                    ---\n\
                    0/LSN | XID1 | BEGIN XID1\n\
                    0/LSN | XID2 | COMMIT XID2 (at TIMESTAMP)\n\
                    0/LSN | 0 | message: transactional: 0\n\
                    psql:x.sql:3: ERROR:  cannot advance replication slot to 0/LSN, minimum is 0/LSN\n\
                    SELECT 'a/b', 'x0/1', 'BEGIN 12x';\n\
                    Asynchronous notification \"c\" with payload \"p\" received from server process with PID PID.\n";
        assert_eq!(mask(raw), want);
        // idempotent, so stored (already masked) files can be masked again
        assert_eq!(mask(want), want);
    }
}
