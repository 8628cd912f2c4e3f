//! `riposte alert send`: records from a file or stdin, posted in batches
//! of JSON lines, with per-line results reported by the line numbers of
//! the input.
//!
//! A reader thread turns the input into numbered records and the main
//! thread batches them: a batch goes out when it is full, or as soon as
//! the input pauses, so a followed file is sent within a fraction of a
//! second of being written. Each record is read once and sent once; a
//! batch the server refuses as a whole ends the command, and the lines it
//! held are named so the operator can send them again.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use serde_json::Value;

use super::Fail;
use super::args::Role;
use super::http::{ApiRequest, Body, Client};
use super::plan::{Call, SendPlan, View};

/// How long the input may pause before a partial batch is sent.
const FLUSH_AFTER: Duration = Duration::from_millis(200);

/// How often a followed file is checked for growth, truncation and
/// rotation.
const POLL: Duration = Duration::from_millis(250);

/// A batch is sent once its body reaches this size, whatever its line
/// count, to stay well under the daemon's request body limit.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Where a record was in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A line of JSON lines, counted from 1 (blank lines count).
    Line(u64),
    /// An element of a JSON array document, counted from 1.
    Record(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// What the reader thread hands over.
#[derive(Debug)]
enum Event {
    Record(Position, Vec<u8>),
    /// Something the operator should know, such as a rotation.
    Note(String),
    /// The input cannot be read; nothing more comes.
    Failed(Fail),
}

/// Sends the records `plan` names and reports on each batch.
pub fn run(client: &Client, plan: &SendPlan, raw: bool) -> Result<ExitCode, Fail> {
    let (tx, rx) = sync_channel(4096);
    let source = plan.file.clone();
    let follow = plan.follow;
    std::thread::Builder::new()
        .name("riposte-send-reader".into())
        .spawn(move || match source {
            Some(path) if follow => follow_file(&path, &tx, POLL),
            Some(path) => match File::open(&path) {
                Ok(file) => read_records(BufReader::new(file), &tx),
                Err(err) => {
                    let message = format!("cannot read `{}`: {err}", path.display());
                    let _ = tx.send(Event::Failed(Fail::usage(message)));
                }
            },
            None => read_records(std::io::stdin().lock(), &tx),
        })
        .map_err(|err| Fail::request(format!("cannot start the reader thread: {err}")))?;

    let mut sender = Sender {
        client,
        plan,
        raw,
        failed: 0,
    };
    consume(&rx, plan.batch, |batch| sender.send(batch))?;
    Ok(if sender.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Records waiting to be sent, and where each came from.
#[derive(Debug, Default)]
struct Batch {
    positions: Vec<Position>,
    body: Vec<u8>,
}

/// Batches the reader's records and hands each batch to `send`.
fn consume(
    rx: &Receiver<Event>,
    size: usize,
    mut send: impl FnMut(&Batch) -> Result<(), Fail>,
) -> Result<(), Fail> {
    let mut batch = Batch::default();
    let mut flush = |batch: &mut Batch| -> Result<(), Fail> {
        if !batch.positions.is_empty() {
            send(batch)?;
            *batch = Batch::default();
        }
        Ok(())
    };
    loop {
        match rx.recv_timeout(FLUSH_AFTER) {
            Ok(Event::Record(position, text)) => {
                batch.positions.push(position);
                batch.body.extend_from_slice(&text);
                batch.body.push(b'\n');
                if batch.positions.len() >= size || batch.body.len() >= MAX_BATCH_BYTES {
                    flush(&mut batch)?;
                }
            }
            Ok(Event::Note(note)) => {
                flush(&mut batch)?;
                eprintln!("note: {note}");
            }
            Ok(Event::Failed(fail)) => {
                flush(&mut batch)?;
                return Err(fail);
            }
            Err(RecvTimeoutError::Timeout) => flush(&mut batch)?,
            Err(RecvTimeoutError::Disconnected) => return flush(&mut batch),
        }
    }
}

struct Sender<'a> {
    client: &'a Client,
    plan: &'a SendPlan,
    raw: bool,
    /// Lines the server reported as failed so far.
    failed: u64,
}

impl Sender<'_> {
    fn send(&mut self, batch: &Batch) -> Result<(), Fail> {
        let mut request =
            ApiRequest::post(self.plan.path).query("format", self.plan.format.as_ref());
        request.body = Some(Body {
            content_type: "application/x-ndjson",
            bytes: batch.body.clone(),
        });
        let call = Call {
            request,
            role: Role::Operator,
            view: View::Record,
            all: false,
        };
        let unsent = || {
            let first = batch.positions.first().copied();
            let last = batch.positions.last().copied();
            match (first, last) {
                (Some(first), Some(last)) => format!("not ingested: {first} to {last}"),
                _ => "not ingested: this batch".into(),
            }
        };
        let response = self
            .client
            .send(&call.request)
            .map_err(|fail| fail.detail(unsent()))?;
        let report = super::output::answer(self.client, &call, &response)
            .map_err(|fail| fail.detail(unsent()))?;

        let count = |field: &str| report[field].as_u64().unwrap_or(0);
        self.failed += count("failed");
        if self.raw {
            println!("{report}");
            return Ok(());
        }
        println!(
            "sent {}: ingested {}, duplicates {}, skipped {}, failed {}",
            batch.positions.len(),
            count("ingested"),
            count("duplicates"),
            count("skipped"),
            count("failed")
        );
        for result in report["results"].as_array().into_iter().flatten() {
            let (reason, prefix) = match (result.get("error"), result.get("skipped")) {
                (Some(error), _) => (error, ""),
                (None, Some(skipped)) => (skipped, "skipped: "),
                (None, None) => continue,
            };
            let position = result["line"]
                .as_u64()
                .and_then(|line| usize::try_from(line).ok())
                .and_then(|line| line.checked_sub(1))
                .and_then(|index| batch.positions.get(index));
            let reason = super::render::scalar(reason);
            match position {
                Some(position) => println!("  {position}: {prefix}{reason}"),
                None => println!(
                    "  {}: {prefix}{reason}",
                    super::render::scalar(&result["line"])
                ),
            }
        }
        Ok(())
    }
}

/// Reads JSON lines, or one JSON document (an object, or an array of
/// them), until the input ends.
///
/// The input is JSON lines unless its first non-blank line is not a JSON
/// value by itself; then the whole input is read as one document, and if
/// that fails too, as JSON lines again so the daemon reports each bad
/// line.
fn read_records(mut input: impl BufRead, tx: &SyncSender<Event>) {
    let mut number = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => number += 1,
            Err(err) => {
                let _ = tx.send(Event::Failed(Fail::usage(format!(
                    "cannot read the input after line {number}: {err}"
                ))));
                return;
            }
        }
        let text = trim_line(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let first_is_document = text.starts_with(b"[")
            || serde_json::from_slice::<serde::de::IgnoredAny>(text).is_err();
        if first_is_document {
            let mut rest = line.clone();
            if let Err(err) = input.read_to_end(&mut rest) {
                let _ = tx.send(Event::Failed(Fail::usage(format!(
                    "cannot read the input after line {number}: {err}"
                ))));
                return;
            }
            return send_document(&rest, number, tx);
        }
        if tx
            .send(Event::Record(Position::Line(number), text.to_vec()))
            .is_err()
        {
            return;
        }
    }
}

/// Sends `text`, which starts at line `first_line`, as one document, or
/// as lines when it is not one.
fn send_document(text: &[u8], first_line: u64, tx: &SyncSender<Event>) {
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Array(records)) => {
            for (i, record) in (1..).zip(records) {
                let event = Event::Record(Position::Record(i), record.to_string().into_bytes());
                if tx.send(event).is_err() {
                    return;
                }
            }
        }
        Ok(record) => {
            let _ = tx.send(Event::Record(
                Position::Line(first_line),
                record.to_string().into_bytes(),
            ));
        }
        Err(_) => {
            for (number, line) in (first_line..).zip(text.split(|b| *b == b'\n')) {
                let line = trim_line(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if tx
                    .send(Event::Record(Position::Line(number), line.to_vec()))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// A line without its `\n` or `\r\n`.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Which file a path names now: device and inode.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// A file being followed: the open handle, which file it is, how far it
/// has been read, and the unterminated tail of its last read.
struct Followed {
    file: File,
    identity: (u64, u64),
    offset: u64,
    partial: Vec<u8>,
    line: u64,
}

impl Followed {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let identity = identity(&file.metadata()?);
        Ok(Self {
            file,
            identity,
            offset: 0,
            partial: Vec::new(),
            line: 0,
        })
    }

    /// Reads what was appended since the last call and sends each
    /// complete line. Returns whether anything was read, or `None` when
    /// the receiver is gone.
    fn drain(&mut self, tx: &SyncSender<Event>) -> std::io::Result<Option<bool>> {
        let mut chunk = Vec::new();
        self.file.read_to_end(&mut chunk)?;
        if chunk.is_empty() {
            return Ok(Some(false));
        }
        self.offset += chunk.len() as u64;
        self.partial.extend_from_slice(&chunk);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if !self.emit(&line, tx) {
                return Ok(None);
            }
        }
        Ok(Some(true))
    }

    /// Sends one line (blank lines are counted, not sent). False when the
    /// receiver is gone.
    fn emit(&mut self, line: &[u8], tx: &SyncSender<Event>) -> bool {
        self.line += 1;
        let text = trim_line(line);
        if text.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        tx.send(Event::Record(Position::Line(self.line), text.to_vec()))
            .is_ok()
    }

    /// Starts over from the beginning of the same file.
    fn rewind(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.offset = 0;
        self.partial.clear();
        self.line = 0;
        Ok(())
    }
}

/// Follows `path` like `tail -F` from its first line: sends lines as they
/// are appended; starts over when the file shrinks (truncation); when the
/// path names a new file (rotation), finishes the old one, then reads the
/// new one from its start. Runs until the receiver is gone.
fn follow_file(path: &PathBuf, tx: &SyncSender<Event>, poll: Duration) {
    let fail = |what: String| {
        let _ = tx.send(Event::Failed(Fail::request(what)));
    };
    let mut followed = match Followed::open(path) {
        Ok(followed) => followed,
        Err(err) => {
            let _ = tx.send(Event::Failed(Fail::usage(format!(
                "cannot read `{}`: {err}",
                path.display()
            ))));
            return;
        }
    };
    loop {
        match followed.drain(tx) {
            Ok(Some(true)) => continue,
            Ok(Some(false)) => {}
            Ok(None) => return,
            Err(err) => return fail(format!("cannot read `{}`: {err}", path.display())),
        }

        // At the end of what is there: has the path changed under us?
        match std::fs::metadata(path) {
            Ok(meta) if identity(&meta) != followed.identity => {
                // Rotated: read what the writer added to the old file
                // before it moved, and its last line even if unterminated.
                match followed.drain(tx) {
                    Ok(None) => return,
                    Ok(Some(_)) => {}
                    Err(err) => return fail(format!("cannot read `{}`: {err}", path.display())),
                }
                let tail = std::mem::take(&mut followed.partial);
                if !tail.is_empty() && !followed.emit(&tail, tx) {
                    return;
                }
                match Followed::open(path) {
                    Ok(next) => followed = next,
                    // Gone again between the check and the open: retry.
                    Err(_) => {
                        std::thread::sleep(poll);
                        continue;
                    }
                }
                let note = format!("`{}` was replaced; reading the new file", path.display());
                if tx.send(Event::Note(note)).is_err() {
                    return;
                }
                continue;
            }
            Ok(meta) if meta.len() < followed.offset => {
                if let Err(err) = followed.rewind() {
                    return fail(format!("cannot read `{}`: {err}", path.display()));
                }
                let note = format!(
                    "`{}` was truncated; reading it from the start",
                    path.display()
                );
                if tx.send(Event::Note(note)).is_err() {
                    return;
                }
                continue;
            }
            // Unchanged, or moved away with no successor yet: keep the
            // open handle and look again.
            _ => {}
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn records(input: &str) -> Vec<(Position, String)> {
        let (tx, rx) = sync_channel(1024);
        read_records(input.as_bytes(), &tx);
        drop(tx);
        rx.iter()
            .map(|event| match event {
                Event::Record(position, text) => (position, String::from_utf8(text).unwrap()),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn json_lines_keep_their_line_numbers() {
        let got = records("{\"a\":1}\n\n  \n{\"a\":2}\r\nnot json\n{\"a\":3}");
        assert_eq!(
            got,
            vec![
                (Position::Line(1), "{\"a\":1}".into()),
                (Position::Line(4), "{\"a\":2}".into()),
                (Position::Line(5), "not json".into()),
                (Position::Line(6), "{\"a\":3}".into()),
            ]
        );
    }

    #[test]
    fn one_document_is_one_record_or_an_array_of_them() {
        let got = records("\n{\n  \"a\": 1,\n  \"b\": [2]\n}\n");
        assert_eq!(got, vec![(Position::Line(2), "{\"a\":1,\"b\":[2]}".into())]);

        let got = records("[{\"a\": 1},\n {\"a\": 2}]");
        assert_eq!(
            got,
            vec![
                (Position::Record(1), "{\"a\":1}".into()),
                (Position::Record(2), "{\"a\":2}".into()),
            ]
        );

        // Neither a document nor clean lines: lines, for the daemon to judge.
        let got = records("{broken\n{\"a\":1}\n");
        assert_eq!(
            got,
            vec![
                (Position::Line(1), "{broken".into()),
                (Position::Line(2), "{\"a\":1}".into()),
            ]
        );
    }

    #[test]
    fn batches_fill_then_flush_on_a_pause_and_at_the_end() {
        let (tx, rx) = sync_channel(16);
        let producer = std::thread::spawn(move || {
            for n in 1..=5 {
                tx.send(Event::Record(Position::Line(n), b"{}".to_vec()))
                    .unwrap();
            }
            std::thread::sleep(FLUSH_AFTER * 3);
            tx.send(Event::Record(Position::Line(6), b"{}".to_vec()))
                .unwrap();
        });
        let mut batches = Vec::new();
        consume(&rx, 2, |batch| {
            batches.push(batch.positions.clone());
            Ok(())
        })
        .unwrap();
        producer.join().unwrap();
        let lines = |ns: &[u64]| ns.iter().map(|n| Position::Line(*n)).collect::<Vec<_>>();
        assert_eq!(
            batches,
            vec![lines(&[1, 2]), lines(&[3, 4]), lines(&[5]), lines(&[6])]
        );
    }

    #[test]
    fn a_followed_file_is_read_across_truncation_and_rotation() {
        let dir = std::env::temp_dir().join(format!(
            "riposte-cli-follow-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.jsonl");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}\n{\"n\":3").unwrap();

        let (tx, rx) = sync_channel(64);
        let followed = path.clone();
        std::thread::spawn(move || follow_file(&followed, &tx, Duration::from_millis(20)));
        let next = || loop {
            match rx.recv_timeout(Duration::from_secs(5)).expect("an event") {
                Event::Record(position, text) => {
                    return (position, String::from_utf8(text).unwrap());
                }
                Event::Note(_) => {}
                Event::Failed(fail) => panic!("{fail}"),
            }
        };

        assert_eq!(next(), (Position::Line(1), "{\"n\":1}".into()));
        assert_eq!(next(), (Position::Line(2), "{\"n\":2}".into()));
        // The unterminated third line waits for its newline.
        std::thread::sleep(Duration::from_millis(100));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"}\n").unwrap();
        assert_eq!(next(), (Position::Line(3), "{\"n\":3}".into()));

        // Truncated, then rewritten shorter: read from the start.
        std::fs::write(&path, "").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(&path, "{\"n\":4}\n").unwrap();
        assert_eq!(next(), (Position::Line(1), "{\"n\":4}".into()));

        // Rotated: the old file's last words, then the new file.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"n\":5}").unwrap();
        std::fs::rename(&path, dir.join("alerts.jsonl.1")).unwrap();
        std::fs::write(&path, "{\"n\":6}\n").unwrap();
        assert_eq!(next(), (Position::Line(2), "{\"n\":5}".into()));
        assert_eq!(next(), (Position::Line(1), "{\"n\":6}".into()));
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
